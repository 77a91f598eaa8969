"""Recording a signer's decision: the chain record, the PDF signature, the next step.

The expensive part (signing the PDF) runs outside the database transaction;
the write then checks the document's ``lock_version`` so that of two people
approving the same step at once exactly one wins and the other gets a clear
conflict, with nothing half-written.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import secrets
import unicodedata
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from doc_service.errors import (
    ConflictError,
    DocServiceError,
    FieldError,
    PermissionDeniedError,
    SignatureError,
    ValidationError,
    WorkflowError,
)
from doc_service.services.access import Actor, Staff, can_sign_step, require_view
from doc_service.services.audit import audit
from doc_service.services.documents import activate_step, find_document
from doc_service.services.runtime import Runtime
from doc_service.storage.models import (
    ChainRecordRow,
    DocStatus,
    Document,
    Step,
    StepState,
    utcnow,
)

MAX_COMMENT = 500
MAX_BATCH = 500

CHSI_DEADLINE_FORMS = {"status_change_notice": 15}
"""Seed 004 工作要求5: mark the change on 学信网 within 15 working days of the decision."""


def _signer_ref(step: Step, records: dict[int, dict[str, Any]]) -> tuple[str, str]:
    if step.position in records:
        rec = records[step.position]
        return rec["signer_id"], rec["signer_name"]
    if step.assignee_id is not None:
        return f"user-{step.assignee_id}", step.assignee.name if step.assignee else ""
    return f"pool-{step.role}", step.role


def build_chain(doc: Document, rows: list[ChainRecordRow], current: Step | None = None,
                actor: Actor | None = None) -> Any:
    """The signing package's ApprovalChain for this document, replaying stored records."""
    from signing.chain import ApprovalChain, ChainStep
    from signing.records import ChainRecord, Decision

    records = {row.position: row.record for row in rows}
    steps = []
    for step in doc.steps:
        sid, sname = _signer_ref(step, records)
        if current is not None and step.position == current.position and actor is not None:
            sid, sname = actor.ref, actor.name if isinstance(actor, Staff) else actor.name
        steps.append(ChainStep(step.role, sid, sname, Decision(step.decision_kind)))
    chain_records = [ChainRecord.from_dict(records[p]) for p in sorted(records)]
    return ApprovalChain(doc.id, doc.version, steps, chain_records)


STAMP_FONT_CUT = "2"
"""Bump to cut every signer's stamp face again (e.g. after the stamp wording changes)."""


def _stamp_words() -> str:
    from signing.steps import DECISION_LABELS, ROLE_LABELS

    return "".join(sorted(set("".join(DECISION_LABELS.values()) + "".join(ROLE_LABELS.values())
                              + "签名角色时间：")))


def _stamp_font(rt: Runtime, name: str) -> str:
    """A small face for this signer's stamp: the stamp's words plus the name, cut once.

    pyHanko subsets the embedded font again at every signature. From the app's whole face
    (thousands of glyphs) that took about a quarter of a second per approval; from a face
    of a hundred glyphs it is a few milliseconds. A name with a character the app's face
    lacks (a rare one) is cut from the system's full Noto CJK instead.
    """
    from doc_service.rendering.fonts import font_codepoints
    from signing.fonts import NOTO_SC_INDEX, NOTO_SERIF_CJK, subset_font

    text = name + _stamp_words()
    digest = hashlib.sha256(f"{STAMP_FONT_CUT}:{text}".encode()).hexdigest()[:16]
    path = rt.instance / "fonts" / f"stamp-{digest}.otf"
    if path.exists():
        return str(path)
    base = rt.font_path
    if all(ord(ch) in font_codepoints(base) for ch in text):
        src, number = base, 0
    else:
        src, number = NOTO_SERIF_CJK, NOTO_SC_INDEX
    # Cut under a private name and rename: a concurrent signer never reads half a file.
    partial = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    try:
        subset_font(src, partial, text, font_number=number)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return str(path)


@dataclass(frozen=True)
class DecisionResult:
    document: Document
    position: int
    decision: str
    sealed: bool


def _college_name(doc: Document) -> str:
    return doc.college.name


def record_decision(rt: Runtime, actor: Actor, doc_id: str, decision: str, comment: str = "",
                    *, ip: str | None = None, now: dt.datetime | None = None) -> DecisionResult:
    """Approve (or acknowledge/seal, per the step) or reject the current step of a document."""
    from signing.errors import SigningError
    from signing.pdf_sign import SignatureBox
    from signing.records import Decision
    from signing.steps import record_and_sign

    # Bad input is a validation error (422), not a workflow conflict: nothing was tried yet.
    if decision not in ("approve", "reject"):
        raise ValidationError([FieldError("decision", "decision 只能是 approve 或 reject",
                                          "choice")])
    comment = (comment or "").strip()
    if len(comment) > MAX_COMMENT:
        raise ValidationError([FieldError("comment", f"意见过长（最多{MAX_COMMENT}字）",
                                          "too_long")])
    if decision == "reject" and not comment:
        raise ValidationError([FieldError("comment", "退回时请填写理由", "required")])
    if any(unicodedata.category(ch) == "Cc" and ch not in "\n\t" for ch in comment):
        # A NUL would be refused by PostgreSQL mid-write; other controls garble the stamp.
        raise ValidationError([FieldError("comment", "意见含有不可见的控制字符", "control_char")])
    with rt.sessions() as session:
        doc = find_document(session, doc_id)
        require_view(session, actor, doc)
        if doc.status != DocStatus.IN_PROGRESS:
            raise WorkflowError("该文书已不在签批中（已办结、已退回或已被取代）")
        step = next((s for s in doc.steps if s.state == StepState.CURRENT), None)
        if step is None:
            raise WorkflowError("该文书没有待签批的步骤")
        if not can_sign_step(session, actor, doc, step):
            raise PermissionDeniedError("当前不是您签批的环节")
        rows = list(session.scalars(select(ChainRecordRow).where(
            ChainRecordRow.document_id == doc.id).order_by(ChainRecordRow.position)))
        seen_version = doc.lock_version
        kind = Decision(step.decision_kind) if decision == "approve" else Decision.REJECT
        chain = build_chain(doc, rows, step, actor)
        name = actor.name
        role = step.role
        college = _college_name(doc)
        box_data = doc.signature_areas.get(role) if step.visible else None
        seal = step.seal
        pdf = rt.store.get(doc.current_sha256)
    try:
        ks = rt.keystore
        identity = ks.signer_identity(actor.ref, name, role, college)
        seal_png = None
        if seal == "college" and kind is not Decision.REJECT:
            ks.add_college(college)  # a college created after set-up gets its seal now
            seal_png = ks.seal_identity(college).png
        elif seal == "school" and kind is not Decision.REJECT:
            seal_png = ks.seal_identity().png
        box = SignatureBox.of(_Box(**box_data)) if box_data else None
        signed = record_and_sign(pdf, chain, identity, kind, box=box,
                                 font_path=_stamp_font(rt, name), seal_png=seal_png,
                                 comment=comment, at=now, timestamper=rt.timestamper,
                                 trust_roots=rt.trust_roots)
    except SigningError as e:
        raise SignatureError(f"签名失败：{e}") from e
    new_sha = rt.store.put(signed.pdf)
    now_naive = utcnow()
    try:
        with rt.sessions.begin() as session:
            won = cast("CursorResult[Any]", session.execute(
                update(Document).where(Document.id == doc_id,
                                       Document.lock_version == seen_version)
                .values(lock_version=seen_version + 1, current_sha256=new_sha,
                        updated_at=now_naive)
            )).rowcount
            if won != 1:
                raise ConflictError("该环节刚刚已由他人处理，请刷新后查看")
            record = signed.record
            session.add(ChainRecordRow(document_id=doc_id, position=record.position,
                                       record=record.to_dict(), record_hash=record.record_hash,
                                       pdf_sha256=new_sha))
            doc = find_document(session, doc_id)
            _advance(rt, session, doc, record, now_naive)
            audit(session, actor, "reject" if kind is Decision.REJECT else "sign", "document",
                  doc_id, ip=ip, position=record.position, role=record.role,
                  decision=str(record.decision))
    except IntegrityError as e:
        raise ConflictError("该环节刚刚已由他人处理，请刷新后查看") from e
    from doc_service.services.documents import load_document

    doc = load_document(rt, doc_id)
    if doc.status == DocStatus.SEALED:
        _after_seal(rt, doc)
    return DecisionResult(document=doc, position=signed.record.position,
                          decision=str(signed.record.decision), sealed=signed.sealed)


@dataclass(frozen=True)
class _Box:
    page_index: int
    x1: float
    y1: float
    x2: float
    y2: float


def _advance(rt: Runtime, session: Session, doc: Document, record: Any,
             now: dt.datetime) -> None:
    from signing.records import Decision

    step = doc.steps[record.position]
    step.decided_at = now
    step.decision = str(record.decision)
    step.comment = record.comment or None
    step.signer_name = record.signer_name
    if record.decision is Decision.REJECT:
        step.state = StepState.REJECTED
        for later in doc.steps[record.position + 1:]:
            later.state = StepState.CANCELLED
        doc.status = DocStatus.REJECTED
        doc.rejection_reason = record.comment
        return
    step.state = StepState.DONE
    if record.position + 1 < len(doc.steps):
        activate_step(rt, doc.steps[record.position + 1], now)
        return
    doc.status = DocStatus.SEALED
    doc.sealed_at = now
    days = CHSI_DEADLINE_FORMS.get(doc.form_id)
    if days:
        doc.chsi_due_on = rt.calendar.add_working_days(now.date(), days)


def _after_seal(rt: Runtime, doc: Document) -> None:
    """Hand a sealed document to the archive (once the archive is wired in)."""
    hook = rt.settings.get("on_sealed")
    if hook is not None:
        hook(rt, doc)


@dataclass(frozen=True)
class BatchOutcome:
    document_id: str
    ok: bool
    message: str


def approve_many(rt: Runtime, actor: Actor, doc_ids: list[str], *,
                 ip: str | None = None) -> list[BatchOutcome]:
    """Approve many documents in one action; each still gets its own record and signature."""
    if not isinstance(actor, Staff):
        raise PermissionDeniedError("批量签批需要教职工账号")
    if len(doc_ids) > MAX_BATCH:
        raise ValidationError([FieldError("document_ids", f"一次最多批量签批{MAX_BATCH}份",
                                          "too_many")])
    out = []
    for doc_id in dict.fromkeys(doc_ids):
        try:
            result = record_decision(rt, actor, doc_id, "approve", ip=ip)
            out.append(BatchOutcome(doc_id, True, "已签批" + ("并盖章办结" if result.sealed
                                                             else "")))
        except DocServiceError as e:
            out.append(BatchOutcome(doc_id, False, e.message))
    return out


def mark_chsi_done(rt: Runtime, actor: Actor, doc_id: str, *, ip: str | None = None) -> Document:
    """The registrar records that the change was marked on 学信网."""
    from doc_service.services.access import require_staff
    from doc_service.storage.models import Role

    user = require_staff(actor, Role.REGISTRAR)
    with rt.sessions.begin() as session:
        doc = find_document(session, doc_id, lock=True)
        if doc.chsi_due_on is None:
            raise WorkflowError("该文书不需要在学信网标注")
        if doc.chsi_marked_at is not None:
            raise ConflictError("已记录过学信网标注")
        doc.chsi_marked_at = utcnow()
        doc.chsi_marked_by = user.id
        audit(session, actor, "chsi_marked", "document", doc_id, ip=ip)
        return doc


