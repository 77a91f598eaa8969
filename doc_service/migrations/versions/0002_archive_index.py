"""archive index: records, files and access log, write-once

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23

Creates the archive index tables as they were at this revision, with the triggers that
refuse UPDATE and DELETE on them (and TRUNCATE on PostgreSQL), so the write-once rule holds
even against a stray SQL session. The tables are written out here rather than taken from
``archive.index``: what an old revision creates must not change when the archive's schema
does (a later change gets a revision of its own). The fixity trail came with 0005 and 0006.

Idempotent: a table that exists already (``archive.index.install`` made it, as the archive
commands do on an instance without migrations) is left as it is.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TABLES = ("archive_records", "archive_files", "archive_access_log")

_metadata = sa.MetaData()

sa.Table(
    "archive_records",
    _metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("points_to", sa.String(32), sa.ForeignKey("archive_records.id"), nullable=True),
    sa.Column("dedupe_key", sa.String(240), nullable=False, unique=True),
    sa.Column("archival_ref", sa.String(64), nullable=False, unique=True),
    sa.Column("school_code", sa.String(16), nullable=False),
    sa.Column("ref_year", sa.Integer, nullable=False),
    sa.Column("retention", sa.String(4), nullable=False),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("document_id", sa.String(64), nullable=False),
    sa.Column("series_id", sa.String(64), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("form_id", sa.String(64), nullable=False),
    sa.Column("form_title", sa.String(200), nullable=False),
    sa.Column("number", sa.String(64), nullable=False),
    sa.Column("student_no", sa.String(32), nullable=False),
    sa.Column("student_name", sa.String(64), nullable=False),
    sa.Column("college", sa.String(100), nullable=False),
    sa.Column("issued_on", sa.Date, nullable=False),
    sa.Column("sealed_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("signers", sa.JSON, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("sm3", sa.String(64), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("chain_sha256", sa.String(64), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("recorded_by", sa.String(100), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_archive_records_student_no", "student_no", "issued_on"),
    sa.Index("ix_archive_records_student_name", "student_name", "issued_on"),
    sa.Index("ix_archive_records_number", "number"),
    sa.Index("ix_archive_records_form", "form_id", "issued_on"),
    sa.Index("ix_archive_records_college", "college", "issued_on"),
    sa.Index("ix_archive_records_issued_on", "issued_on"),
    sa.Index("ix_archive_records_points_to", "points_to", "kind",
             sqlite_where=sa.text("points_to IS NOT NULL"),
             postgresql_where=sa.text("points_to IS NOT NULL")),
    sa.Index("ix_archive_records_document", "document_id", "version"),
    sa.Index("ix_archive_records_sha256", "sha256"),
    sa.Index("ix_archive_records_ref_seq", "school_code", "ref_year", "retention", "seq",
             unique=True),
)

sa.Table(
    "archive_files",
    _metadata,
    sa.Column("record_id", sa.String(32), sa.ForeignKey("archive_records.id"),
              primary_key=True),
    sa.Column("position", sa.Integer, primary_key=True),
    sa.Column("role", sa.String(32), nullable=False),
    sa.Column("version", sa.Integer, nullable=True),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("sm3", sa.String(64), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Index("ix_archive_files_sha256", "sha256"),
)

sa.Table(
    "archive_access_log",
    _metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("who", sa.String(100), nullable=False),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("why", sa.Text, nullable=False),
    sa.Column("record_id", sa.String(32), sa.ForeignKey("archive_records.id"), nullable=True),
    sa.Index("ix_archive_access_record", "record_id", "at"),
    sa.Index("ix_archive_access_who", "who", "at"),
    sa.Index("ix_archive_access_at", "at"),
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
    raise RuntimeError("the archive is write-once: its tables are never dropped by a migration")
