"""batch items keep the 文号, code and id reserved for their document

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("batch_items") as batch:
        batch.add_column(sa.Column("number", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("code", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("reserved_id", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("batch_items") as batch:
        batch.drop_column("reserved_id")
        batch.drop_column("code")
        batch.drop_column("number")
