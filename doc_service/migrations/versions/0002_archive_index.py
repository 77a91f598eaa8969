"""archive index: records, files and access log, write-once

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23

The archive package owns its schema (``archive.index``); this revision creates
its tables and the triggers that refuse UPDATE and DELETE on them (SQLite and
PostgreSQL), so the write-once rule holds even against a stray SQL session.
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from archive.index import metadata, trigger_ddl

    bind = op.get_bind()
    metadata.create_all(bind)
    for statement in trigger_ddl(bind.dialect.name):
        op.execute(statement)


def downgrade() -> None:
    raise RuntimeError("the archive is write-once: its tables are never dropped by a migration")
