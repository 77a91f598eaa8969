"""Corrections: a student flags fields of their own document as wrong, with the right value;
the registrar accepts (the document is reissued with the corrected data) or declines.

Accepting is one transaction: the current version is sent back with the student's
reason (not as a signed chain record: the registrar is not the signer whose turn it is,
so the send-back is a status change, audited, and guarded by ``lock_version`` against a
signature landing at the same moment), ``documents.revise_document`` issues the next
version inside the same transaction, and the roster row takes the corrected values so the
next batch prints them too.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from doc_service.errors import (
    ConflictError,
    FieldError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
    WorkflowError,
)
from doc_service.forms.spec import load_form
from doc_service.forms.validation import validate
from doc_service.services.access import (
    SCHOOL_WIDE,
    Actor,
    StudentActor,
    can_view,
    require_staff,
)
from doc_service.services.audit import audit
from doc_service.services.documents import revise_document
from doc_service.services.runtime import Runtime, joined_runtime
from doc_service.storage.batch_models import CorrectionRequest, CorrectionStatus
from doc_service.storage.models import (
    DocStatus,
    Document,
    Role,
    StepState,
    Student,
    utcnow,
)

NOT_CORRECTABLE = {"student_no": "学号", "college": "院系", "class_no": "班号"}
"""Changing these is a status change (转专业, 转学 …), not a correction of a record."""
MAX_NOTE = 500


def correctable_fields(form_id: str) -> list[Any]:
    """The form's fields a student may flag (everything printed except identity/placement)."""
    return [f for f in load_form(form_id).fields if f.key not in NOT_CORRECTABLE]


def flag_correction(rt: Runtime, student_actor: Actor, doc_id: str, changes: dict[str, Any],
                    note: str = "") -> CorrectionRequest:
    """The student says which fields are wrong and what is right; routed to the registrar."""
    if not isinstance(student_actor, StudentActor) or student_actor.document_id != doc_id:
        raise PermissionDeniedError("只有该文书的学生本人可以申请更正")
    note = (note or "").strip()
    if len(note) > MAX_NOTE:
        raise ValidationError([FieldError("note", f"说明最多{MAX_NOTE}字", "max_length")])
    with rt.sessions.begin() as session:
        doc = session.get(Document, doc_id)
        if doc is None:
            raise NotFoundError("没有找到该文书，或您无权查看")
        if doc.status != DocStatus.IN_PROGRESS:
            raise WorkflowError("该文书已不在签批中，不能再申请更正")
        diff = _checked_changes(doc, changes)
        if session.scalar(select(CorrectionRequest.id).where(
                CorrectionRequest.document_id == doc_id,
                CorrectionRequest.status == CorrectionStatus.OPEN)) is not None:
            raise ConflictError("已提交过更正申请，正在等待教务处学籍科处理")
        request = CorrectionRequest(document_id=doc.id, series_id=doc.series_id,
                                    student_no=student_actor.student_no,
                                    college_id=doc.college_id, class_id=doc.class_id,
                                    changes=diff, note=note, status=CorrectionStatus.OPEN)
        session.add(request)
        session.flush()
        # Field names only: the values may be personal data (ID number, birth date).
        audit(session, student_actor, "correction_flag", "document", doc.id,
              request=request.id, fields=sorted(diff))
        return request


def _checked_changes(doc: Document, changes: dict[str, Any]) -> dict[str, Any]:
    form = load_form(doc.form_id)
    if not isinstance(changes, dict) or not changes:
        raise ValidationError([FieldError("*", "请至少指出一项有误的信息并填写正确内容",
                                          "required")])
    errors = []
    for key in changes:
        if key in NOT_CORRECTABLE:
            errors.append(FieldError(key, f"{NOT_CORRECTABLE[key]}的变更属于学籍异动，"
                                     "请联系学院办理", "not_correctable"))
        elif key not in form.keys:
            errors.append(FieldError(key, "该表单没有这个字段", "unknown_field"))
    if errors:
        raise ValidationError(errors)
    # The form's own rules, on the document as it would be after the correction.
    clean = validate(form, {**doc.data, **changes})
    diff = {k: {"old": doc.data.get(k), "new": clean.get(k)} for k in changes
            if clean.get(k) != doc.data.get(k)}
    if not diff:
        raise ValidationError([FieldError("*", "填写的内容与文书上的一致，无需更正", "unchanged")])
    return diff


def list_corrections(rt: Runtime, actor: Actor, status: str | None = CorrectionStatus.OPEN,
                     ) -> list[CorrectionRequest]:
    """Requests the caller may see, oldest first (the registrar's queue is school-wide)."""
    user = require_staff(actor)
    with rt.sessions() as session:
        q = select(CorrectionRequest).order_by(CorrectionRequest.created_at)
        if status:
            q = q.where(CorrectionRequest.status == status)
        if user.role not in SCHOOL_WIDE:
            q = q.where(CorrectionRequest.college_id == user.college_id)
        return list(session.scalars(q))


def corrections_for(rt: Runtime, actor: Actor, doc_id: str) -> list[CorrectionRequest]:
    """A document's requests, newest first (the student's own, or staff who see it)."""
    with rt.sessions() as session:
        doc = session.get(Document, doc_id)
        if doc is None or not can_view(session, actor, doc):
            raise NotFoundError("没有找到该文书，或您无权查看")
        return list(session.scalars(select(CorrectionRequest).where(
            CorrectionRequest.series_id == doc.series_id)
            .order_by(CorrectionRequest.created_at.desc())))


def accept_correction(rt: Runtime, actor: Actor, request_id: int, remark: str = ""
                      ) -> CorrectionRequest:
    """Reissue the document with the corrected data; its chain starts again."""
    user = require_staff(actor, Role.REGISTRAR)
    remark = (remark or "").strip()[:MAX_NOTE]
    with rt.engine.connect() as conn, conn.begin():
        joined = joined_runtime(rt, conn)
        with joined.sessions.begin() as session:
            request = _open_request(session, request_id)
            doc = session.get(Document, request.document_id)
            assert doc is not None
            if doc.status != DocStatus.IN_PROGRESS:
                raise WorkflowError("该文书已不在签批中（已办结、已退回或已被取代），"
                                    "请与出具学院联系处理")
            corrected = {k: v["new"] for k, v in request.changes.items()}
            validate(load_form(doc.form_id), {**doc.data, **corrected})
            reason = "学生申请更正：" + "；".join(
                f"{_label(doc.form_id, k)}应为“{v['new']}”" for k, v in request.changes.items())
            _send_back(session, doc, reason + (f"（{request.note}）" if request.note else ""))
            _update_roster(session, doc, corrected)
            audit(session, actor, "correction_accept", "document", doc.id, request=request_id,
                  fields=sorted(request.changes))
            doc_id = doc.id
        try:
            new_doc = revise_document(joined, actor, doc_id, corrected)
        except IntegrityError as e:
            raise ConflictError("更正后的信息与花名册中其他学生冲突（如身份证号重复）") from e
        with joined.sessions.begin() as session:
            accepted = session.get(CorrectionRequest, request_id)
            if accepted is None:
                raise NotFoundError("没有找到该更正申请")
            accepted.status = CorrectionStatus.ACCEPTED
            accepted.decided_at = utcnow()
            accepted.decided_by = user.id
            accepted.reason = remark or None
            accepted.new_document_id = new_doc.id
    return _request(rt, request_id)


def decline_correction(rt: Runtime, actor: Actor, request_id: int, reason: str
                       ) -> CorrectionRequest:
    """Keep the document as it is, telling the student why."""
    user = require_staff(actor, Role.REGISTRAR)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError([FieldError("reason", "不予更正时请填写理由", "required")])
    with rt.sessions.begin() as session:
        request = _open_request(session, request_id)
        request.status = CorrectionStatus.DECLINED
        request.decided_at = utcnow()
        request.decided_by = user.id
        request.reason = reason[:MAX_NOTE]
        audit(session, actor, "correction_decline", "document", request.document_id,
              request=request_id)
    return _request(rt, request_id)


def _open_request(session: Any, request_id: int) -> CorrectionRequest:
    request = session.get(CorrectionRequest, request_id, with_for_update=True)
    if request is None:
        raise NotFoundError("没有找到该更正申请")
    if request.status != CorrectionStatus.OPEN:
        raise ConflictError("该更正申请已处理过")
    return request  # type: ignore[no-any-return]


def _request(rt: Runtime, request_id: int) -> CorrectionRequest:
    with rt.sessions() as session:
        request = session.get(CorrectionRequest, request_id)
        assert request is not None
        return request


def _send_back(session: Any, doc: Document, reason: str) -> None:
    """The current version goes back to the issuer with the reason, as a send-back does."""
    won = session.execute(update(Document).where(
        Document.id == doc.id, Document.lock_version == doc.lock_version,
        Document.status == DocStatus.IN_PROGRESS)
        .values(status=DocStatus.REJECTED, rejection_reason=reason[:2000],
                lock_version=doc.lock_version + 1, updated_at=utcnow())).rowcount
    if won != 1:
        raise ConflictError("该文书刚刚有人签批，请刷新后再处理更正申请")
    now = utcnow()
    for step in doc.steps:
        if step.state == StepState.CURRENT:
            step.state = StepState.REJECTED
            step.decided_at = now
            step.decision = "reject"
            step.comment = reason[:2000]
        elif step.state == StepState.WAITING:
            step.state = StepState.CANCELLED
    session.flush()


def _update_roster(session: Any, doc: Document, corrected: dict[str, Any]) -> None:
    if doc.student_id is None:
        return
    student = session.get(Student, doc.student_id)
    if student is None:
        return
    for key, value in corrected.items():
        if key in Student.SHARED_KEYS:
            setattr(student, key, value)
    session.flush()


def _label(form_id: str, key: str) -> str:
    form = load_form(form_id)
    return next((f.label for f in form.fields if f.key == key), key)
