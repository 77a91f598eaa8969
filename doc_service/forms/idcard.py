"""Resident identity numbers (居民身份证号码) as defined by GB 11643-1999.

18 characters: a 6-digit region code, the birth date (YYYYMMDD), a 3-digit
sequence whose last digit is odd for men and even for women, and an ISO 7064
MOD 11-2 check character (0-9 or X).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_PATTERN = re.compile(r"^\d{17}[\dX]$")
# Province-level codes of GB/T 2260 (the first two digits).
_PROVINCES = frozenset(
    "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 "
    "50 51 52 53 54 61 62 63 64 65 71 81 82 83".split()
)


@dataclass(frozen=True)
class IdNumber:
    """A parsed, checked identity number."""

    value: str
    birth_date: dt.date
    gender: str
    """``男`` or ``女``, from the parity of the 17th digit."""

    @property
    def last6(self) -> str:
        return self.value[-6:]


class IdNumberError(ValueError):
    """Why an identity number is not valid; ``code`` is machine-readable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def check_digit(first17: str) -> str:
    """The GB 11643 check character for the first 17 digits."""
    total = sum(int(c) * w for c, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK[total % 11]


def parse_id_number(raw: str, *, today: dt.date | None = None) -> IdNumber:
    """Normalize and check an identity number, or raise :class:`IdNumberError`."""
    value = raw.strip().upper()
    if len(value) != 18:
        raise IdNumberError("length", "身份证号应为18位")
    if not _PATTERN.match(value):
        raise IdNumberError("format", "身份证号前17位应为数字，最后一位为数字或X")
    if value[:2] not in _PROVINCES:
        raise IdNumberError("region", "身份证号前两位不是有效的省级行政区划代码")
    try:
        born = dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        raise IdNumberError("birth_date", "身份证号中的出生日期不存在") from None
    if born < dt.date(1900, 1, 1) or born > (today or dt.date.today()):
        raise IdNumberError("birth_date", "身份证号中的出生日期不合理")
    expected = check_digit(value[:17])
    if value[17] != expected:
        raise IdNumberError("checksum", "身份证号校验位错误，请核对后重新输入")
    gender = "男" if int(value[16]) % 2 == 1 else "女"
    return IdNumber(value=value, birth_date=born, gender=gender)


def make_id_number(region: str, birth: dt.date, seq: int, gender: str) -> str:
    """Build a valid number (for demo data and tests): ``seq`` 0-99, parity set by gender."""
    digit = seq % 5 * 2 + (1 if gender == "男" else 0)
    first17 = f"{region}{birth:%Y%m%d}{seq // 5 % 100:02d}{digit}"
    return first17 + check_digit(first17)
