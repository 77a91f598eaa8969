"""Cell values of exported rosters, normalized to what the forms' validators expect.

Spreadsheets store 学号 as floats (2026030215.0), long numbers in scientific notation,
dates as Excel date cells or as any of 2007/5/16, 20070516, 2007年5月16日, and months as
2026.09 or 202609. Each is turned into the form's format (digits, ISO date, ``YYYY-MM``)
here; whatever cannot be read is passed on unchanged so the validator's message names it.
What cannot be repaired (an ID number Excel has rounded) is a :class:`CellProblem`.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

# Excel keeps 15 significant digits; beyond 2**53 a float is not even an exact integer.
_EXACT_FLOAT_LIMIT = 10**15
DIGIT_KEYS = frozenset({"student_no", "exam_no", "id_number", "phone", "grade",
                        "duration_years"})
_SCIENTIFIC = re.compile(r"^([+-]?)(\d+)(?:\.(\d+))?[eE]\+?(\d+)$")
_EXCEL_TEXT = re.compile(r'^="(.*)"$')
_DATE_PATTERNS = (
    re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2})?)?$"),
    re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日?$"),
    re.compile(r"^(\d{4})(\d{2})(\d{2})$"),
)
_MONTH_PATTERNS = (
    re.compile(r"^(\d{4})[-/.](\d{1,2})(?:[-/.]\d{1,2})?(?:[ T][\d:]+)?$"),
    re.compile(r"^(\d{4})年(\d{1,2})月(?:\d{1,2}日)?$"),
    re.compile(r"^(\d{4})(\d{2})$"),
)
_GENDER = {"男性": "男", "女性": "女"}


@dataclass(frozen=True)
class CellProblem:
    """A value the import cannot repair; reported against its cell."""

    code: str
    message: str


def _digits_from_float(key: str, label: str, value: float) -> str | CellProblem:
    if key == "id_number":
        # 18 digits never survive as a number: Excel keeps 15 and zeroes the rest.
        return CellProblem("precision_lost",
                           f"{label}被Excel存成了数字，后几位已丢失；请把该列设为“文本”格式，"
                           "重新填入后再导出")
    if value.is_integer() and abs(value) < _EXACT_FLOAT_LIMIT:
        return str(int(value))
    if value.is_integer():
        return CellProblem("precision_lost",
                           f"{label}被存成了数字，超过15位的部分已丢失；请把该列设为“文本”格式")
    return repr(value)


def _digits_from_scientific(key: str, label: str, text: str) -> str | CellProblem | None:
    m = _SCIENTIFIC.match(text)
    if not m:
        return None
    sign, frac, exp = m[1], m[3] or "", int(m[4])
    try:
        number = Decimal(text)
    except InvalidOperation:  # pragma: no cover - the regex admits only valid numbers
        return None
    if sign == "-" or number != number.to_integral_value():
        return None
    digits = str(int(number))
    # 2.63101E+13 keeps 6 of 14 digits: the exponent padded zeros the file never held.
    if key == "id_number" or exp > len(frac):
        return CellProblem("precision_lost",
                           f"{label}以科学计数法保存（{text[:20]}），末尾数字已丢失；"
                           "请把该列设为“文本”格式后重新导出")
    return digits


def _iso_date(text: str) -> str | None:
    for pattern in _DATE_PATTERNS:
        m = pattern.match(text)
        if m:
            try:
                return dt.date(int(m[1]), int(m[2]), int(m[3])).isoformat()
            except ValueError:
                return None
    return None


def _iso_month(text: str, label: str) -> str | CellProblem | None:
    for pattern in _MONTH_PATTERNS:
        m = pattern.match(text)
        if m:
            year, month = int(m[1]), int(m[2])
            if pattern is _MONTH_PATTERNS[0] and text.count(".") == 1 and m[2] == "1":
                # 2026.1: typed as January, or 2026.10 shortened by a number format.
                return CellProblem("ambiguous_month",
                                   f"{label}「{text}」有歧义（1月还是10月？），"
                                   "请写成 2026-01 或 2026-10")
            if 1 <= month <= 12:
                return f"{year:04d}-{month:02d}"
            return None
    return None


def normalize(key: str, label: str, raw: Any, *, from_excel: bool = False) -> Any:
    """The value of one cell, ready for :func:`doc_service.forms.validation.validate`.

    Returns the normalized value (str, int or None), or a :class:`CellProblem`.
    """
    if raw is None:
        return None
    if isinstance(raw, dt.datetime):
        raw = raw.date()
    if isinstance(raw, dt.date):
        if key == "enrollment_month":
            return f"{raw:%Y-%m}"
        return raw.isoformat()
    if isinstance(raw, bool):
        return str(raw)
    if isinstance(raw, int):
        raw_text = str(raw)
        if key in ("birth_date",) and len(raw_text) == 8:
            return _iso_date(raw_text) or raw_text
        if key == "enrollment_month" and len(raw_text) == 6:
            return _iso_month(raw_text, label) or raw_text
        if key in ("birth_date", "enrollment_month") and from_excel and 1 <= raw < 2958466:
            return normalize(key, label, _from_excel_serial(raw), from_excel=from_excel)
        return raw_text
    if isinstance(raw, float):
        if key == "enrollment_month":
            # Excel reads 2026.09 as the number 2026.09 (and 2026.10 as 2026.1).
            return _iso_month(repr(raw), label) or repr(raw)
        if key in DIGIT_KEYS:
            return _digits_from_float(key, label, raw)
        if raw.is_integer():
            return normalize(key, label, int(raw), from_excel=from_excel)
        return repr(raw)
    if isinstance(raw, dt.time | dt.timedelta):
        return str(raw)

    text = str(raw).strip()
    if not text:
        return None
    m = _EXCEL_TEXT.match(text)  # ="0123" is how some exports keep leading zeros in CSV
    if m:
        text = m[1].strip()
    if key in DIGIT_KEYS:
        text = unicodedata.normalize("NFKC", text).lstrip("'").strip()
        sci = _digits_from_scientific(key, label, text)
        if sci is not None:
            return sci
        if key in ("student_no", "exam_no", "phone") and re.fullmatch(r"\d+\.0+", text):
            return text.split(".")[0]
        if key == "grade":
            return text.removesuffix("级")
        if key == "duration_years":
            return text.removesuffix("年")
        if key == "id_number":
            return text.upper()
        return text
    if key == "birth_date":
        return _iso_date(unicodedata.normalize("NFKC", text)) or text
    if key == "enrollment_month":
        return _iso_month(unicodedata.normalize("NFKC", text), label) or text
    if key == "gender":
        return _GENDER.get(text, text)
    if key == "ethnicity" and len(text) <= 4 and not text.endswith("族") and text != "其他":
        return text + "族"  # 汉 → 汉族: some systems export the short form
    return text


def _from_excel_serial(serial: int) -> dt.date:
    # Excel's day 1 is 1900-01-01, with the phantom 1900-02-29 (Lotus bug) counted.
    base = dt.date(1899, 12, 31) if serial < 60 else dt.date(1899, 12, 30)
    return base + dt.timedelta(days=serial)
