"""Chinese working days for deadlines (pure: no Flask, no SQL).

    >>> cal = WorkCalendar()
    >>> cal.add_working_days(datetime.date(2026, 9, 30), 15).date  # 15 working days after

See :mod:`doc_service.calendar.workdays` for the counting convention and
:mod:`doc_service.calendar.overrides` for the override table.
"""

from __future__ import annotations

from doc_service.calendar.overrides import (
    DayOverride,
    InMemoryOverrides,
    OverrideFileError,
    OverrideSource,
    load_overrides,
    overrides_from_csv,
    overrides_from_json,
)
from doc_service.calendar.workdays import (
    MAX_WORKING_DAYS,
    CalendarCoverage,
    ChineseCalendarSource,
    DayInfo,
    DaySource,
    Deadline,
    OfficialSource,
    WorkCalendar,
    WorkingDayCount,
    coverage_warning,
)

__all__ = [
    "MAX_WORKING_DAYS",
    "CalendarCoverage",
    "ChineseCalendarSource",
    "DayInfo",
    "DayOverride",
    "DaySource",
    "Deadline",
    "InMemoryOverrides",
    "OfficialSource",
    "OverrideFileError",
    "OverrideSource",
    "WorkCalendar",
    "WorkingDayCount",
    "coverage_warning",
    "load_overrides",
    "overrides_from_csv",
    "overrides_from_json",
]
