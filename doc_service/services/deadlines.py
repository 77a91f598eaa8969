"""Deadlines in Chinese working days, with the instance's override table.

Wraps :mod:`doc_service.calendar` (public holidays and make-up workdays from
``chinese-calendar``) with corrections stored in ``holiday_overrides`` for
years the library does not know yet.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select


def load_overrides(rt: Any) -> dict[dt.date, bool]:
    from doc_service.storage.models import HolidayOverride

    with rt.sessions() as session:
        return {o.day: o.is_workday for o in session.scalars(select(HolidayOverride))}


class _SimpleCalendar:
    """Fallback used until doc_service.calendar is available: library + overrides."""

    def __init__(self, overrides: dict[dt.date, bool]) -> None:
        self.overrides = overrides

    def is_workday(self, day: dt.date) -> bool:
        if day in self.overrides:
            return self.overrides[day]
        try:
            import chinese_calendar

            return bool(chinese_calendar.is_workday(day))
        except NotImplementedError:
            return day.weekday() < 5

    def add_working_days(self, start: dt.date, n: int) -> dt.date:
        day, left = start, n
        while left > 0:
            day += dt.timedelta(days=1)
            if self.is_workday(day):
                left -= 1
        return day


def make_calendar(rt: Any) -> Any:
    return _SimpleCalendar(load_overrides(rt))
