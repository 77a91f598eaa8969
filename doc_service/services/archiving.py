"""Sealed documents go to the write-once archive; the registrar can void them.

``archive_sealed`` runs right after the last signature (the runtime's
``on_sealed`` hook) and again from ``archive_pending`` at start-up, so a crash
between sealing and archiving is repaired, never lost: archiving is
idempotent per (document, version). A void is a signed chain record of its own
and a new archive record pointing at the old one; nothing archived changes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from typing import Any

from sqlalchemy import select

from archive.errors import ArchiveError as StoreError
from archive.model import ArchiveInput, RecordKind, SupersededVersion
from archive.service import archive_document, records_for_document, void_record
from doc_service.errors import ArchiveError, NotFoundError, SignatureError, WorkflowError
from doc_service.forms.spec import load_form
from doc_service.services.access import Actor, require_staff
from doc_service.services.audit import audit
from doc_service.services.decisions import build_chain
from doc_service.services.documents import load_document
from doc_service.services.runtime import Runtime
from doc_service.storage.models import (
    ChainRecordRow,
    DocStatus,
    Document,
    Role,
    chain_records,
    utcnow,
)
from signing.records import ChainRecord, chain_document_bytes

log = logging.getLogger(__name__)


def archive_store(rt: Runtime) -> Any:
    """The archive's own content store (separate from the working files)."""
    return rt.archive


def _chain_json(session: Any, doc: Document) -> bytes:
    records = [ChainRecord.from_dict(r.record) for r in chain_records(session, doc.id)]
    return chain_document_bytes(doc.id, doc.version, records)


def archive_sealed(rt: Runtime, doc: Document) -> Any:
    """Archive one sealed document version (idempotent)."""
    form = load_form(doc.form_id)
    with rt.sessions() as session:
        doc = session.get(Document, doc.id)  # type: ignore[assignment]
        assert doc is not None
        if doc.status not in (DocStatus.SEALED, DocStatus.VOIDED) or doc.sealed_at is None:
            raise WorkflowError("只有已办结的文书可以归档")
        earlier = list(session.scalars(select(Document).where(
            Document.series_id == doc.series_id, Document.version < doc.version)
            .order_by(Document.version)))
        chain_json = _chain_json(session, doc)
        inp = ArchiveInput(
            document_id=doc.id, version=doc.version, form_id=doc.form_id,
            form_title=form.title, number=doc.number, student_no=doc.student_no or "",
            student_name=doc.student_name, college=doc.college.name, issued_on=doc.issued_on,
            sealed_at=doc.sealed_at.replace(tzinfo=dt.UTC), final_pdf=rt.store.get(
                doc.current_sha256),
            chain_json=chain_json, retention=form.retention, school_code=rt.institution.code,
            series_id=doc.series_id,
            superseded=tuple(SupersededVersion(d.version, rt.store.get(d.current_sha256))
                             for d in earlier),
            archived_by="doc-service")
    try:
        return archive_document(rt.engine, archive_store(rt), inp)
    except StoreError as e:
        raise ArchiveError(f"归档失败：{e}") from e


def on_sealed(rt: Runtime, doc: Document) -> None:
    """Runtime hook: archive now; on failure log it and leave it to ``archive_pending``."""
    try:
        archive_sealed(rt, doc)
    except Exception:  # noqa: BLE001 - sealing succeeded; archiving is retried at start-up
        log.exception("archiving document %s failed; archive_pending will retry", doc.id)


def archive_pending(rt: Runtime) -> int:
    """Archive every sealed document the archive does not hold yet; returns how many."""
    with rt.sessions() as session:
        sealed = list(session.scalars(select(Document).where(
            Document.status.in_([DocStatus.SEALED, DocStatus.VOIDED]))))
    done = 0
    for doc in sealed:
        if not records_for_document(rt.engine, doc.id):
            archive_sealed(rt, doc)
            done += 1
    return done


def record_for(rt: Runtime, doc_id: str) -> Any | None:
    """The archive record of a document's original (not void) entry, if archived."""
    records = [r for r in records_for_document(rt.engine, doc_id)
               if r.kind != RecordKind.VOID]
    return records[0] if records else None


def void_document(rt: Runtime, actor: Actor, doc_id: str, reason: str, *,
                  replaced_by: str | None = None, ip: str | None = None) -> Document:
    """The registrar voids a sealed document; the void is a signed chain record."""
    user = require_staff(actor, Role.REGISTRAR)
    reason = (reason or "").strip()
    if not reason:
        raise WorkflowError("作废须写明理由")
    if len(reason) > 300:
        raise WorkflowError("作废理由过长（最多300字）")
    with rt.sessions() as session:
        doc = session.get(Document, doc_id)
        if doc is None:
            raise NotFoundError("没有找到该文书，或您无权查看")
        if doc.status != DocStatus.SEALED:
            raise WorkflowError("只有已办结的文书可以作废")
        if replaced_by:
            other = session.scalar(select(Document).where(Document.id == replaced_by))
            if other is None:
                raise NotFoundError("替代文书不存在")
        chain = build_chain(doc, chain_records(session, doc.id))
        pdf = rt.store.get(doc.current_sha256)
    archived = record_for(rt, doc_id) or archive_sealed(rt, doc)
    ks = rt.keystore
    identity = ks.signer_identity(f"user-{user.id}", user.name, Role.REGISTRAR, None)
    try:
        record: ChainRecord = chain.void(identity, signer_id=f"user-{user.id}",
                                         signer_name=user.name, role=Role.REGISTRAR,
                                         doc_sha256=hashlib.sha256(pdf).hexdigest(),
                                         at=dt.datetime.now(dt.UTC), reason=reason).record
    except Exception as e:  # signing's ChainError family
        raise SignatureError(f"作废记录签名失败：{e}") from e
    chain_json = chain_document_bytes(doc.id, doc.version, chain.records)
    with rt.sessions.begin() as session:
        doc = session.get(Document, doc_id, with_for_update={"of": Document})
        assert doc is not None
        if doc.status != DocStatus.SEALED:
            raise WorkflowError("该文书刚刚已被处理")
        session.add(ChainRecordRow(document_id=doc.id, position=record.position,
                                   record=record.to_dict(), record_hash=record.record_hash,
                                   pdf_sha256=doc.current_sha256))
        doc.status = DocStatus.VOIDED
        doc.rejection_reason = reason
        if replaced_by:
            doc.superseded_by = replaced_by
        doc.lock_version += 1
        doc.updated_at = utcnow()
        audit(session, actor, "void", "document", doc.id, ip=ip)
    try:
        void_record(rt.engine, archive_store(rt), archived.id, reason=reason, by=user.name,
                    school_code=rt.institution.code, void_chain_json=chain_json)
    except Exception as e:  # noqa: BLE001 - archive errors wrapped for the caller
        raise ArchiveError(f"作废已签名，但写入档案失败：{e}") from e
    return load_document(rt, doc_id)
