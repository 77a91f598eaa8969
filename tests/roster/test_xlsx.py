"""XLSX rosters: Excel's own types (float 学号, date cells), merged cells, header problems."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from doc_service.roster import parse_roster
from doc_service.roster.parse import check_sheets
from doc_service.roster.readers import open_sheets


def excel_typed_row(s: dict[str, Any]) -> list[Any]:
    """A row as Excel stores it when nobody set the columns to text."""
    return [float(s["学号"]), s["姓名"], s["性别"], s["身份证号"], float(s["考生号"]), s["民族"],
            s["院系"], s["专业"], s["班号"], dt.datetime.fromisoformat(s["出生日期"]),
            2026.09, 4, s["层次"], s["学习形式"], float(s["联系电话"])]


def test_excel_typed_cells_are_normalized(make_xlsx: Callable[..., Path], kit: Any) -> None:
    students = [kit.student(i) for i in range(5)]
    report = parse_roster(make_xlsx([excel_typed_row(s) for s in students]))
    assert report.fatal is None and report.format == "xlsx"
    assert report.valid_count == 5, [r.errors for r in report.rows]
    data = report.rows[1].data
    assert data["student_no"] == students[1]["学号"]  # not "2026000001.0"
    assert data["exam_no"] == students[1]["考生号"]
    assert data["birth_date"] == students[1]["出生日期"]
    assert data["enrollment_month"] == "2026-09"
    assert data["phone"] == students[1]["联系电话"]
    assert data["duration_years"] == 4


def test_birth_date_as_excel_serial_and_yyyymmdd_number(make_xlsx: Callable[..., Path],
                                                        kit: Any) -> None:
    a, b = kit.student(100), kit.student(101)  # born 2007-01-02
    row_a, row_b = excel_typed_row(a), excel_typed_row(b)
    row_a[9] = 39084  # Excel's serial for 2007-01-02
    row_b[9] = 20070102
    report = parse_roster(make_xlsx([row_a, row_b]))
    assert [r.data["birth_date"] for r in report.rows] == ["2007-01-02", "2007-01-02"]
    assert report.valid_count == 2


def test_id_number_mangled_into_a_float_is_explained(make_xlsx: Callable[..., Path],
                                                     kit: Any) -> None:
    s = kit.student(1)
    row = excel_typed_row(s)
    row[3] = float(s["身份证号"][:17] + "0")
    (error,) = parse_roster(make_xlsx([row])).rows[0].errors
    assert (error.column, error.code) == ("D", "precision_lost")
    assert "Excel" in error.message and "文本" in error.message


def test_title_rows_and_merged_title_above_the_header(make_xlsx: Callable[..., Path],
                                                      kit: Any) -> None:
    path = make_xlsx(kit.rows_of([kit.student(1)]), before=[["2026级学生名册"], []],
                     merges=["A1:O1"])
    report = parse_roster(path)
    assert report.fatal is None and report.header_line == 3
    assert report.rows[0].line == 4 and report.rows[0].valid
    assert report.warnings == ()


def test_merged_header_cells_are_fatal(make_xlsx: Callable[..., Path], kit: Any) -> None:
    header = list(kit.HEADER)
    header[4] = None  # the merge's continuation cell
    path = make_xlsx(kit.rows_of([kit.student(1)]), header, merges=["D1:E1"])
    report = parse_roster(path)
    assert report.fatal == "表头存在合并单元格（D1:E1），请取消合并后重新导出"
    assert report.rows == ()


def test_two_row_header_with_vertical_merges_is_fatal(make_xlsx: Callable[..., Path],
                                                      kit: Any) -> None:
    path = make_xlsx(kit.rows_of([kit.student(1)]), before=[kit.HEADER],
                     merges=["A1:A2"])
    assert "表头存在合并单元格（A1:A2）" in (parse_roster(path).fatal or "")


def test_merged_data_cells_are_a_warning(make_xlsx: Callable[..., Path], kit: Any) -> None:
    rows = kit.rows_of([kit.student(i) for i in range(3)])
    report = parse_roster(make_xlsx(rows, merges=["G2:G4"]))
    assert report.fatal is None
    assert len(report.warnings) == 1 and "G2:G4" in report.warnings[0]
    assert [r.valid for r in report.rows] == [True, False, False]
    assert report.rows[1].errors[0].header == "院系"


def test_missing_required_columns_are_named(make_xlsx: Callable[..., Path], kit: Any) -> None:
    header = [h for h in kit.HEADER if h not in ("身份证号", "班号")]
    report = parse_roster(make_xlsx(kit.rows_of([kit.student(1)], header), header))
    assert report.fatal is not None
    assert report.fatal.startswith("缺少必需的列：身份证号、班号")
    assert "证件号码" in report.fatal


def test_two_columns_for_one_field_are_fatal(make_xlsx: Callable[..., Path], kit: Any) -> None:
    header = [*kit.HEADER, "证件号码"]
    report = parse_roster(make_xlsx([], header))
    assert report.fatal is not None and "都是身份证号" in report.fatal


def test_no_header_row_in_the_first_ten_rows(make_xlsx: Callable[..., Path], kit: Any) -> None:
    before = [[f"说明{i}"] for i in range(10)]
    report = parse_roster(make_xlsx(kit.rows_of([kit.student(1)]), before=before))
    assert report.fatal is not None and "没有找到表头" in report.fatal


def test_header_without_data(make_xlsx: Callable[..., Path]) -> None:
    assert parse_roster(make_xlsx([])).fatal == "表头下面没有学生数据"


@pytest.mark.parametrize("count, refused", [(10, False), (11, True)])
def test_row_limit_on_xlsx(make_xlsx: Callable[..., Path], kit: Any, count: int,
                           refused: bool) -> None:
    path = make_xlsx(kit.rows_of([kit.student(i) for i in range(count)]))
    report = parse_roster(path, max_rows=10)
    assert (report.fatal is not None) is refused
    if refused:
        assert "超过10行" in (report.fatal or "")


def test_blank_header_cell_is_suspected_merge_when_ranges_are_unknown(
        make_xlsx: Callable[..., Path], kit: Any) -> None:
    header = list(kit.HEADER)
    header[4] = None
    with make_xlsx(kit.rows_of([kit.student(1)]), header).open("rb") as f:
        roster = open_sheets(f, "roster.xlsx")
        try:
            # Sheets whose merged ranges and row count could not be read from the XML.
            unknown = [dataclasses.replace(s, merged=None, row_upper_bound=None)
                       for s in roster.sheets]
            report = check_sheets(dataclasses.replace(roster, sheets=tuple(unknown)))
        finally:
            roster.close()
    assert report.fatal is not None and "E列为空，可能存在合并单元格" in report.fatal
