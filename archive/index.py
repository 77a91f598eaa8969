"""The archive index: SQLAlchemy Core tables on their own :data:`metadata`, write-once.

The tables, all prefixed ``archive_`` so they can live in the application's database:

* ``archive_records`` — one row per archive record (original, void, correction). The derived
  state (valid / voided / superseded) is never stored: it follows from later records.
* ``archive_files`` — the blobs of each record (final PDF, chain JSON, superseded versions).
* ``archive_access_log`` — who retrieved, downloaded, exported or verified what, when, why.
* ``archive_fixity_run_starts`` — one row per fixity run, written (and committed) when the
  run starts, so a run that never finishes still leaves a trace.
* ``archive_fixity_runs`` — one row per finished fixity run (same id as its start): when, by
  whom, how much it checked.
* ``archive_fixity_failures`` — each file a run found missing, changed or unreadable, with
  the expected and the found SHA-256 and SM3.
* ``archive_fixity_coverage`` — for each record, the run that checked it first, numbered in
  order (``seq``); a run's ``covers_through`` says which of these it checked (see
  :mod:`archive.fixity`), so "when were this record's files last checked" needs no row per
  record and run.

Rows are only ever inserted. This module offers no update or delete, and :func:`install`
adds database triggers (SQLite and PostgreSQL) that reject ``UPDATE`` and ``DELETE`` on all
these tables, and ``TRUNCATE`` on PostgreSQL, so a stray SQL console cannot rewrite history
either. The application's migrations (``doc_service/migrations``, revisions 0002, 0005 and
0006) write these tables and triggers out as they were at each revision, so what an old
revision creates does not follow later edits here: a change to a table below needs a
revision of its own, and ``tests/archive/test_fixity_migration.py`` compares the migrated
schema with these definitions.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Date,
    DateTime,
    Engine,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.exc import SQLAlchemyError

from .errors import ArchiveIndexError

metadata = MetaData()

records = Table(
    "archive_records",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("points_to", String(32), ForeignKey("archive_records.id"), nullable=True),
    # one original/correction per (document, version), one void per record: idempotency and
    # exactly-once are a UNIQUE constraint, portable and race-free
    Column("dedupe_key", String(240), nullable=False, unique=True),
    Column("archival_ref", String(64), nullable=False, unique=True),
    Column("school_code", String(16), nullable=False),
    Column("ref_year", Integer, nullable=False),
    Column("retention", String(4), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("document_id", String(64), nullable=False),
    Column("series_id", String(64), nullable=False, default=""),
    Column("version", Integer, nullable=False),
    Column("form_id", String(64), nullable=False),
    Column("form_title", String(200), nullable=False),
    Column("number", String(64), nullable=False),
    Column("student_no", String(32), nullable=False),
    Column("student_name", String(64), nullable=False),
    Column("college", String(100), nullable=False),
    Column("issued_on", Date, nullable=False),
    Column("sealed_at", DateTime(timezone=True), nullable=False),
    Column("signers", JSON, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("sm3", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("chain_sha256", String(64), nullable=False),
    Column("reason", Text, nullable=False, default=""),
    Column("recorded_by", String(100), nullable=False, default=""),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # the searches of the archive office, each led by its key and ordered by date
    Index("ix_archive_records_student_no", "student_no", "issued_on"),
    Index("ix_archive_records_student_name", "student_name", "issued_on"),
    Index("ix_archive_records_number", "number"),
    Index("ix_archive_records_form", "form_id", "issued_on"),
    Index("ix_archive_records_college", "college", "issued_on"),
    Index("ix_archive_records_issued_on", "issued_on"),
    # partial: almost every row has no points_to, and with a full index SQLite's statistics
    # then say "useless" and the void/correction look-ups scan the table
    Index("ix_archive_records_points_to", "points_to", "kind",
          sqlite_where=text("points_to IS NOT NULL"),
          postgresql_where=text("points_to IS NOT NULL")),
    Index("ix_archive_records_document", "document_id", "version"),
    Index("ix_archive_records_sha256", "sha256"),
    Index("ix_archive_records_ref_seq", "school_code", "ref_year", "retention", "seq",
          unique=True),
)

files = Table(
    "archive_files",
    metadata,
    Column("record_id", String(32), ForeignKey("archive_records.id"), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("role", String(32), nullable=False),
    Column("version", Integer, nullable=True),
    Column("sha256", String(64), nullable=False),
    Column("sm3", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Index("ix_archive_files_sha256", "sha256"),
)

access_log = Table(
    "archive_access_log",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("who", String(100), nullable=False),
    Column("action", String(16), nullable=False),
    Column("why", Text, nullable=False),
    Column("record_id", String(32), ForeignKey("archive_records.id"), nullable=True),
    Index("ix_archive_access_record", "record_id", "at"),
    Index("ix_archive_access_who", "who", "at"),
    Index("ix_archive_access_at", "at"),
)

fixity_run_starts = Table(
    "archive_fixity_run_starts",
    metadata,
    # the id of the run; its archive_fixity_runs row, written when it finishes, has the same.
    # No foreign key either way: runs recorded before revision 0006 have no start row, and
    # an interrupted run never gets its runs row
    Column("id", String(32), primary_key=True),
    Column("started_at", DateTime(timezone=True), nullable=False),
    # the user who ran it from the command line, or "scheduled"
    Column("run_by", String(100), nullable=False),
    Index("ix_archive_fixity_run_starts_started", "started_at"),
)

fixity_runs = Table(
    "archive_fixity_runs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("ended_at", DateTime(timezone=True), nullable=False),
    # the user who ran it from the command line, or "scheduled"
    Column("run_by", String(100), nullable=False),
    Column("records_checked", Integer, nullable=False),
    Column("files_checked", Integer, nullable=False),
    Column("bytes_checked", BigInteger, nullable=False),
    Column("failures", Integer, nullable=False),
    # every record whose coverage seq is at most this was checked by the run
    Column("covers_through", BigInteger, nullable=False),
    Index("ix_archive_fixity_runs_started", "started_at"),
)

fixity_failures = Table(
    "archive_fixity_failures",
    metadata,
    Column("run_id", String(32), ForeignKey("archive_fixity_runs.id"), primary_key=True),
    Column("record_id", String(32), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("archival_ref", String(64), nullable=False),
    Column("role", String(32), nullable=False),
    Column("problem", String(16), nullable=False),
    Column("expected_sha256", String(64), nullable=False),
    Column("expected_sm3", String(64), nullable=False),
    Column("expected_size", BigInteger, nullable=False),
    # NULL when the file is missing or could not be read
    Column("found_sha256", String(64), nullable=True),
    Column("found_sm3", String(64), nullable=True),
    Column("found_size", BigInteger, nullable=True),
    Column("detail", Text, nullable=False, default=""),
    ForeignKeyConstraint(["record_id", "position"],
                         ["archive_files.record_id", "archive_files.position"],
                         name="fk_archive_fixity_failures_file"),
    Index("ix_archive_fixity_failures_record", "record_id", "run_id"),
)

fixity_coverage = Table(
    "archive_fixity_coverage",
    metadata,
    # numbered by the run that adds the row (max + 1, ...), not by the database: two runs
    # finishing at once then collide on it and the later one reads again
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("record_id", String(32), ForeignKey("archive_records.id"), nullable=False,
           unique=True),
    Column("run_id", String(32), ForeignKey("archive_fixity_runs.id"), nullable=False),
)

INDEX_TABLES = ("archive_records", "archive_files", "archive_access_log")
"""The tables of revision 0002."""
FIXITY_TABLES = ("archive_fixity_runs", "archive_fixity_failures", "archive_fixity_coverage")
"""The fixity audit trail (revision 0005)."""
FIXITY_START_TABLES = ("archive_fixity_run_starts",)
"""Each fixity run's start, written before it hashes anything (revision 0006)."""
WRITE_ONCE_TABLES = INDEX_TABLES + FIXITY_TABLES + FIXITY_START_TABLES


def trigger_ddl(dialect: str, tables: tuple[str, ...] = WRITE_ONCE_TABLES) -> list[str]:
    """Statements creating the write-once triggers (idempotent) on ``tables`` for ``dialect``."""
    if dialect == "sqlite":
        out = []
        for t in tables:
            for op in ("UPDATE", "DELETE"):
                out.append(
                    f"CREATE TRIGGER IF NOT EXISTS {t}_no_{op.lower()} BEFORE {op} ON {t} "
                    f"BEGIN SELECT RAISE(ABORT, '{t} is write-once: {op} refused'); END")
        return out
    if dialect == "postgresql":
        out = [
            "CREATE OR REPLACE FUNCTION archive_reject_change() RETURNS trigger "
            "LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION '% is write-once: % refused', "
            "TG_TABLE_NAME, TG_OP USING ERRCODE = 'insufficient_privilege'; END $$"
        ]
        for t in tables:
            out.append(f"CREATE OR REPLACE TRIGGER {t}_write_once BEFORE UPDATE OR DELETE "
                       f"ON {t} FOR EACH ROW EXECUTE FUNCTION archive_reject_change()")
            out.append(f"CREATE OR REPLACE TRIGGER {t}_no_truncate BEFORE TRUNCATE "
                       f"ON {t} FOR EACH STATEMENT EXECUTE FUNCTION archive_reject_change()")
        return out
    return []


def install(engine: Engine) -> None:
    """Create the tables (if missing) and the write-once triggers; safe to run repeatedly.

    For development and the CLI; an instance under Alembic gets the same from its migration.
    """
    try:
        metadata.create_all(engine)
        with engine.begin() as conn:
            for stmt in trigger_ddl(engine.dialect.name):
                conn.execute(text(stmt))
    except SQLAlchemyError as e:
        raise ArchiveIndexError(f"cannot create the archive index: {e}") from e
