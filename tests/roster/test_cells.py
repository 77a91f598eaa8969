"""Cell normalization on its own: the conversions no spreadsheet writer lets us build."""

from __future__ import annotations

import datetime as dt

import pytest

from doc_service.roster.cells import CellProblem, normalize


@pytest.mark.parametrize("key, raw, expected", [
    ("id_number", 110101200701010015, "110101200701010015"),  # an exact integer cell
    ("id_number", " 11010120070101001x ", "11010120070101001X"),
    ("student_no", 2026030215.0, "2026030215"),
    ("student_no", "２０２６０３０２１５", "2026030215"),
    ("student_no", "'2026030215", "2026030215"),
    ("exam_no", 26110101000001.0, "26110101000001"),
    ("grade", "2026级", "2026"),
    ("grade", 2026.0, "2026"),
    ("enrollment_month", dt.datetime(2026, 9, 1), "2026-09"),
    ("enrollment_month", 202609, "2026-09"),
    ("enrollment_month", 2026.9, "2026-09"),
    ("birth_date", dt.datetime(2007, 5, 16, 0, 0), "2007-05-16"),
    ("birth_date", "2007.5.16", "2007-05-16"),
    ("birth_date", "2007-02-30", "2007-02-30"),  # left for the validator to reject
    ("gender", "女性", "女"),
    ("name", "  张三  ", "张三"),
    ("name", "", None),
    ("name", None, None),
])
def test_normalize(key: str, raw: object, expected: object) -> None:
    assert normalize(key, "列", raw, from_excel=True) == expected


@pytest.mark.parametrize("key, raw, code", [
    ("id_number", 1.10101200701010e17, "precision_lost"),
    ("student_no", 1.2345678901234567e19, "precision_lost"),
    ("exam_no", "2.61101E+13", "precision_lost"),
    ("enrollment_month", 2026.1, "ambiguous_month"),
])
def test_unrepairable_values(key: str, raw: object, code: str) -> None:
    result = normalize(key, "列", raw)
    assert isinstance(result, CellProblem) and result.code == code
