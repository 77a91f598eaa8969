"""one open document per student, form and academic year, held by the database

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04

Two batch jobs for the same grade started together gave most students two open documents:
the batch's "already has one in signing" check was a read, and both jobs read before either
wrote. This revision adds ``documents.open_slot`` (the academic year for the forms that
carry one, else empty; see ``storage.models.open_slot_of``) and the partial unique index
``uq_documents_open`` on (form_id, student_id, open_slot) over the open documents (status
``in_progress`` or ``rejected``), so the second insert fails whoever races.

Existing rows get their slot from their data. A database that already holds a student's
document open twice (from that race) keeps every document: each later one gets the slot
``dup:<id>``, outside the constraint, and is logged, so the upgrade succeeds and someone
voids the extra ones; new documents are held to one.

(It follows 0007, which touches only ``users``.)
"""

from __future__ import annotations

import json
import logging
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")

INDEX = "uq_documents_open"
OPEN_CONDITION = "status IN ('in_progress', 'rejected')"


def _slot(data: Any) -> str:
    """The slot as ``open_slot_of`` gives it at this revision (written out here, so a later
    change there does not change what this revision stores)."""
    if isinstance(data, str):
        data = json.loads(data)
    if not isinstance(data, dict):
        return ""
    return str(data.get("academic_year") or "").strip()[:20]


def upgrade() -> None:
    bind = op.get_bind()
    columns = {c["name"] for c in sa.inspect(bind).get_columns("documents")}
    if "open_slot" not in columns:
        op.add_column("documents", sa.Column("open_slot", sa.String(length=40), nullable=False,
                                             server_default=""))
    documents = sa.table("documents", sa.column("id", sa.String), sa.column("data", sa.JSON),
                         sa.column("open_slot", sa.String), sa.column("form_id", sa.String),
                         sa.column("student_id", sa.Integer), sa.column("status", sa.String),
                         sa.column("created_at", sa.DateTime))
    slots = [{"doc_id": row.id, "slot": _slot(row.data)}
             for row in bind.execute(sa.select(documents.c.id, documents.c.data))]
    slots = [s for s in slots if s["slot"]]
    set_slot = (sa.update(documents).where(documents.c.id == sa.bindparam("doc_id"))
                .values(open_slot=sa.bindparam("slot")))
    if slots:
        bind.execute(set_slot, slots)
    _set_aside_duplicates(bind, documents, set_slot)
    op.create_index(INDEX, "documents", ["form_id", "student_id", "open_slot"], unique=True,
                    sqlite_where=sa.text(OPEN_CONDITION),
                    postgresql_where=sa.text(OPEN_CONDITION))


def _set_aside_duplicates(bind: Any, documents: Any, set_slot: Any) -> None:
    """Give every open document but the first of its (form, student, slot) a slot of its
    own, ``dup:<id>``, so the index can be built without losing or changing a document."""
    rows = bind.execute(
        sa.select(documents.c.id, documents.c.form_id, documents.c.student_id,
                  documents.c.open_slot)
        .where(documents.c.status.in_(("in_progress", "rejected")),
               documents.c.student_id.is_not(None))
        .order_by(documents.c.created_at, documents.c.id))
    seen: set[tuple[str, int, str]] = set()
    extra: list[dict[str, str]] = []
    for row in rows:
        key = (row.form_id, row.student_id, row.open_slot)
        if key in seen:
            extra.append({"doc_id": row.id, "slot": f"dup:{row.id}"})
        seen.add(key)
    if extra:
        bind.execute(set_slot, extra)
        log.warning("0008: %d documents were a second open document of the same student, "
                    "form and academic year (slot set to dup:<id>); void them: %s",
                    len(extra), ", ".join(e["doc_id"] for e in extra[:50]))


def downgrade() -> None:
    op.drop_index(INDEX, table_name="documents")
    with op.batch_alter_table("documents") as batch:
        batch.drop_column("open_slot")
