"""Deadlines in Chinese working days, with the instance's override table.

Wraps :class:`doc_service.calendar.WorkCalendar` (public holidays and make-up
workdays from ``chinese-calendar``) with the corrections stored in
``holiday_overrides`` — how an administrator enters a year the library does
not know yet. A year with an override marked ``complete`` counts as known.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from doc_service.calendar import Deadline, WorkCalendar
from doc_service.calendar.overrides import DayOverride, InMemoryOverrides
from doc_service.storage.models import HolidayOverride

COMPLETE_NOTE = "全年安排已录入"
"""An override row whose note is this marks its whole year as complete."""


def stored_overrides(sessions: sessionmaker[Session]) -> InMemoryOverrides:
    """The override table as the calendar reads it."""
    with sessions() as session:
        rows = list(session.scalars(select(HolidayOverride)))
    days = [DayOverride(r.day, r.is_workday, r.note) for r in rows]
    complete = {r.day.year for r in rows if r.note == COMPLETE_NOTE}
    return InMemoryOverrides(days, complete)


class ServiceCalendar:
    """What the use cases need: a date ``n`` working days on, plus the full answer."""

    def __init__(self, calendar: WorkCalendar) -> None:
        self.calendar = calendar

    def add_working_days(self, start: dt.date, n: int) -> dt.date:
        return self.calendar.add_working_days(start, n).date

    def deadline(self, start: dt.date, n: int) -> Deadline:
        """The :class:`~doc_service.calendar.Deadline`, with its coverage warning."""
        return self.calendar.add_working_days(start, n)

    def is_workday(self, day: dt.date) -> bool:
        return self.calendar.is_workday(day)


def make_calendar(sessions: sessionmaker[Session]) -> ServiceCalendar:
    """The calendar with the override table as it is now (the runtime's calendar source)."""
    return ServiceCalendar(WorkCalendar(stored_overrides(sessions)))


# --- the override table, as the holidays commands edit it --------------------------------


def set_override(sessions: sessionmaker[Session], day: dt.date, *, workday: bool,
                 note: str = "") -> None:
    """Make ``day`` a working day or a holiday, whatever the calendar library says."""
    with sessions.begin() as session:
        session.merge(HolidayOverride(day=day, is_workday=workday, note=note[:60]))


def import_overrides(sessions: sessionmaker[Session], days: list[DayOverride],
                     complete_years: frozenset[int]) -> None:
    """Store ``days`` and mark each of ``complete_years`` as fully entered."""
    with sessions.begin() as session:
        for d in days:
            session.merge(HolidayOverride(day=d.date, is_workday=d.workday, note=d.note[:60]))
        for year in complete_years:
            # A marker row keeps the year "known" even when all its days are ordinary.
            marker = dt.date(year, 1, 1)
            existing = session.get(HolidayOverride, marker)
            if existing is None:
                session.add(HolidayOverride(day=marker, is_workday=False, note=COMPLETE_NOTE))
            elif existing.note != COMPLETE_NOTE:
                existing.note = COMPLETE_NOTE


def list_overrides(sessions: sessionmaker[Session]) -> list[HolidayOverride]:
    """Every override row, by day."""
    with sessions() as session:
        return list(session.scalars(select(HolidayOverride).order_by(HolidayOverride.day)))
