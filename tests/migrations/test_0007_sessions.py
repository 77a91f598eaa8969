"""Revision 0007 on a database from before it: accounts keep their rows at session version 0,
and the identity counters, now per (code, client address), start empty."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, inspect, text

from doc_service.db import make_engine
from doc_service.migrations import upgrade
from tests.conftest import database_for_tests


@pytest.fixture
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    urls = database_for_tests(tmp_path_factory, "m0007")
    engine = make_engine(next(urls))
    try:
        yield engine
    finally:
        engine.dispose()
        next(urls, None)


def test_0007_keeps_the_accounts_and_resets_the_identity_counters(database: Engine) -> None:
    upgrade(database, "0006")
    with database.begin() as conn:
        conn.execute(text("INSERT INTO users (id, username, name, role, password_hash, active, "
                          "created_at) VALUES (1, 'u1', '某人', 'issuer', '!', true, "
                          "CURRENT_TIMESTAMP)"))
        conn.execute(text("INSERT INTO identity_locks (code, failures) VALUES ('ABC', 3)"))
    upgrade(database, "0007")
    with database.connect() as conn:
        assert conn.execute(text("SELECT session_version FROM users")).scalar() == 0
        assert conn.execute(text("SELECT count(*) FROM identity_locks")).scalar() == 0
    key = inspect(database).get_pk_constraint("identity_locks")["constrained_columns"]
    assert key == ["code", "client"]
