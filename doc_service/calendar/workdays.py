"""Chinese working days, for deadlines such as "在做出决定后15个工作日内在学信网上标注".

Where a day's status comes from, first match wins:

1. the override table (:mod:`doc_service.calendar.overrides`);
2. the official arrangement in the ``chinese_calendar`` library (2004 up to its last
   release's year; it raises ``NotImplementedError`` beyond);
3. Monday to Friday. A year decided this way is *not covered*: every result that touched
   it says so (:attr:`Deadline.coverage`, :attr:`Deadline.warning`) so that the page can
   tell staff "2027年节假日安排尚未录入，按周一至周五计算" instead of a silently wrong date.

A year counts as covered when the library knows it or the override table declares it
complete (the whole State Council notice has been entered).

Counting convention (:meth:`WorkCalendar.add_working_days`): the decision date is day 0
and never counts, even when it is a working day; counting starts the next day. "Within
15 working days of the decision" therefore ends on the 15th working day *after* the
decision date, and that day is still on time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Protocol

import chinese_calendar

from doc_service.calendar.overrides import NO_OVERRIDES, OverrideSource

# A bound on one computation: deadlines are weeks, not decades, and a typo (15000 for 15)
# must not make a request loop for seconds.
MAX_WORKING_DAYS = 5000
MAX_SPAN_DAYS = 366 * 30
_ONE_DAY = dt.timedelta(days=1)


class DaySource(StrEnum):
    """Which source decided a date's status."""

    OVERRIDE = "override"
    OFFICIAL = "official"
    """The ``chinese_calendar`` library's copy of the State Council arrangement."""
    WEEKDAY = "weekday"
    """Monday to Friday; for a covered year, a date that no arrangement mentions."""


class CalendarCoverage(StrEnum):
    """Whether a result rests on the official arrangement for every year it touched."""

    COMPLETE = "complete"
    WEEKDAYS_ONLY = "weekdays_only"
    """At least one year is unknown: its days were counted Monday to Friday."""


def coverage_warning(years: Iterable[int]) -> str | None:
    """The sentence shown to staff when results rest on Monday-to-Friday counting."""
    ys = sorted(set(years))
    if not ys:
        return None
    return f"{'、'.join(str(y) for y in ys)}年节假日安排尚未录入，按周一至周五计算"


@dataclass(frozen=True)
class DayInfo:
    """One date's status and why."""

    date: dt.date
    workday: bool
    source: DaySource
    covered: bool
    """False when the year is unknown to every source (Monday-to-Friday guess)."""
    note: str = ""


@dataclass(frozen=True)
class Deadline:
    """The result of :meth:`WorkCalendar.add_working_days`."""

    start: dt.date
    """The decision date (day 0, not counted)."""
    working_days: int
    date: dt.date
    """The last day that is still on time."""
    uncovered_years: tuple[int, ...] = ()
    """Years counted Monday to Friday because no source knows their holidays."""

    @property
    def coverage(self) -> CalendarCoverage:
        return (CalendarCoverage.WEEKDAYS_ONLY if self.uncovered_years
                else CalendarCoverage.COMPLETE)

    @property
    def warning(self) -> str | None:
        return coverage_warning(self.uncovered_years)

    def is_overdue(self, today: dt.date) -> bool:
        """True from the first day after :attr:`date`."""
        return _check_date(today, "today") > self.date


@dataclass(frozen=True)
class WorkingDayCount:
    """The result of :meth:`WorkCalendar.working_days_between`."""

    start: dt.date
    end: dt.date
    days: int
    """Working days ``d`` with ``start < d <= end``; negative when ``end < start``."""
    uncovered_years: tuple[int, ...] = ()

    @property
    def coverage(self) -> CalendarCoverage:
        return (CalendarCoverage.WEEKDAYS_ONLY if self.uncovered_years
                else CalendarCoverage.COMPLETE)

    @property
    def warning(self) -> str | None:
        return coverage_warning(self.uncovered_years)


class OfficialSource(Protocol):
    """The library of official arrangements; :class:`ChineseCalendarSource` in production."""

    def is_workday(self, day: dt.date) -> bool | None:
        """The official status, or None when the source does not know that year."""
        ...


class ChineseCalendarSource:
    """:class:`OfficialSource` backed by the ``chinese_calendar`` package."""

    def is_workday(self, day: dt.date) -> bool | None:
        if not _library_knows(day.year):
            return None
        return bool(chinese_calendar.is_workday(day))

    def holiday_name(self, day: dt.date) -> str:
        if not _library_knows(day.year):
            return ""
        _, name = chinese_calendar.get_holiday_detail(day)
        return name or ""


@lru_cache(maxsize=256)
def _library_knows(year: int) -> bool:
    try:
        chinese_calendar.is_workday(dt.date(year, 6, 1))
    except NotImplementedError:
        return False
    return True


def _check_date(value: object, name: str) -> dt.date:
    # datetime is a subclass of date; a deadline counted from a timestamp would silently
    # depend on its time zone, so callers convert explicitly.
    if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
        raise TypeError(f"{name} must be a datetime.date, not {type(value).__name__}")
    return value


class WorkCalendar:
    """Chinese working days: official arrangement, overrides first, Monday-Friday last."""

    def __init__(self, overrides: OverrideSource = NO_OVERRIDES,
                 official: OfficialSource | None = None) -> None:
        self._overrides = overrides
        self._official: OfficialSource = official or ChineseCalendarSource()

    def year_covered(self, year: int) -> bool:
        """True when the official arrangement of ``year`` is known to some source."""
        if year in self._overrides.complete_years():
            return True
        return self._official.is_workday(dt.date(year, 6, 1)) is not None

    def day(self, day: dt.date) -> DayInfo:
        """The status of ``day`` with its source."""
        day = _check_date(day, "day")
        covered = self.year_covered(day.year)
        o = self._overrides.get(day)
        if o is not None:
            return DayInfo(day, o.workday, DaySource.OVERRIDE, covered, o.note)
        official = self._official.is_workday(day)
        if official is not None:
            name = ""
            if isinstance(self._official, ChineseCalendarSource):
                name = self._official.holiday_name(day)
            return DayInfo(day, official, DaySource.OFFICIAL, True, name)
        return DayInfo(day, day.weekday() < 5, DaySource.WEEKDAY, covered)

    def is_workday(self, day: dt.date) -> bool:
        """Whether ``day`` is a working day (see :meth:`day` for the source and coverage)."""
        day = _check_date(day, "day")
        o = self._overrides.get(day)
        if o is not None:
            return o.workday
        official = self._official.is_workday(day)
        return day.weekday() < 5 if official is None else official

    def add_working_days(self, start: dt.date, n: int) -> Deadline:
        """The ``n``-th working day after ``start`` (day 0, not counted).

        ``n == 0`` gives ``start`` itself. A decision taken on Friday 2026-09-25 (a
        holiday) with ``n=1`` ends on the next working day after it.
        """
        start = _check_date(start, "start")
        if isinstance(n, bool) or not isinstance(n, int):
            raise TypeError(f"n must be an int, not {type(n).__name__}")
        if not 0 <= n <= MAX_WORKING_DAYS:
            raise ValueError(f"n must be between 0 and {MAX_WORKING_DAYS}, got {n}")
        day, counted = start, 0
        years = {start.year}
        while counted < n:
            day += _ONE_DAY
            years.add(day.year)
            if self.is_workday(day):
                counted += 1
        return Deadline(start, n, day, self._uncovered(years))

    def working_days_between(self, start: dt.date, end: dt.date) -> WorkingDayCount:
        """Working days after ``start`` up to and including ``end`` (same convention).

        ``working_days_between(d, add_working_days(d, n).date).days == n`` for ``n > 0``.
        """
        start, end = _check_date(start, "start"), _check_date(end, "end")
        lo, hi, sign = (start, end, 1) if start <= end else (end, start, -1)
        if (hi - lo).days > MAX_SPAN_DAYS:
            raise ValueError(f"span of {(hi - lo).days} days exceeds {MAX_SPAN_DAYS}")
        count, day = 0, lo
        while day < hi:
            day += _ONE_DAY
            if self.is_workday(day):
                count += 1
        years = set(range(lo.year, hi.year + 1)) if lo != hi else set()
        return WorkingDayCount(start, end, sign * count, self._uncovered(years))

    def _uncovered(self, years: Iterable[int]) -> tuple[int, ...]:
        return tuple(sorted(y for y in set(years) if not self.year_covered(y)))
