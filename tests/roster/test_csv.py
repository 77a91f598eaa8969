"""CSV rosters: encodings, normalization of cell values, row errors and duplicates."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from doc_service.roster import parse_roster


@pytest.mark.parametrize("encoding, detected", [("utf-8", "utf-8-sig"),
                                                ("utf-8-sig", "utf-8-sig"),
                                                ("gbk", "gb18030"),
                                                ("gb18030", "gb18030")])
def test_csv_in_every_export_encoding_reads_the_same(make_csv: Callable[..., Path], kit: Any,
                                                      encoding: str, detected: str) -> None:
    students = [kit.student(i) for i in range(20)]
    report = parse_roster(make_csv(kit.rows_of(students), encoding=encoding))
    assert report.fatal is None
    assert report.encoding == detected and report.format == "csv"
    assert (report.valid_count, report.error_count) == (20, 0)
    first = report.rows[0]
    assert first.line == 2
    assert first.data["name"] == "学生0" and first.data["college"] == "信息工程学院"
    assert first.data["id_number"] == students[0]["身份证号"]
    assert first.data["duration_years"] == 4 and first.data["enrollment_month"] == "2026-09"


def test_utf16_tab_separated_unicode_text(make_csv: Callable[..., Path], kit: Any) -> None:
    path = make_csv(kit.rows_of([kit.student(1)]), encoding="utf-16", delimiter="\t")
    report = parse_roster(path)
    assert report.fatal is None and report.valid_count == 1


def test_header_after_title_lines_and_header_variants(make_csv: Callable[..., Path],
                                                      kit: Any) -> None:
    header = ["* 学 号", "姓名*", "性别", "证件号码", "所在院系", "班级", "出生日期（YYYY-MM-DD）",
              "入学时间", "手机号", "备注"]
    s = kit.student(3)
    row = [s["学号"], s["姓名"], s["性别"], s["身份证号"], s["院系"], s["班号"], s["出生日期"],
           "2026年9月", s["联系电话"], "转入"]
    before = ["2026级学生名册", "导出时间：2026-09-01"]
    report = parse_roster(make_csv([row], header, before=before))
    assert report.fatal is None, report.fatal
    assert report.header_line == 3
    assert report.header_map["证件号码"] == "id_number"
    assert report.header_map["班级"] == "class_no"
    assert report.header_map["出生日期（YYYY-MM-DD）"] == "birth_date"
    assert report.unknown_headers == ("备注",)
    assert report.rows[0].line == 4 and report.rows[0].valid


def test_wrong_check_digit_is_reported_at_its_cell(make_csv: Callable[..., Path],
                                                   kit: Any) -> None:
    students = [kit.student(i) for i in range(3)]
    bad = kit.corrupt_check_digit(students[1]["身份证号"])
    students[1]["身份证号"] = bad
    report = parse_roster(make_csv(kit.rows_of(students)))
    assert (report.valid_count, report.error_count) == (2, 1)
    row = report.rows[1]
    assert row.line == 3 and not row.valid
    (error,) = row.errors
    assert (error.column, error.header, error.code) == ("D", "身份证号", "checksum")
    assert error.value == bad and "校验位" in error.message


def test_several_errors_in_one_row(make_csv: Callable[..., Path], kit: Any) -> None:
    s = kit.student(2)
    s.update({"性别": "男", "班号": "", "入学年月": "2026-13", "民族": "火星族"})
    report = parse_roster(make_csv(kit.rows_of([s])))
    codes = {e.header: e.code for e in report.rows[0].errors}
    assert codes == {"性别": "id_mismatch", "班号": "required", "入学年月": "month",
                     "民族": "choice"}


def test_duplicate_student_number_flags_both_rows(make_csv: Callable[..., Path],
                                                  kit: Any) -> None:
    a, b = kit.student(1), kit.student(2)
    b["学号"] = a["学号"]
    report = parse_roster(make_csv(kit.rows_of([a, kit.student(5), b])))
    assert [r.valid for r in report.rows] == [False, True, False]
    assert report.rows[2].errors[0].message == "学号与第2行重复"
    assert report.rows[0].errors[0].message == "学号在第4行再次出现"


def test_same_id_number_under_two_student_numbers(make_csv: Callable[..., Path],
                                                  kit: Any) -> None:
    a, b = kit.student(1), kit.student(3)
    b["身份证号"] = a["身份证号"]
    report = parse_roster(make_csv(kit.rows_of([a, b])))
    assert report.error_count == 2
    for row in report.rows:
        assert row.errors[0].code == "duplicate_person"
        assert "一人只能有一个学籍" in row.errors[0].message


@pytest.mark.parametrize("written, iso", [("2007/1/2", "2007-01-02"), ("20070102", "2007-01-02"),
                                          ("2007年1月2日", "2007-01-02"),
                                          ("2007-1-2", "2007-01-02"),
                                          ("2007-01-02 00:00:00", "2007-01-02")])
def test_birth_date_formats(make_csv: Callable[..., Path], kit: Any, written: str,
                            iso: str) -> None:
    s = kit.student(100)  # born 2007-01-02
    s["出生日期"] = written
    report = parse_roster(make_csv(kit.rows_of([s])))
    assert report.rows[0].valid, report.rows[0].errors
    assert report.rows[0].data["birth_date"] == iso


@pytest.mark.parametrize("written, month", [("2026.09", "2026-09"), ("202609", "2026-09"),
                                            ("2026-09", "2026-09"), ("2026年9月", "2026-09"),
                                            ("2026/9", "2026-09"), ("2026.10", "2026-10"),
                                            ("2026-09-01", "2026-09")])
def test_enrollment_month_formats(make_csv: Callable[..., Path], kit: Any, written: str,
                                  month: str) -> None:
    s = kit.student(1)
    s["入学年月"] = written
    report = parse_roster(make_csv(kit.rows_of([s])))
    assert report.rows[0].data["enrollment_month"] == month


def test_month_like_2026_dot_1_is_ambiguous(make_csv: Callable[..., Path], kit: Any) -> None:
    s = kit.student(1)
    s["入学年月"] = "2026.1"
    (error,) = parse_roster(make_csv(kit.rows_of([s]))).rows[0].errors
    assert error.code == "ambiguous_month" and "10月" in error.message


def test_numbers_exported_as_text_are_restored(make_csv: Callable[..., Path], kit: Any) -> None:
    s = kit.student(1)
    s["学号"] = "2026000001.0"
    s["考生号"] = "2.6110101000001E+13"  # all 14 digits present: exact
    s["联系电话"] = '="13800000001"'
    s["学制"] = "4年"
    s["民族"] = "汉"
    row = parse_roster(make_csv(kit.rows_of([s]))).rows[0]
    assert row.valid, row.errors
    assert row.data["student_no"] == "2026000001"
    assert row.data["exam_no"] == "26110101000001"
    assert row.data["phone"] == "13800000001"
    assert row.data["ethnicity"] == "汉族"


@pytest.mark.parametrize("column, written", [("考生号", "2.61101E+13"),
                                             ("身份证号", "1.10101E+17")])
def test_scientific_notation_that_lost_digits_is_an_error(make_csv: Callable[..., Path],
                                                          kit: Any, column: str,
                                                          written: str) -> None:
    s = kit.student(1)
    s[column] = written
    errors = parse_roster(make_csv(kit.rows_of([s]))).rows[0].errors
    assert [(e.header, e.code) for e in errors] == [(column, "precision_lost")]
    assert "文本" in errors[0].message


def test_long_known_cell_is_a_row_error(make_csv: Callable[..., Path], kit: Any) -> None:
    s = kit.student(1)
    s["姓名"] = "名" * 500
    (error,) = parse_roster(make_csv(kit.rows_of([s]))).rows[0].errors
    assert error.code == "too_long" and len(error.value) <= 101


def test_blank_rows_are_skipped_and_line_numbers_kept(make_csv: Callable[..., Path],
                                                      kit: Any) -> None:
    rows = kit.rows_of([kit.student(1)]) + [[""] * 15, [" "] * 15] + kit.rows_of([kit.student(2)])
    report = parse_roster(make_csv(rows))
    assert [r.line for r in report.rows] == [2, 5]


def test_bytes_and_unseekable_streams(make_csv: Callable[..., Path], kit: Any) -> None:
    data = make_csv(kit.rows_of([kit.student(1)]), encoding="gbk").read_bytes()

    class Pipe(io.RawIOBase):
        def __init__(self) -> None:
            self._inner = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def readinto(self, b: Any) -> int:
            chunk = self._inner.read(len(b))
            b[: len(chunk)] = chunk
            return len(chunk)

    assert parse_roster(data).valid_count == 1
    assert parse_roster(Pipe()).valid_count == 1


def test_report_repr_never_shows_personal_data(make_csv: Callable[..., Path], kit: Any) -> None:
    s = kit.student(1)
    s["身份证号"] = kit.corrupt_check_digit(s["身份证号"])
    report = parse_roster(make_csv(kit.rows_of([s])))
    text = repr(report) + repr(report.rows) + repr(report.rows[0].errors)
    assert s["身份证号"] not in text and s["身份证号"][:17] not in text
    assert report.to_dict()["rows"][0]["errors"][0]["value"] == s["身份证号"]
