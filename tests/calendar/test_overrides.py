"""Override tables: the in-memory source and the JSON/CSV loaders."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from doc_service.calendar import (
    DayOverride,
    InMemoryOverrides,
    OverrideFileError,
    OverrideSource,
    WorkCalendar,
    load_overrides,
)


def test_in_memory_overrides_satisfy_the_protocol() -> None:
    assert isinstance(InMemoryOverrides(), OverrideSource)


def test_load_json(tmp_path: Path) -> None:
    path = tmp_path / "overrides.json"
    path.write_text(json.dumps({
        "complete_years": [2027],
        "days": [{"date": "2027-02-08", "workday": False, "note": "春节"},
                 {"date": "2027-02-20", "workday": True, "note": "春节补班"}],
    }, ensure_ascii=False), encoding="utf-8")
    table = load_overrides(path)
    assert table.get(dt.date(2027, 2, 8)) == DayOverride(dt.date(2027, 2, 8), False, "春节")
    assert table.complete_years() == {2027}
    assert WorkCalendar(table).is_workday(dt.date(2027, 2, 20))


def test_load_csv_with_bom_and_chinese_kinds(tmp_path: Path) -> None:
    path = tmp_path / "overrides.csv"
    path.write_text("date,kind,note\n2027-02-08,放假,春节\n2027-02-20,上班,春节补班\n"
                    "2027,complete,国务院办公厅通知\n", encoding="utf-8-sig")
    table = load_overrides(path)
    assert len(table) == 2
    assert table.get(dt.date(2027, 2, 8)).workday is False  # type: ignore[union-attr]
    assert table.get(dt.date(2027, 2, 20)).workday is True  # type: ignore[union-attr]
    assert table.complete_years() == {2027}


@pytest.mark.parametrize("name, text, fragment", [
    ("bad.csv", "date,kind,note\n2027-02-30,holiday,x\n", "第2行"),
    ("bad.csv", "date,kind,note\n2027-02-08,maybe,x\n", "workday 或 holiday"),
    ("bad.json", "{not json", "不是有效的 JSON"),
    ("bad.json", '{"days": [{"date": "2027-02-08"}]}', "date 和 workday"),
    ("bad.json", '{"complete_years": "2027"}', "complete_years"),
    ("bad.txt", "", ".json 或 .csv"),
])
def test_bad_override_files_are_explained(tmp_path: Path, name: str, text: str,
                                          fragment: str) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(OverrideFileError) as e:
        load_overrides(path)
    assert fragment in e.value.message


def test_contradictory_duplicate_dates_are_refused() -> None:
    day = dt.date(2027, 1, 1)
    with pytest.raises(OverrideFileError):
        InMemoryOverrides([DayOverride(day, False), DayOverride(day, True)])
