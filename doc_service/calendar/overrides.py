"""Working-day overrides: dates whose status differs from what the calendar library says.

An override table serves two purposes. It corrects or extends the ``chinese_calendar``
library for a single date (a school closure, a late-announced make-up day), and it
carries a whole year's official arrangement (国务院办公厅关于XXXX年部分节假日安排的通知)
before a library release knows it. A year is only treated as fully known when the table
declares it *complete*; a lone override in 2027 does not make 2027 known.

The table is reached through the :class:`OverrideSource` protocol so the application can
back it with a database table; :class:`InMemoryOverrides` is the reference implementation
and :func:`load_overrides` reads one from a JSON or CSV file::

    JSON  {"complete_years": [2027],
           "days": [{"date": "2027-02-06", "workday": false, "note": "春节"}, ...]}

    CSV   date,kind,note            (kind: workday/上班/补班 or holiday/放假/休息)
          2027-02-06,holiday,春节
          2027,complete,国办发明电〔2026〕N号   (a bare year with kind "complete")
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from doc_service.errors import DocServiceError


class OverrideFileError(DocServiceError):
    """An override file cannot be read; ``message`` names the line and the problem."""

    code = "calendar_overrides"


@dataclass(frozen=True)
class DayOverride:
    """The status of one date, decided by a person rather than by the library."""

    date: dt.date
    workday: bool
    """True for a (make-up) working day, False for a day off."""
    note: str = ""
    """Why: the holiday's name or the notice it comes from (``春节``, ``台风停课``)."""


@runtime_checkable
class OverrideSource(Protocol):
    """Where :class:`~doc_service.calendar.WorkCalendar` looks first.

    A database-backed implementation should cache per year: ``get`` is called once per
    day counted.
    """

    def get(self, day: dt.date) -> DayOverride | None:
        """The override for ``day``, or None when the usual sources decide."""
        ...

    def complete_years(self) -> frozenset[int]:
        """Years whose whole official arrangement is in this table."""
        ...


class InMemoryOverrides:
    """An :class:`OverrideSource` held in a dict; also the fake for tests."""

    def __init__(self, days: Iterable[DayOverride] = (),
                 complete_years: Iterable[int] = ()) -> None:
        self._days: dict[dt.date, DayOverride] = {}
        for d in days:
            if d.date in self._days and self._days[d.date] != d:
                raise OverrideFileError(f"日期 {d.date.isoformat()} 重复且设置矛盾")
            self._days[d.date] = d
        self._complete = frozenset(int(y) for y in complete_years)

    def get(self, day: dt.date) -> DayOverride | None:
        return self._days.get(day)

    def complete_years(self) -> frozenset[int]:
        return self._complete

    def days(self) -> list[DayOverride]:
        """Every override, in date order."""
        return [self._days[d] for d in sorted(self._days)]

    def __len__(self) -> int:
        return len(self._days)


NO_OVERRIDES = InMemoryOverrides()

_WORKDAY_WORDS = {"workday": True, "work": True, "上班": True, "补班": True, "工作日": True,
                  "holiday": False, "off": False, "放假": False, "休息": False, "节假日": False}
_YEAR = re.compile(r"^\d{4}$")


def _parse_date(text: str, where: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise OverrideFileError(f"{where}：日期「{text[:20]}」应为 YYYY-MM-DD") from None


def _parse_workday(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _WORKDAY_WORDS:
        return _WORKDAY_WORDS[value.strip().lower()]
    raise OverrideFileError(f"{where}：类型「{str(value)[:20]}」应为 workday 或 holiday")


def overrides_from_json(data: Mapping[str, Any]) -> InMemoryOverrides:
    """Build overrides from the JSON structure described in the module docstring."""
    if not isinstance(data, Mapping):
        raise OverrideFileError("节假日调整文件应为 JSON 对象")
    days = []
    for i, entry in enumerate(data.get("days", []), start=1):
        where = f"第{i}项"
        if not isinstance(entry, Mapping) or "date" not in entry or "workday" not in entry:
            raise OverrideFileError(f"{where}：应包含 date 和 workday")
        days.append(DayOverride(_parse_date(str(entry["date"]), where),
                                _parse_workday(entry["workday"], where),
                                str(entry.get("note", ""))))
    years = data.get("complete_years", [])
    if not isinstance(years, list) or not all(isinstance(y, int) for y in years):
        raise OverrideFileError("complete_years 应为年份列表，如 [2027]")
    return InMemoryOverrides(days, years)


def overrides_from_csv(text: str) -> InMemoryOverrides:
    """Build overrides from CSV text with a ``date,kind,note`` header."""
    reader = csv.reader(io.StringIO(text))
    days, years = [], []
    for row in reader:
        if not row or not "".join(row).strip():
            continue
        where = f"第{reader.line_num}行"
        first = row[0].strip().lstrip("\ufeff")
        if first.lower() == "date":
            continue
        kind = row[1].strip() if len(row) > 1 else ""
        note = row[2].strip() if len(row) > 2 else ""
        if _YEAR.match(first) and kind.lower() == "complete":
            years.append(int(first))
            continue
        days.append(DayOverride(_parse_date(first, where), _parse_workday(kind, where), note))
    return InMemoryOverrides(days, years)


def load_overrides(path: str | Path) -> InMemoryOverrides:
    """Read an override table from a ``.json`` or ``.csv`` file (UTF-8, BOM allowed)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise OverrideFileError(f"无法读取节假日调整文件 {p.name}") from e
    if p.suffix.lower() == ".json":
        try:
            return overrides_from_json(json.loads(text))
        except json.JSONDecodeError as e:
            raise OverrideFileError(f"{p.name} 不是有效的 JSON（第{e.lineno}行）") from e
    if p.suffix.lower() == ".csv":
        return overrides_from_csv(text)
    raise OverrideFileError(f"节假日调整文件应为 .json 或 .csv：{p.name}")
