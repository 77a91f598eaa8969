"""fixity run starts: each run's start recorded before it hashes, write-once

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-08

A fixity run is recorded in ``archive_fixity_runs`` only when it finishes, so a run that
crashed half-way left no trace. This revision adds ``archive_fixity_run_starts`` (the run's
id, when it started, who ran it), which a run writes and commits before it hashes anything:
a start without a finished run is an unfinished (probably interrupted) run. The archive
package owns the schema (``archive.index``); like the other archive tables, this one gets
the triggers that refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL).

Runs recorded before this revision have no start row; they count as finished.

Idempotent, as 0005 is: 0002 creates every table of ``archive.index.metadata`` with its
triggers, so on a new database the table already exists when this revision runs; on a
database migrated before this revision it is created here.
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from archive.index import FIXITY_START_TABLES, metadata, trigger_ddl

    bind = op.get_bind()
    metadata.create_all(bind, tables=[metadata.tables[name] for name in FIXITY_START_TABLES])
    for statement in trigger_ddl(bind.dialect.name, FIXITY_START_TABLES):
        op.execute(statement)


def downgrade() -> None:
    raise RuntimeError("the fixity trail is write-once: its tables are never dropped by a "
                       "migration")
