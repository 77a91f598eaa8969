"""Working days: the 2026 arrangement, make-up days, the counting convention, fallbacks."""

from __future__ import annotations

import datetime as dt

import pytest

from doc_service.calendar import (
    CalendarCoverage,
    ChineseCalendarSource,
    DayOverride,
    DaySource,
    InMemoryOverrides,
    WorkCalendar,
)

D = dt.date


class LibraryUpTo2026(ChineseCalendarSource):
    """The real library, frozen at 2026, so these tests survive a release that adds 2027."""

    def is_workday(self, day: dt.date) -> bool | None:
        return None if day.year > 2026 else super().is_workday(day)


@pytest.fixture
def cal() -> WorkCalendar:
    return WorkCalendar(official=LibraryUpTo2026())


# The 2026 arrangement as the library has it (国务院办公厅 2025-11-04): National Day
# 10-01..10-07 with 09-20 (Sun) and 10-10 (Sat) worked; Spring Festival 02-15..02-23 with
# 02-14 (Sat) and 02-28 (Sat) worked.
@pytest.mark.parametrize("day", [D(2026, 10, d) for d in range(1, 8)]
                         + [D(2026, 2, d) for d in range(15, 24)]
                         + [D(2026, 1, 1), D(2026, 1, 2), D(2026, 5, 5), D(2026, 9, 25)])
def test_2026_holidays_are_not_workdays(cal: WorkCalendar, day: dt.date) -> None:
    assert not cal.is_workday(day)


@pytest.mark.parametrize("day", [D(2026, 1, 4), D(2026, 2, 14), D(2026, 2, 28), D(2026, 5, 9),
                                 D(2026, 9, 20), D(2026, 10, 10)])
def test_2026_make_up_weekend_days_are_workdays(cal: WorkCalendar, day: dt.date) -> None:
    assert day.weekday() >= 5
    info = cal.day(day)
    assert info.workday and info.source is DaySource.OFFICIAL and info.covered


def test_day_after_national_day_is_an_ordinary_workday(cal: WorkCalendar) -> None:
    assert cal.is_workday(D(2026, 10, 8))


def test_decision_date_is_day_zero_and_not_counted(cal: WorkCalendar) -> None:
    # Monday 2026-03-02 is a workday; one working day later is Tuesday, not Monday itself.
    assert cal.add_working_days(D(2026, 3, 2), 1).date == D(2026, 3, 3)
    assert cal.add_working_days(D(2026, 3, 2), 0).date == D(2026, 3, 2)


def test_deadline_spanning_spring_festival(cal: WorkCalendar) -> None:
    # Fri 02-13: 02-14 (Sat, worked) is day 1, the festival 02-15..02-23 is skipped,
    # 02-28 (Sat, worked) counts.
    assert cal.add_working_days(D(2026, 2, 13), 5).date == D(2026, 2, 27)
    result = cal.add_working_days(D(2026, 2, 13), 15)
    assert result.date == D(2026, 3, 12)
    assert result.coverage is CalendarCoverage.COMPLETE and result.warning is None


def test_deadline_spanning_national_day(cal: WorkCalendar) -> None:
    # Decided 09-30: 10-08 and 10-09 count, then Saturday 10-10 (worked).
    assert cal.add_working_days(D(2026, 9, 30), 3).date == D(2026, 10, 10)


def test_decision_on_a_holiday_counts_from_the_next_workday(cal: WorkCalendar) -> None:
    assert cal.add_working_days(D(2026, 10, 3), 1).date == D(2026, 10, 8)


def test_working_days_between_inverts_add_working_days(cal: WorkCalendar) -> None:
    start = D(2026, 2, 13)
    for n in (1, 5, 15, 30, 120):
        end = cal.add_working_days(start, n).date
        assert cal.working_days_between(start, end).days == n
    assert cal.working_days_between(D(2026, 3, 12), start).days == -15
    assert cal.working_days_between(start, start).days == 0


def test_overdue_from_the_day_after_the_deadline(cal: WorkCalendar) -> None:
    deadline = cal.add_working_days(D(2026, 2, 13), 15)
    assert not deadline.is_overdue(D(2026, 3, 12))
    assert deadline.is_overdue(D(2026, 3, 13))


def test_override_takes_precedence_over_the_library(cal: WorkCalendar) -> None:
    overrides = InMemoryOverrides([
        DayOverride(D(2026, 10, 8), False, "台风停课"),
        DayOverride(D(2026, 10, 3), True, "校庆补班"),
    ])
    cal = WorkCalendar(overrides, official=LibraryUpTo2026())
    assert not cal.is_workday(D(2026, 10, 8))
    assert cal.is_workday(D(2026, 10, 3))
    info = cal.day(D(2026, 10, 8))
    assert info.source is DaySource.OVERRIDE and info.note == "台风停课"
    assert cal.add_working_days(D(2026, 10, 2), 1).date == D(2026, 10, 3)
    assert cal.add_working_days(D(2026, 10, 3), 1).date == D(2026, 10, 9)


def test_unknown_year_falls_back_to_weekdays_and_is_flagged(cal: WorkCalendar) -> None:
    result = cal.add_working_days(D(2026, 12, 25), 10)
    # 2027-01-01 is a Friday: counted as a workday because no arrangement is known.
    assert result.date == D(2027, 1, 8)
    assert result.uncovered_years == (2027,)
    assert result.coverage is CalendarCoverage.WEEKDAYS_ONLY
    assert result.warning == "2027年节假日安排尚未录入，按周一至周五计算"
    info = cal.day(D(2027, 1, 1))
    assert info.workday and info.source is DaySource.WEEKDAY and not info.covered
    assert not cal.is_workday(D(2027, 1, 2))
    count = cal.working_days_between(D(2026, 12, 25), D(2027, 1, 8))
    assert count.days == 10 and count.warning is not None


def test_complete_override_year_is_covered(cal: WorkCalendar) -> None:
    overrides = InMemoryOverrides([DayOverride(D(2027, 1, 1), False, "元旦")],
                                  complete_years=[2027])
    cal = WorkCalendar(overrides, official=LibraryUpTo2026())
    result = cal.add_working_days(D(2026, 12, 25), 10)
    assert result.date == D(2027, 1, 11)
    assert result.coverage is CalendarCoverage.COMPLETE and result.warning is None


def test_single_override_does_not_make_a_year_covered(cal: WorkCalendar) -> None:
    cal = WorkCalendar(InMemoryOverrides([DayOverride(D(2027, 1, 1), False, "元旦")]),
                       official=LibraryUpTo2026())
    result = cal.add_working_days(D(2026, 12, 25), 10)
    assert result.date == D(2027, 1, 11)
    assert result.uncovered_years == (2027,)


def test_real_library_unknown_year_is_flagged() -> None:
    result = WorkCalendar().add_working_days(D(2099, 3, 2), 5)
    assert result.uncovered_years == (2099,)
    assert result.date == D(2099, 3, 9)


def test_warning_lists_every_uncovered_year(cal: WorkCalendar) -> None:
    result = cal.working_days_between(D(2026, 6, 1), D(2028, 6, 1))
    assert result.uncovered_years == (2027, 2028)
    assert result.warning == "2027、2028年节假日安排尚未录入，按周一至周五计算"


@pytest.mark.parametrize("start", [dt.datetime(2026, 3, 2, 9, 0), "2026-03-02", None, 20260302])
def test_start_must_be_a_plain_date(cal: WorkCalendar, start: object) -> None:
    with pytest.raises(TypeError):
        cal.add_working_days(start, 1)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        cal.is_workday(start)  # type: ignore[arg-type]


@pytest.mark.parametrize("n, error", [(-1, ValueError), (100_000, ValueError),
                                      (True, TypeError), (1.5, TypeError), ("15", TypeError)])
def test_invalid_working_day_counts(cal: WorkCalendar, n: object,
                                    error: type[Exception]) -> None:
    with pytest.raises(error):
        cal.add_working_days(D(2026, 3, 2), n)  # type: ignore[arg-type]


def test_absurd_span_is_refused(cal: WorkCalendar) -> None:
    with pytest.raises(ValueError):
        cal.working_days_between(D(1900, 1, 1), D(2099, 1, 1))
