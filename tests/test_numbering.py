"""文号 sequences: blocks taken at once are consecutive and never overlap single takes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from doc_service.db import make_engine
from doc_service.numbering import next_number, next_numbers, number_sequences, peek
from tests.conftest import database_for_tests


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The sequences table alone, on SQLite or on PostgreSQL when ``DATABASE_URL`` is set."""
    for url in database_for_tests(tmp_path_factory, "numbering"):
        engine = make_engine(url)
        number_sequences.create(engine)
        yield engine
        engine.dispose()


def test_a_block_follows_the_last_number_and_the_next_follows_the_block(engine: Any) -> None:
    form = "numbering_test_block"
    with engine.begin() as conn:
        assert next_numbers(conn, form, 2031, 5) == 1  # a new sequence starts at 1
        assert peek(conn, form, 2031) == 5
        assert next_number(conn, form, 2031) == 6
        assert next_numbers(conn, form, 2031, 3) == 7
        assert peek(conn, form, 2031) == 9
        assert next_number(conn, form, 2032) == 1  # years are counted apart


def test_a_rolled_back_block_is_given_back(engine: Any) -> None:
    form = "numbering_test_rollback"
    with engine.begin() as conn:
        next_numbers(conn, form, 2031, 2)
    conn = engine.connect()
    trans = conn.begin()
    assert next_numbers(conn, form, 2031, 4) == 3
    trans.rollback()
    conn.close()
    with engine.begin() as conn:
        assert next_numbers(conn, form, 2031, 1) == 3


def test_a_block_needs_a_positive_size(engine: Any) -> None:
    with engine.begin() as conn, pytest.raises(ValueError):
        next_numbers(conn, "numbering_test_zero", 2031, 0)
