from __future__ import annotations

import datetime as dt

import pytest

from doc_service.forms.idcard import IdNumberError, check_digit, make_id_number, parse_id_number


def test_known_valid_number_parses_with_birth_date_and_gender() -> None:
    # The GB 11643-1999 standard's own example number.
    parsed = parse_id_number("11010519491231002x")
    assert parsed.value == "11010519491231002X"
    assert parsed.birth_date == dt.date(1949, 12, 31)
    assert parsed.gender == "女"
    assert parsed.last6 == "31002X"


def test_check_digit_matches_iso7064_mod11_2() -> None:
    assert check_digit("11010519491231002") == "X"
    assert check_digit("44052418800101001") == "4"


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("110105194912310021", "checksum"),
        ("11010519491231002", "length"),
        ("1101051949123100AX", "format"),
        ("99010519491231002X", "region"),
        ("110105194902300020", "birth_date"),
        ("110105299901010020", "birth_date"),
    ],
)
def test_invalid_numbers_are_refused_with_a_reason(raw: str, code: str) -> None:
    with pytest.raises(IdNumberError) as info:
        parse_id_number(raw)
    assert info.value.code == code
    assert info.value.message


@pytest.mark.parametrize("gender", ["男", "女"])
def test_generated_numbers_are_valid_and_carry_gender(gender: str) -> None:
    for seq in range(0, 60, 7):
        number = make_id_number("610113", dt.date(2006, 2, 28), seq, gender)
        assert parse_id_number(number).gender == gender
