"""fixity run starts: each run's start recorded before it hashes, write-once

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-08

A fixity run is recorded in ``archive_fixity_runs`` only when it finishes, so a run that
crashed half-way left no trace. This revision adds ``archive_fixity_run_starts`` (the run's
id, when it started, who ran it), which a run writes and commits before it hashes anything:
a start without a finished run is an unfinished (probably interrupted) run. Like the other
archive tables, this one gets the triggers that refuse UPDATE and DELETE (and TRUNCATE on
PostgreSQL). The table is written out here as it was at this revision, not taken from
``archive.index``, so a later change there does not change what this revision creates.

Runs recorded before this revision have no start row; they count as finished.

Idempotent, as 0005 is: a database where the table exists already keeps it as it is.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TABLES = ("archive_fixity_run_starts",)

_metadata = sa.MetaData()

sa.Table(
    "archive_fixity_run_starts",
    _metadata,
    # the run's id; no foreign key either way: runs from before this revision have no start,
    # and an interrupted run never gets its runs row
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("run_by", sa.String(100), nullable=False),
    sa.Index("ix_archive_fixity_run_starts_started", "started_at"),
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
    _metadata.create_all(bind)
    for statement in write_once_triggers(bind.dialect.name, TABLES):
        op.execute(statement)


def downgrade() -> None:
    raise RuntimeError("the fixity trail is write-once: its tables are never dropped by a "
                       "migration")
