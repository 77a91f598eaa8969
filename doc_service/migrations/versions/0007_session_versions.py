"""session versions and per-client identity counters

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04

``users.session_version`` (integer, 0) is stored in the session cookie at login and compared
on every request; logout, a password change and disabling the account bump it, which ends
every session of that account on the server side.

``identity_locks`` was keyed by the document code alone, so five wrong answers from anywhere
locked the student out. It is now keyed by (code, client address). Its rows are short-lived
attempt counters with nothing worth keeping, so the table is recreated empty rather than
converted. Both tables are written out here as they are at this revision, not taken from
today's models.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(sa.Column("session_version", sa.Integer(), nullable=False,
                                      server_default="0"))
    op.drop_table("identity_locks")
    op.create_table(
        "identity_locks",
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("client", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("code", "client"),
    )


def downgrade() -> None:
    op.drop_table("identity_locks")
    op.create_table(
        "identity_locks",
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("code"),
    )
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("session_version")
