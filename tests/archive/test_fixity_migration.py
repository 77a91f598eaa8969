"""Revisions 0005 (the fixity trail) and 0006 (the runs' starts) add their tables to a database
migrated before them, write-once, as the models define them, and run harmlessly on a
database whose archive tables exist already (made by ``archive.index.install``, as the
archive commands do; SQLite, and PostgreSQL when ``DATABASE_URL`` is set). Each revision
creates only its own tables."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import DBAPIError

from archive.fixity import fixity_runs
from archive.index import FIXITY_START_TABLES, FIXITY_TABLES, INDEX_TABLES, install, metadata
from doc_service.db import make_engine
from doc_service.migrations import alembic_config, upgrade
from tests.conftest import database_for_tests

HEAD = ScriptDirectory.from_config(alembic_config(None)).get_current_head()  # type: ignore[arg-type]
"""The latest revision: later ones run on top of 0005 and must leave the trail as it is."""


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


def fixity_diffs(engine: Engine,
                 tables: tuple[str, ...] = FIXITY_TABLES + FIXITY_START_TABLES) -> list[object]:
    """What autogenerate would change in ``tables`` to match the models."""
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

    return [d for d in diffs if names(d) & set(tables)]


def test_0005_creates_the_trail_on_a_database_from_before_it(database: Engine) -> None:
    upgrade(database, "0004")  # a database migrated before this revision existed
    assert set(INDEX_TABLES) <= set(inspect(database).get_table_names())
    assert not set(FIXITY_TABLES + FIXITY_START_TABLES) & set(inspect(database).get_table_names())
    missing = [d[1].name for d in fixity_diffs(database, FIXITY_TABLES)
               if d[0] == "add_table"]
    assert sorted(missing) == sorted(FIXITY_TABLES)  # the comparison does see these tables
    upgrade(database)
    assert set(FIXITY_TABLES) <= set(inspect(database).get_table_names())
    with database.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == HEAD
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


def refused(database: Engine, *statements: str) -> None:
    """Each statement fails on the write-once trigger."""
    for statement in statements:
        with pytest.raises(DBAPIError, match="write-once"):
            with database.begin() as conn:
                conn.execute(text(statement))


INSERT_START = ("INSERT INTO archive_fixity_run_starts (id, started_at, run_by) "
                "VALUES ('{id}', '2026-02-01 00:00:00', 'wang')")


def test_0006_adds_the_starts_to_a_database_from_before_it(database: Engine) -> None:
    upgrade(database, "0005")  # a database migrated before this revision existed ...
    with database.begin() as conn:
        conn.execute(text(  # ... with a run recorded the old way
            "INSERT INTO archive_fixity_runs (id, started_at, ended_at, run_by, "
            "records_checked, files_checked, bytes_checked, failures, covers_through) "
            "VALUES ('old', '2026-01-01 00:00:00', '2026-01-01 00:01:00', 'scheduled', "
            "0, 0, 0, 0, 0)"))
    assert "archive_fixity_run_starts" not in inspect(database).get_table_names()
    assert [d[1].name for d in fixity_diffs(database, FIXITY_START_TABLES)
            if d[0] == "add_table"] == ["archive_fixity_run_starts"]
    upgrade(database)
    with database.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == HEAD
    assert fixity_diffs(database) == []
    [old] = fixity_runs(database)  # the run from before the starts counts as finished
    assert old.id == "old" and old.finished and old.ok
    with database.begin() as conn:
        conn.execute(text(INSERT_START.format(id="new")))
    assert [(r.id, r.finished) for r in fixity_runs(database)] == [("new", False),
                                                                   ("old", True)]
    refused(database, "UPDATE archive_fixity_run_starts SET run_by = 'x'",
            "DELETE FROM archive_fixity_run_starts")


def test_a_new_database_gets_the_starts_once_and_write_once(database: Engine) -> None:
    upgrade(database)
    upgrade(database)
    assert "archive_fixity_run_starts" in inspect(database).get_table_names()
    assert fixity_diffs(database, FIXITY_START_TABLES) == []
    with database.begin() as conn:
        conn.execute(text(INSERT_START.format(id="s1")))
    refused(database, "UPDATE archive_fixity_run_starts SET started_at = started_at",
            "DELETE FROM archive_fixity_run_starts")
    if database.dialect.name == "postgresql":
        refused(database, "TRUNCATE archive_fixity_run_starts")


def test_archive_tables_made_before_the_migrations_are_kept(database: Engine) -> None:
    """The archive commands install the index on an instance not migrated yet; the
    revisions that own those tables then leave them (and their rows) as they are."""
    install(database)
    with database.begin() as conn:
        conn.execute(text(INSERT_START.format(id="early")))
    upgrade(database)
    with database.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == HEAD
    assert fixity_diffs(database, INDEX_TABLES + FIXITY_TABLES + FIXITY_START_TABLES) == []
    assert [r.id for r in fixity_runs(database)] == ["early"]
    refused(database, "UPDATE archive_fixity_run_starts SET run_by = 'x'",
            "DELETE FROM archive_fixity_run_starts")
