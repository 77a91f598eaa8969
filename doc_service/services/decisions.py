"""Recording a signer's decision: the chain record, the PDF signature, the next step.

:func:`record_decision` runs in four steps. It checks the input; plans from one read of the
document (the caller may sign its current step, the chain replayed from its records);
signs the PDF outside any transaction, since that is the expensive part; and commits. The
write checks the document's ``lock_version`` so that of two people approving the same step
at once exactly one wins and the other gets a clear conflict, with nothing half-written.
What the decision changed is the domain's answer (``ApprovalChain.decide`` returns a
:class:`~signing.chain.Transition`); the step and document rows are only its projection.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import secrets
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from doc_service.errors import (
    ConflictError,
    DocServiceError,
    FieldError,
    PermissionDeniedError,
    SignatureError,
    StorageFullError,
    ValidationError,
    WorkflowError,
    caused_by_full_disk,
)
from doc_service.forms.validation import has_control
from doc_service.rendering.fonts import font_codepoints
from doc_service.services.access import (
    Actor,
    Staff,
    can_sign_step,
    require_staff,
    require_view,
)
from doc_service.services.audit import audit
from doc_service.services.documents import activate_step, find_document, load_document
from doc_service.services.runtime import Runtime
from doc_service.storage.models import (
    ChainRecordRow,
    DocStatus,
    Document,
    Role,
    Step,
    StepState,
    chain_records,
    utcnow,
)
from signing.box import SignatureBox
from signing.chain import ApprovalChain, ChainState, ChainStep, Transition
from signing.errors import SigningError
from signing.fonts import NOTO_SC_INDEX, NOTO_SERIF_CJK, subset_font
from signing.records import ChainRecord, Decision
from signing.roles import ROLE_LABELS
from signing.steps import DECISION_LABELS, SignedStep, record_and_sign

MAX_COMMENT = 500
MAX_BATCH = 500

CHSI_DEADLINE_FORMS = {"status_change_notice": 15}
"""Seed 004 工作要求5: mark the change on 学信网 within 15 working days of the decision."""

DOC_STATUS = {ChainState.IN_PROGRESS: DocStatus.IN_PROGRESS,
              ChainState.REJECTED: DocStatus.REJECTED,
              ChainState.COMPLETED: DocStatus.SEALED,
              ChainState.VOIDED: DocStatus.VOIDED}
"""The document's status for its chain's state after a decision."""

LOST_RACE = "该环节刚刚已由他人处理，请刷新后查看"


# ---- the chain of a stored document ------------------------------------------------------

def _signer_ref(step: Step, records: dict[int, dict[str, Any]]) -> tuple[str, str]:
    if step.position in records:
        rec = records[step.position]
        return rec["signer_id"], rec["signer_name"]
    if step.assignee_id is not None:
        return f"user-{step.assignee_id}", step.assignee.name if step.assignee else ""
    return f"pool-{step.role}", step.role


def build_chain(doc: Document, rows: list[ChainRecordRow], current: Step | None = None,
                actor: Actor | None = None) -> ApprovalChain:
    """The signing package's ApprovalChain for this document, replaying stored records.

    With ``current`` and ``actor``, that step is bound to the actor (an office's pooled
    step is signed by whichever member takes it)."""
    records = {row.position: row.record for row in rows}
    steps = []
    for step in doc.steps:
        sid, sname = _signer_ref(step, records)
        if current is not None and step.position == current.position and actor is not None:
            sid, sname = actor.ref, actor.name
        steps.append(ChainStep(step.role, sid, sname, Decision(step.decision_kind)))
    replayed = [ChainRecord.from_dict(records[p]) for p in sorted(records)]
    return ApprovalChain(doc.id, doc.version, steps, replayed)


def signable_step(rt: Runtime, actor: Actor, doc: Document) -> Step | None:
    """The step of ``doc`` that ``actor`` may sign now, or None (for the pages' sign form)."""
    step = doc.current_step
    if step is None:
        return None
    with rt.sessions() as session:
        return step if can_sign_step(session, actor, doc, step) else None


# ---- the signer's stamp face -------------------------------------------------------------

STAMP_FONT_CUT = "2"
"""Bump to cut every signer's stamp face again (e.g. after the stamp wording changes)."""


def _stamp_words() -> str:
    return "".join(sorted(set("".join(DECISION_LABELS.values()) + "".join(ROLE_LABELS.values())
                              + "签名角色时间：")))


def _stamp_font(rt: Runtime, name: str) -> str:
    """A small face for this signer's stamp: the stamp's words plus the name, cut once.

    pyHanko subsets the embedded font again at every signature. From the app's whole face
    (thousands of glyphs) that took about a quarter of a second per approval; from a face
    of a hundred glyphs it is a few milliseconds. A name with a character the app's face
    lacks (a rare one) is cut from the system's full Noto CJK instead.
    """
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


# ---- record_decision ---------------------------------------------------------------------

@dataclass(frozen=True)
class DecisionResult:
    document: Document
    position: int
    decision: str
    sealed: bool


@dataclass(frozen=True)
class DecisionPlan:
    """A decision checked against one read of the document: all that signing needs."""

    doc_id: str
    seen_version: int
    """``Document.lock_version`` when read; the commit wins only if it is unchanged."""
    chain: ApprovalChain
    """The chain replayed from the stored records, its current step bound to the signer
    (signing appends the new record to it)."""
    decision: Decision
    signer_ref: str
    signer_name: str
    role: str
    college: str
    box: SignatureBox | None
    """Where the visible stamp goes; None for an invisible signature."""
    seal: str | None
    pdf_sha256: str
    """The PDF revision the signer saw (and signs)."""


def record_decision(rt: Runtime, actor: Actor, doc_id: str, decision: str, comment: str = "",
                    *, ip: str | None = None, now: dt.datetime | None = None) -> DecisionResult:
    """Approve (or acknowledge/seal, per the step) or reject the current step of a document."""
    comment = _checked_comment(decision, comment)
    plan = plan_decision(rt, actor, doc_id, decision)
    signed = _sign(rt, plan, comment, now)
    _commit(rt, actor, plan, signed, ip=ip)
    doc = load_document(rt, doc_id)
    if doc.status == DocStatus.SEALED:
        _after_seal(rt, doc)
    return DecisionResult(document=doc, position=signed.record.position,
                          decision=str(signed.record.decision), sealed=signed.sealed)


def _checked_comment(decision: str, comment: str) -> str:
    """The comment, stripped, once the decision and comment are acceptable input.

    Bad input is a validation error (422), not a workflow conflict: nothing was tried yet."""
    if decision not in ("approve", "reject"):
        raise ValidationError([FieldError("decision", "decision 只能是 approve 或 reject",
                                          "choice")])
    comment = (comment or "").strip()
    if len(comment) > MAX_COMMENT:
        raise ValidationError([FieldError("comment", f"意见过长（最多{MAX_COMMENT}字）",
                                          "too_long")])
    if decision == "reject" and not comment:
        raise ValidationError([FieldError("comment", "退回时请填写理由", "required")])
    if has_control(comment, multiline=True):
        # A NUL would be refused by PostgreSQL mid-write, other controls garble the stamp,
        # and a bidi override or zero-width character makes the printed comment differ
        # from the signed one: the same rule as for field values.
        raise ValidationError([FieldError("comment", "意见含有不可见的控制字符", "control_char")])
    return comment


def plan_decision(rt: Runtime, actor: Actor, doc_id: str, decision: str) -> DecisionPlan:
    """Read the document once and check that ``actor`` may decide its current step now.

    Reads only; ``decision`` is "approve" (the step's own kind) or "reject"."""
    with rt.sessions() as session:
        doc = find_document(session, doc_id)
        require_view(session, actor, doc)
        if doc.status != DocStatus.IN_PROGRESS:
            raise WorkflowError("该文书已不在签批中（已办结、已退回或已被取代）")
        step = doc.current_step
        if step is None:
            raise WorkflowError("该文书没有待签批的步骤")
        if not can_sign_step(session, actor, doc, step):
            raise PermissionDeniedError("当前不是您签批的环节")
        box = doc.signature_areas.get(step.role) if step.visible else None
        return DecisionPlan(
            doc_id=doc.id, seen_version=doc.lock_version,
            chain=build_chain(doc, chain_records(session, doc.id), step, actor),
            decision=Decision(step.decision_kind) if decision == "approve" else Decision.REJECT,
            signer_ref=actor.ref, signer_name=actor.name, role=step.role,
            college=doc.college.name, box=SignatureBox.from_dict(box) if box else None,
            seal=step.seal, pdf_sha256=doc.current_sha256)


def _sign(rt: Runtime, plan: DecisionPlan, comment: str, now: dt.datetime | None
          ) -> SignedStep:
    """Make the signed record and the PDF revision; touches no table."""
    pdf = rt.store.get(plan.pdf_sha256)
    try:
        identity = rt.keystore.signer_identity(plan.signer_ref, plan.signer_name, plan.role,
                                               plan.college)
        return record_and_sign(pdf, plan.chain, identity, plan.decision, box=plan.box,
                               font_path=_stamp_font(rt, plan.signer_name),
                               seal_png=_seal_png(rt, plan), comment=comment, at=now,
                               timestamper=rt.timestamper, trust_roots=rt.trust_roots)
    except SigningError as e:
        if caused_by_full_disk(e):
            raise StorageFullError() from e
        raise SignatureError(f"签名失败：{e}") from e


def _seal_png(rt: Runtime, plan: DecisionPlan) -> bytes | None:
    """The seal pressed with this step's signature; a send-back is never sealed."""
    if plan.decision is Decision.REJECT or plan.seal not in ("college", "school"):
        return None
    if plan.seal == "college":
        rt.keystore.add_college(plan.college)  # a college created after set-up gets its seal now
        return rt.keystore.seal_identity(plan.college).png
    return rt.keystore.seal_identity().png


def _commit(rt: Runtime, actor: Actor, plan: DecisionPlan, signed: SignedStep, *,
            ip: str | None) -> None:
    """Store the signed revision and project the transition onto the rows, if no one else
    decided since the plan's read (else :class:`ConflictError`, nothing written)."""
    new_sha = rt.store.put(signed.pdf)
    now = utcnow()
    record = signed.record
    try:
        with rt.sessions.begin() as session:
            _claim(session, plan, new_sha, now)
            session.add(ChainRecordRow(document_id=plan.doc_id, position=record.position,
                                       record=record.to_dict(), record_hash=record.record_hash,
                                       pdf_sha256=new_sha))
            _project(rt, find_document(session, plan.doc_id), signed.transition, now)
            audit(session, actor, "reject" if record.decision is Decision.REJECT else "sign",
                  "document", plan.doc_id, ip=ip, position=record.position, role=record.role,
                  decision=str(record.decision))
    except IntegrityError as e:
        raise ConflictError(LOST_RACE) from e


def _claim(session: Session, plan: DecisionPlan, new_sha: str, now: dt.datetime) -> None:
    """The optimistic lock: bump ``lock_version`` only if it is still the one planned on."""
    won = cast("CursorResult[Any]", session.execute(
        update(Document).where(Document.id == plan.doc_id,
                               Document.lock_version == plan.seen_version)
        .values(lock_version=plan.seen_version + 1, current_sha256=new_sha, updated_at=now)
    )).rowcount
    if won != 1:
        raise ConflictError(LOST_RACE)


def _project(rt: Runtime, doc: Document, transition: Transition, now: dt.datetime) -> None:
    """Write what the chain decided onto the document and its steps."""
    record = transition.record
    step = doc.steps[record.position]
    step.decided_at = now
    step.decision = str(record.decision)
    step.comment = record.comment or None
    step.signer_name = record.signer_name
    step.state = StepState.REJECTED if record.decision is Decision.REJECT else StepState.DONE
    doc.status = DOC_STATUS[transition.state]
    if transition.state is ChainState.REJECTED:
        for later in doc.steps[record.position + 1:]:
            later.state = StepState.CANCELLED
        doc.rejection_reason = record.comment
    elif transition.next_position is not None:
        activate_step(rt, doc.steps[transition.next_position], now)
    elif transition.state is ChainState.COMPLETED:
        doc.sealed_at = now
        days = CHSI_DEADLINE_FORMS.get(doc.form_id)
        if days:
            doc.chsi_due_on = rt.calendar.add_working_days(now.date(), days)


def _after_seal(rt: Runtime, doc: Document) -> None:
    """Hand a sealed document to the archive (once the archive is wired in)."""
    rt.on_sealed(rt, doc)


# ---- many at once, and after sealing ------------------------------------------------------

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


