"""Column headers of exported rosters, mapped to the forms' shared field keys.

Academic systems name the same column differently (身份证号 / 证件号码 / 身份证件号) and
decorate headers with required markers, spaces and full-width characters (``*学 号``,
``出生日期（YYYY-MM-DD）``); :func:`header_key` sees through all of that.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from openpyxl.utils import get_column_letter

ALIASES: dict[str, tuple[str, ...]] = {
    "student_no": ("学号", "学生学号"),
    "name": ("姓名", "学生姓名"),
    "gender": ("性别",),
    "id_number": ("身份证号", "身份证号码", "证件号码", "证件号", "身份证件号", "身份证件号码",
                  "公民身份号码"),
    "exam_no": ("考生号", "高考考生号", "考生编号"),
    "ethnicity": ("民族",),
    "college": ("院系", "学院", "所在院系", "院系名称", "学院名称", "所在学院"),
    "major": ("专业", "专业名称", "所学专业"),
    "class_no": ("班号", "班级", "班级名称", "所在班级", "行政班"),
    "birth_date": ("出生日期", "出生年月日"),
    "enrollment_month": ("入学年月", "入学时间", "入学日期"),
    "school": ("录取院校", "学校名称"),
    "duration_years": ("学制",),
    "level": ("层次", "培养层次", "学历层次"),
    "admission_type": ("录取类型", "入学方式"),
    "study_mode": ("学习形式",),
    "grade": ("年级", "所在年级"),
    "phone": ("联系电话", "手机号", "手机号码", "电话", "手机"),
    "address": ("家庭住址", "通讯地址", "家庭地址"),
}

REQUIRED_KEYS = ("student_no", "name", "gender", "id_number", "college", "class_no")

_BY_NAME = {alias: key for key, names in ALIASES.items() for alias in names}
_NOISE = re.compile(r"[\s*·:：]+")
_BRACKETED = re.compile(r"[(\[【].*?[)\]】]")


def clean_header(text: object) -> str:
    """The header as compared: NFKC (full-width → ASCII), no spaces, no ``*`` markers."""
    if text is None:
        return ""
    s = unicodedata.normalize("NFKC", str(text))
    return _NOISE.sub("", s).replace("必填", "")


def header_key(text: object) -> str | None:
    """The field key for a header cell, or None when the column is not one we know."""
    s = clean_header(text)
    if not s:
        return None
    if s in _BY_NAME:
        return _BY_NAME[s]
    # Notes in brackets: 出生日期(YYYY-MM-DD), 学号【必填】.
    stripped = _BRACKETED.sub("", s)
    return _BY_NAME.get(stripped)


def label(key: str) -> str:
    """The canonical Chinese name of a key (the first alias)."""
    return ALIASES[key][0]


@dataclass(frozen=True)
class Column:
    """One recognized column of the roster."""

    index: int
    """0-based position in the row."""
    key: str
    header: str
    """The header as written in the file."""

    @property
    def letter(self) -> str:
        return get_column_letter(self.index + 1)


def column_letter(index: int) -> str:
    return get_column_letter(index + 1)


def recognized(row: tuple[object, ...]) -> int:
    """How many cells of ``row`` are known headers (to find the header row)."""
    return sum(1 for v in row if header_key(v) is not None)
