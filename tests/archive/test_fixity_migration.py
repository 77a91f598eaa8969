"""Revision 0005 adds the fixity trail to a database migrated before it, write-once, as the
models define it (SQLite, and PostgreSQL when ``DATABASE_URL`` is set)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import DBAPIError

from archive.index import FIXITY_TABLES, metadata
from doc_service.db import make_engine
from doc_service.migrations import upgrade
from tests.conftest import database_for_tests


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """An empty database: SQLite, or the PostgreSQL of ``DATABASE_URL`` in its own schema."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'fixity.db'}")
        yield engine
        engine.dispose()
        return
    if not os.environ.get("DATABASE_URL"):
        pytest.skip("DATABASE_URL is not set")
    urls = database_for_tests(tmp_path_factory, "fixity")
    engine = make_engine(next(urls))
    try:
        yield engine
    finally:
        engine.dispose()
        next(urls, None)


def fixity_diffs(engine: Engine) -> list[object]:
    """What autogenerate would change in the fixity tables to match the models."""
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}),
                                 metadata)

    def names(diff: object) -> set[str]:
        items = diff if isinstance(diff, list) else [diff]
        out = set()
        for d in items:
            for part in d[1:] if isinstance(d, tuple) else ():
                table = getattr(part, "table", None)
                name = getattr(part, "name", None) if table is None else table.name
                if isinstance(part, str):
                    name = part
                out.add(name)
        return out

    return [d for d in diffs if names(d) & set(FIXITY_TABLES)]


def test_0005_creates_the_trail_on_a_database_from_before_it(database: Engine) -> None:
    upgrade(database, "0004")
    with database.begin() as conn:  # a database migrated before this revision existed
        for table in reversed(FIXITY_TABLES):
            conn.execute(text(f"DROP TABLE {table}"))
    assert not set(FIXITY_TABLES) & set(inspect(database).get_table_names())
    missing = [d[1].name for d in fixity_diffs(database) if d[0] == "add_table"]
    assert sorted(missing) == sorted(FIXITY_TABLES)  # the comparison does see these tables
    upgrade(database)
    assert set(FIXITY_TABLES) <= set(inspect(database).get_table_names())
    with database.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0005"
    assert fixity_diffs(database) == []
    with database.begin() as conn:
        conn.execute(text(
            "INSERT INTO archive_fixity_runs (id, started_at, ended_at, run_by, "
            "records_checked, files_checked, bytes_checked, failures, covers_through) "
            "VALUES ('r1', '2026-01-01 00:00:00', '2026-01-01 00:01:00', 'scheduled', "
            "0, 0, 0, 0, 0)"))
    for statement in ("UPDATE archive_fixity_runs SET failures = 1",
                      "DELETE FROM archive_fixity_runs"):
        with pytest.raises(DBAPIError, match="write-once"):
            with database.begin() as conn:
                conn.execute(text(statement))


def test_a_new_database_gets_the_trail_once(database: Engine) -> None:
    upgrade(database)
    upgrade(database)
    assert set(FIXITY_TABLES) <= set(inspect(database).get_table_names())
    assert fixity_diffs(database) == []
