"""fixity audit trail: runs, failures and coverage, write-once

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01

The archive package owns its schema (``archive.index``); this revision creates the
fixity tables (each run, each failed file with expected and found SHA-256 and SM3,
and the run that first checked each record) and the triggers that refuse UPDATE and
DELETE on them (SQLite and PostgreSQL), as 0002 does for the index tables.

Idempotent: 0002 creates every table of ``archive.index.metadata`` with its triggers,
so on a new database these already exist when this revision runs; on a database
migrated before this revision they are created here.
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from archive.index import FIXITY_TABLES, metadata, trigger_ddl

    bind = op.get_bind()
    metadata.create_all(bind, tables=[metadata.tables[name] for name in FIXITY_TABLES])
    for statement in trigger_ddl(bind.dialect.name, FIXITY_TABLES):
        op.execute(statement)


def downgrade() -> None:
    raise RuntimeError("the fixity trail is write-once: its tables are never dropped by a "
                       "migration")
