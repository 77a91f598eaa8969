"""Issuing documents, revising them after a send-back, and reading them.

Issuing is three steps, which ``issue_document`` runs in one transaction:
``plan_issue`` validates with the form's rules and checks the caller's scope and
that the chain resolves from the roster (the student's class gives the class
teacher, the college gives its head, the offices sign as pools); the 文号 is
taken; ``render_draft`` renders the draft PDF (with its QR code) and stores it;
``record_issue`` adds the document and its steps. A batch (``services.batch``)
runs the same steps with the number reserved first, so it renders outside any
lock and several workers issue at once.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from doc_service.errors import (
    DocServiceError,
    FieldError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
    WorkflowError,
)
from doc_service.forms.spec import FormSpec, load_form
from doc_service.forms.validation import validate
from doc_service.numbering import next_number
from doc_service.rendering.context import DocumentMeta
from doc_service.rendering.pdf import BatchRenderer, DocumentRenderer, default_renderer
from doc_service.rendering.qr import new_code
from doc_service.services.access import (
    POOLED_ROLES,
    Actor,
    Staff,
    require_issue,
    require_staff,
    require_view,
    visible_student,
)
from doc_service.services.audit import audit
from doc_service.services.runtime import Runtime
from doc_service.storage.models import (
    College,
    DocStatus,
    Document,
    Role,
    SchoolClass,
    Step,
    StepState,
    Student,
    User,
    new_id,
    utcnow,
)

STEP_DUE_WORKING_DAYS = 3
"""Each signer has this many working days once a document reaches them."""

_KEY = re.compile(r"[A-Za-z0-9_-]{1,64}")
_STUDENT_NO = re.compile(r"[A-Za-z0-9]{1,20}")


def well_formed_key(value: object) -> bool:
    """Document ids and QR codes are short ASCII tokens. Anything else (a NUL byte, which
    PostgreSQL refuses in text, or a megabyte of junk) cannot name a document, so it is
    answered as "not found" without a query."""
    return isinstance(value, str) and _KEY.fullmatch(value) is not None


def _find_document(session: Session, doc_id: str, *, lock: bool = False) -> Document:
    # FOR UPDATE OF documents: PostgreSQL refuses to lock the outer-joined college row.
    doc = (session.get(Document, doc_id, with_for_update={"of": Document} if lock else None)
           if well_formed_key(doc_id) else None)
    if doc is None:
        raise NotFoundError("没有找到该文书，或您无权查看")
    return doc


def _student_by_no(session: Session, student_no: str) -> Student | None:
    return session.scalar(select(Student).where(Student.student_no == student_no))


def _merge_roster(form: FormSpec, student: Student | None, data: dict[str, Any]) -> dict[str, Any]:
    """The roster's values for the form's shared fields, overridden by what was typed."""
    merged: dict[str, Any] = {}
    if student is not None:
        roster = student.form_data()
        merged.update({k: v for k, v in roster.items() if k in form.keys})
    merged.update({k: v for k, v in data.items() if v not in (None, "")})
    return merged


def _resolve_chain(session: Session, form: FormSpec, college: College,
                   klass: SchoolClass | None) -> list[Step]:
    steps: list[Step] = []
    for position, spec in enumerate(form.chain):
        assignee: int | None = None
        if spec.role == Role.CLASS_TEACHER:
            if klass is None or klass.teacher_id is None:
                name = klass.class_no if klass else "（未知班级）"
                raise WorkflowError(f"班级 {name} 尚未设置班主任，无法生成签批流程")
            assignee = klass.teacher_id
        elif spec.role == Role.COLLEGE_HEAD:
            if college.head_id is None:
                raise WorkflowError(f"{college.name} 尚未设置院部负责人，无法生成签批流程")
            assignee = college.head_id
        elif spec.role in POOLED_ROLES:
            # Asked once per session: a batch resolves many chains in one transaction.
            members: dict[str, bool] = session.info.setdefault("pooled_role_members", {})
            if spec.role not in members:
                members[spec.role] = session.scalar(
                    select(User.id).where(User.role == spec.role, User.active.is_(True))
                    .limit(1)) is not None
            if not members[spec.role]:
                raise WorkflowError(f"系统中没有可签批的「{spec.label or spec.role}」账号")
        elif spec.role != "student":
            raise WorkflowError(f"表单的签批角色 {spec.role} 无法解析")
        steps.append(Step(position=position, role=spec.role, label=spec.label,
                          decision_kind=spec.decision, seal=spec.seal, visible=spec.visible,
                          assignee_id=assignee, state=StepState.WAITING))
    return steps


def activate_step(rt: Runtime, step: Step, now: dt.datetime) -> None:
    step.state = StepState.CURRENT
    step.became_current_at = now
    step.due_on = rt.calendar.add_working_days(now.date(), STEP_DUE_WORKING_DAYS)


def _meta(rt: Runtime, number: str, code: str, issued_on: dt.date, doc_id: str,
          version: int) -> DocumentMeta:
    return DocumentMeta.issued(rt.institution, number, code, issued_on=issued_on,
                               version=version, document_id=doc_id)


@dataclass(frozen=True)
class IssuePlan:
    """A checked request to issue ``form`` for ``student``: everything but the 文号."""

    form: FormSpec
    data: dict[str, Any]
    """The cleaned values (roster merged with what was typed)."""
    student_id: int | None
    college_id: int
    class_id: int | None


@dataclass(frozen=True)
class Draft:
    """A rendered and stored draft PDF, not yet recorded as a document."""

    doc_id: str
    number: str
    code: str
    issued_on: dt.date
    pdf_sha256: str
    signature_areas: dict[str, Any]


def plan_issue(session: Session, user: User, form: FormSpec, data: dict[str, Any],
               student_no: str | None) -> IssuePlan:
    """Validate, merge the roster, check the caller's scope and that the chain resolves.

    Reads only: a refused request has taken no number and written nothing."""
    if not isinstance(data, dict):
        raise ValidationError([FieldError("*", "data 应为对象", "type")])
    student_no = student_no or data.get("student_no")
    if student_no and (not isinstance(student_no, str | int) or isinstance(student_no, bool)
                       or not _STUDENT_NO.fullmatch(str(student_no).strip())):
        raise ValidationError([FieldError("student_no", "学号格式不正确（应为字母或数字）",
                                          "format")])
    student_no = str(student_no).strip() if student_no else None
    student = _student_by_no(session, student_no) if student_no else None
    if student_no and student is None and "student_no" not in data:
        raise NotFoundError(f"花名册中没有学号为 {student_no} 的学生")
    if student is not None and not visible_student(session, user, student):
        # The same answer as for an unknown number: staff of another college must not
        # learn that the student exists.
        raise NotFoundError(f"花名册中没有学号为 {student_no} 的学生")
    clean = validate(form, _merge_roster(form, student, data))
    college, klass = _college_and_class(session, user, student, clean)
    require_issue(session, user, student, college.id)
    _resolve_chain(session, form, college, klass)  # refuse now what would fail at the end
    return IssuePlan(form=form, data=clean, student_id=student.id if student else None,
                     college_id=college.id, class_id=klass.id if klass else None)


def render_draft(rt: Runtime, plan: IssuePlan, number: str, *, today: dt.date,
                 doc_id: str | None = None, code: str | None = None, version: int = 1,
                 renderer: DocumentRenderer | None = None) -> Draft:
    """Render the draft PDF with its number and QR code and put it in the file store.

    Touches no table, so a batch renders outside any lock (and passes its overlay
    ``renderer``, see ``rendering.overlay``). The DOCX is made on first
    download (most documents are never edited in Word, and rendering it at issue cost a
    fifth of a batch's time)."""
    doc_id, code = doc_id or new_id(), code or new_code()
    pdf = (renderer or default_renderer()).render(plan.form, plan.data,
                                                  _meta(rt, number, code, today, doc_id, version),
                                                  rt.institution)
    areas = {role: area.to_dict() for role, area in pdf.signature_areas.items()}
    return Draft(doc_id=doc_id, number=number, code=code, issued_on=today,
                 pdf_sha256=rt.store.put(pdf.pdf), signature_areas=areas)


def render_drafts(rt: Runtime, drafts: Sequence[tuple[IssuePlan, str, str, str]], *,
                  today: dt.date, renderer: BatchRenderer) -> list[Draft | DocServiceError]:
    """:func:`render_draft` for several documents at once, each given as its plan and
    reserved 文号, document id and code: each result is the stored draft, or the error
    that refused it (one bad document does not fail the others). A batch passes its
    overlay ``renderer``, which lays out a group's values together."""
    requests = [(plan.form, plan.data, _meta(rt, number, code, today, doc_id, 1),
                 rt.institution) for plan, number, doc_id, code in drafts]
    rendered = renderer.render_many(requests)
    out: list[Draft | DocServiceError] = []
    for (_plan, number, doc_id, code), pdf in zip(drafts, rendered, strict=True):
        if isinstance(pdf, DocServiceError):
            out.append(pdf)
            continue
        areas = {role: area.to_dict() for role, area in pdf.signature_areas.items()}
        out.append(Draft(doc_id=doc_id, number=number, code=code, issued_on=today,
                         pdf_sha256=rt.store.put(pdf.pdf), signature_areas=areas))
    return out


def record_issue(rt: Runtime, session: Session, actor: Actor, user: User, plan: IssuePlan,
                 draft: Draft, *, ip: str | None = None) -> Document:
    """Add the document (version 1) for ``draft`` in ``session``'s transaction and start
    its chain (resolved again here, from the roster as it is now)."""
    college = session.get(College, plan.college_id)
    klass = session.get(SchoolClass, plan.class_id) if plan.class_id is not None else None
    assert college is not None
    steps = _resolve_chain(session, plan.form, college, klass)
    data = plan.data
    doc = Document(id=draft.doc_id, series_id=draft.doc_id, version=1, form_id=plan.form.id,
                   number=draft.number, code=draft.code, status=DocStatus.IN_PROGRESS,
                   data=data, student_id=plan.student_id, student_no=data.get("student_no"),
                   student_name=data.get("name", ""), college_id=plan.college_id,
                   class_id=plan.class_id, issuer_id=user.id, issued_on=draft.issued_on,
                   draft_sha256=draft.pdf_sha256, current_sha256=draft.pdf_sha256,
                   docx_sha256=None, signature_areas=draft.signature_areas)
    doc.steps = steps
    activate_step(rt, steps[0], utcnow())
    session.add(doc)
    audit(session, actor, "issue", "document", draft.doc_id, ip=ip, form_id=plan.form.id,
          number=draft.number)
    return doc


def issue_document(rt: Runtime, actor: Actor, form_id: str, data: dict[str, Any], *,
                   student_no: str | None = None, today: dt.date | None = None,
                   ip: str | None = None) -> Document:
    """Issue a new document (version 1) and start its chain, in one transaction: the 文号
    is taken last and given back if anything fails (no gap)."""
    user = require_staff(actor)
    form = load_form(form_id)
    today = today or dt.date.today()
    with rt.sessions.begin() as session:
        plan = plan_issue(session, user, form, data, student_no)
        seq = next_number(session.connection(), form.id, today.year)
        draft = render_draft(rt, plan, form.format_number(year=today.year, seq=seq),
                             today=today)
        record_issue(rt, session, actor, user, plan, draft, ip=ip)
    return load_document(rt, draft.doc_id)


def _college_and_class(session: Session, user: User, student: Student | None,
                       data: dict[str, Any]) -> tuple[College, SchoolClass | None]:
    if student is not None:
        return student.college, student.klass
    klass = None
    if data.get("class_no"):
        klass = session.scalar(select(SchoolClass).where(SchoolClass.class_no == data["class_no"]))
    if klass is not None:
        return klass.college, klass
    college = None
    if data.get("college"):
        college = session.scalar(select(College).where(College.name == data["college"]))
    if college is None and user.college_id is not None:
        college = session.get(College, user.college_id)
    if college is None:
        raise ValidationError([FieldError("college", "院系不在本校院系名单中", "unknown_college")])
    return college, None


def revise_document(rt: Runtime, actor: Actor, doc_id: str, data: dict[str, Any], *,
                    today: dt.date | None = None, ip: str | None = None) -> Document:
    """After a send-back: issue the corrected data as a new version; its chain starts again."""
    user = require_staff(actor)
    today = today or dt.date.today()
    with rt.sessions.begin() as session:
        old = _locked_document(session, doc_id)
        require_view(session, actor, old)
        # Who may revise is a permission (403) and is checked before the state (409),
        # so a reader never learns more than "not yours to revise".
        if user.id != old.issuer_id and user.role != Role.REGISTRAR:
            raise PermissionDeniedError("只有原出具人或教务处学籍科可以修改重出")
        if old.status != DocStatus.REJECTED:
            raise WorkflowError("只有被退回的文书可以修改后重新出具")
        form = load_form(old.form_id)
        student = session.get(Student, old.student_id) if old.student_id else None
        clean = validate(form, {**old.data, **data})
        college, klass = _college_and_class(session, user, student, clean)
        require_issue(session, user, student, college.id)
        steps = _resolve_chain(session, form, college, klass)
        plan = IssuePlan(form=form, data=clean, student_id=old.student_id,
                         college_id=college.id, class_id=klass.id if klass else old.class_id)
        draft = render_draft(rt, plan, old.number, today=today, version=old.version + 1)
        new_doc_id, code = draft.doc_id, draft.code
        pdf_sha, areas = draft.pdf_sha256, draft.signature_areas
        doc = Document(id=new_doc_id, series_id=old.series_id, version=old.version + 1,
                       form_id=old.form_id, number=old.number, code=code,
                       status=DocStatus.IN_PROGRESS, data=clean, student_id=old.student_id,
                       student_no=clean.get("student_no"), student_name=clean.get("name", ""),
                       college_id=college.id, class_id=klass.id if klass else old.class_id,
                       issuer_id=user.id, issued_on=today, draft_sha256=pdf_sha,
                       current_sha256=pdf_sha, docx_sha256=None, signature_areas=areas)
        doc.steps = steps
        activate_step(rt, steps[0], utcnow())
        old.status = DocStatus.SUPERSEDED
        old.superseded_by = new_doc_id
        old.lock_version += 1
        session.add(doc)
        audit(session, actor, "revise", "document", new_doc_id, ip=ip, previous=old.id,
              version=doc.version)
    return load_document(rt, new_doc_id)


def load_document(rt: Runtime, doc_id: str) -> Document:
    """A document with its college and steps loaded, usable after the session closes."""
    with rt.sessions() as session:
        return _find_document(session, doc_id)


def _locked_document(session: Session, doc_id: str) -> Document:
    return _find_document(session, doc_id, lock=True)


def get_document(rt: Runtime, actor: Actor, doc_id: str, *, ip: str | None = None,
                 log: bool = True) -> Document:
    with rt.sessions.begin() as session:
        doc = _find_document(session, doc_id)
        require_view(session, actor, doc)
        if log:
            audit(session, actor, "view", "document", doc.id, ip=ip)
        return doc


def document_by_code(rt: Runtime, code: str) -> Document:
    with rt.sessions() as session:
        doc = (session.scalar(select(Document).where(Document.code == code.upper()))
               if well_formed_key(code) else None)
        if doc is None:
            raise NotFoundError("二维码无效：没有找到对应的文书")
        return doc


def history(rt: Runtime, actor: Actor, doc: Document) -> list[Document]:
    """Every version of the document's series, oldest first (for the history panel)."""
    with rt.sessions() as session:
        docs = list(session.scalars(select(Document).where(Document.series_id == doc.series_id)
                                    .order_by(Document.version)))
        return [d for d in docs if d.id == doc.id or isinstance(actor, Staff)]


def pdf_bytes(rt: Runtime, actor: Actor, doc_id: str, *, ip: str | None = None) -> bytes:
    with rt.sessions.begin() as session:
        doc = _find_document(session, doc_id)
        require_view(session, actor, doc)
        audit(session, actor, "download", "document", doc.id, ip=ip, kind="pdf")
        sha = doc.current_sha256
    return rt.store.get(sha)


def docx_bytes(rt: Runtime, actor: Actor, doc_id: str, *, ip: str | None = None) -> bytes:
    with rt.sessions.begin() as session:
        doc = _find_document(session, doc_id)
        require_view(session, actor, doc)
        require_staff(actor, Role.ISSUER, Role.REGISTRAR)
        audit(session, actor, "download", "document", doc.id, ip=ip, kind="docx")
        sha = doc.docx_sha256
        if sha is None:
            from doc_service.rendering.docx import render_docx

            form = load_form(doc.form_id)
            data = render_docx(form, doc.data, _meta(rt, doc.number, doc.code, doc.issued_on,
                                                     doc.id, doc.version), rt.institution)
            doc.docx_sha256 = rt.store.put(data)
            return data
    return rt.store.get(sha)


def list_documents(rt: Runtime, actor: Actor, *, form_id: str | None = None,
                   student_no: str | None = None, status: str | None = None,
                   page: int = 1, per_page: int = 20) -> tuple[list[Document], int]:
    """Documents the caller may see, newest first, one page at a time."""
    from sqlalchemy import func

    from doc_service.services.access import SCHOOL_WIDE, teacher_class_ids

    user = require_staff(actor)
    with rt.sessions() as session:
        q = select(Document)
        if user.role not in SCHOOL_WIDE:
            if user.role == Role.CLASS_TEACHER:
                q = q.where(Document.class_id.in_(teacher_class_ids(session, user) or {-1}))
            else:
                q = q.where(Document.college_id == user.college_id)
        if form_id:
            q = q.where(Document.form_id == form_id)
        if student_no:
            q = q.where(Document.student_no == student_no)
        if status:
            q = q.where(Document.status == status)
        total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
        docs = list(session.scalars(q.order_by(Document.created_at.desc(), Document.id)
                                    .offset((page - 1) * per_page).limit(per_page)))
        return docs, total
