"""fixity audit trail: runs, failures and coverage, write-once

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01

Creates the fixity tables as they were at this revision (each run, each failed file with
expected and found SHA-256 and SM3, and the run that first checked each record) and the
triggers that refuse UPDATE and DELETE on them (and TRUNCATE on PostgreSQL), as 0002 does
for the index tables. Written out here, not taken from ``archive.index``, so a later change
to the archive's schema does not change what this revision creates.

Idempotent: a database where ``archive.index.install`` (or 0002 as it was before this
revision owned its tables) already made them keeps them as they are.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TABLES = ("archive_fixity_runs", "archive_fixity_failures", "archive_fixity_coverage")

_metadata = sa.MetaData()

# the tables of 0002 these refer to, named only so the foreign keys resolve (not created)
sa.Table("archive_records", _metadata, sa.Column("id", sa.String(32), primary_key=True))
sa.Table("archive_files", _metadata,
         sa.Column("record_id", sa.String(32), primary_key=True),
         sa.Column("position", sa.Integer, primary_key=True))

sa.Table(
    "archive_fixity_runs",
    _metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("ended_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("run_by", sa.String(100), nullable=False),
    sa.Column("records_checked", sa.Integer, nullable=False),
    sa.Column("files_checked", sa.Integer, nullable=False),
    sa.Column("bytes_checked", sa.BigInteger, nullable=False),
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("covers_through", sa.BigInteger, nullable=False),
    sa.Index("ix_archive_fixity_runs_started", "started_at"),
)

sa.Table(
    "archive_fixity_failures",
    _metadata,
    sa.Column("run_id", sa.String(32), sa.ForeignKey("archive_fixity_runs.id"),
              primary_key=True),
    sa.Column("record_id", sa.String(32), primary_key=True),
    sa.Column("position", sa.Integer, primary_key=True),
    sa.Column("archival_ref", sa.String(64), nullable=False),
    sa.Column("role", sa.String(32), nullable=False),
    sa.Column("problem", sa.String(16), nullable=False),
    sa.Column("expected_sha256", sa.String(64), nullable=False),
    sa.Column("expected_sm3", sa.String(64), nullable=False),
    sa.Column("expected_size", sa.BigInteger, nullable=False),
    sa.Column("found_sha256", sa.String(64), nullable=True),
    sa.Column("found_sm3", sa.String(64), nullable=True),
    sa.Column("found_size", sa.BigInteger, nullable=True),
    sa.Column("detail", sa.Text, nullable=False),
    sa.ForeignKeyConstraint(["record_id", "position"],
                            ["archive_files.record_id", "archive_files.position"],
                            name="fk_archive_fixity_failures_file"),
    sa.Index("ix_archive_fixity_failures_record", "record_id", "run_id"),
)

sa.Table(
    "archive_fixity_coverage",
    _metadata,
    # numbered by the run, not the database (no sequence, no BIGSERIAL)
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("record_id", sa.String(32), sa.ForeignKey("archive_records.id"), nullable=False,
              unique=True),
    sa.Column("run_id", sa.String(32), sa.ForeignKey("archive_fixity_runs.id"), nullable=False),
)


def write_once_triggers(dialect: str, tables: tuple[str, ...]) -> list[str]:
    """Statements creating the triggers that refuse changing or removing rows (idempotent)."""
    if dialect == "sqlite":
        return [f"CREATE TRIGGER IF NOT EXISTS {t}_no_{op_name.lower()} BEFORE {op_name} ON {t} "
                f"BEGIN SELECT RAISE(ABORT, '{t} is write-once: {op_name} refused'); END"
                for t in tables for op_name in ("UPDATE", "DELETE")]
    if dialect == "postgresql":
        out = ["CREATE OR REPLACE FUNCTION archive_reject_change() RETURNS trigger "
               "LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION '% is write-once: % refused', "
               "TG_TABLE_NAME, TG_OP USING ERRCODE = 'insufficient_privilege'; END $$"]
        for t in tables:
            out.append(f"CREATE OR REPLACE TRIGGER {t}_write_once BEFORE UPDATE OR DELETE "
                       f"ON {t} FOR EACH ROW EXECUTE FUNCTION archive_reject_change()")
            out.append(f"CREATE OR REPLACE TRIGGER {t}_no_truncate BEFORE TRUNCATE "
                       f"ON {t} FOR EACH STATEMENT EXECUTE FUNCTION archive_reject_change()")
        return out
    return []


def upgrade() -> None:
    bind = op.get_bind()
    _metadata.create_all(bind, tables=[_metadata.tables[name] for name in TABLES])
    for statement in write_once_triggers(bind.dialect.name, TABLES):
        op.execute(statement)


def downgrade() -> None:
    raise RuntimeError("the fixity trail is write-once: its tables are never dropped by a "
                       "migration")
