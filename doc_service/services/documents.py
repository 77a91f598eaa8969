"""Issuing documents, revising them after a send-back, and reading them.

Issuing is three steps, which ``issue_document`` runs in one transaction:
``plan_issue`` validates with the form's rules and checks the caller's scope and
that the chain resolves from the roster (the student's class gives the class
teacher, the college gives its head, the offices sign as pools); the 文号 is
taken (``take_number``); ``render_draft`` renders the draft PDF (with its QR code,
``build_meta``) and stores it; ``record_issue`` adds the document and its steps.
A batch (``services.batch``) runs the same steps with the number reserved first, so
it renders outside any lock and several workers issue at once; the command line
(``doc_service.issuing``) validates, numbers and renders the same way and records nothing.

The ports a step uses are arguments, defaulting from the runtime: the renderer
(``default_renderer()``), the file store (``rt.store``) and the clock
(:data:`SYSTEM_CLOCK`), so a test passes small fakes.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Connection, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from doc_service.config import Institution
from doc_service.errors import (
    ConflictError,
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
from doc_service.rendering.docx import render_docx
from doc_service.rendering.pdf import (
    BatchRenderer,
    DocumentRenderer,
    RenderedPdf,
    default_renderer,
)
from doc_service.rendering.qr import new_code
from doc_service.services.access import (
    POOLED_ROLES,
    SCHOOL_WIDE,
    Actor,
    Staff,
    require_issue,
    require_staff,
    require_view,
    teacher_class_ids,
    visible_student,
)
from doc_service.services.audit import audit
from doc_service.services.runtime import ContentStore, Runtime
from doc_service.storage.models import (
    OPEN_DOCUMENT_INDEX,
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
    open_slot_of,
    utcnow,
)

STEP_DUE_WORKING_DAYS = 3
"""Each signer has this many working days once a document reaches them."""

_KEY = re.compile(r"[A-Za-z0-9_-]{1,64}")
_STUDENT_NO = re.compile(r"[A-Za-z0-9]{1,20}")


class OpenDocumentExistsError(ConflictError):
    """The student has this form open already (in signing or sent back): the database's
    one-open-document index refused the second (``storage.models.OPEN_DOCUMENT_INDEX``)."""

    code = "open_document_exists"


def _open_conflict(e: IntegrityError) -> bool:
    """Whether an insert broke the one-open-document index (PostgreSQL names the index,
    SQLite its columns)."""
    text = str(e.orig)
    return OPEN_DOCUMENT_INDEX in text or "documents.open_slot" in text


def flush_new_document(session: Session, form: FormSpec, doc: Document) -> None:
    """Write the new ``doc`` now, so that a second open document of the student's form
    is refused here as :class:`OpenDocumentExistsError` (409), not at commit as a 500.
    The caller's transaction (or savepoint) is spoiled by it and must be rolled back."""
    try:
        session.flush()
    except IntegrityError as e:
        if not _open_conflict(e):
            raise
        year = f"（{doc.open_slot} 学年）" if doc.open_slot else ""
        raise OpenDocumentExistsError(
            f"{doc.student_name or doc.student_no}（学号 {doc.student_no}）已有签批中或退回待改的"
            f"「{form.title}」{year}，不能重复出具：请先办结或作废原文书") from e


class Clock(Protocol):
    """Where issuing reads the time: ``now`` in UTC, naive (as the tables store it), and
    ``today``, the date a document issued now carries."""

    def now(self) -> dt.datetime: ...

    def today(self) -> dt.date: ...


@dataclass(frozen=True)
class SystemClock:
    """The machine's clock."""

    def now(self) -> dt.datetime:
        return utcnow()

    def today(self) -> dt.date:
        return dt.date.today()


SYSTEM_CLOCK: Clock = SystemClock()


def well_formed_key(value: object) -> bool:
    """Document ids and QR codes are short ASCII tokens. Anything else (a NUL byte, which
    PostgreSQL refuses in text, or a megabyte of junk) cannot name a document, so it is
    answered as "not found" without a query."""
    return isinstance(value, str) and _KEY.fullmatch(value) is not None


def find_document(session: Session, doc_id: str, *, lock: bool = False) -> Document:
    """The document ``doc_id`` (locked for update with ``lock``), or NotFoundError. Checks no
    access: the caller does (``require_view``)."""
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
    """Make ``step`` the one that waits, due ``STEP_DUE_WORKING_DAYS`` working days on."""
    step.state = StepState.CURRENT
    step.became_current_at = now
    step.due_on = rt.calendar.add_working_days(now.date(), STEP_DUE_WORKING_DAYS)


def build_meta(institution: Institution, number: str, code: str, *, issued_on: dt.date,
               document_id: str = "", version: int = 1) -> DocumentMeta:
    """What identifies a document on paper (文号, QR code, date, version): the one way
    issuing, revising, the DOCX download and the command line make it."""
    return DocumentMeta.issued(institution, number, code, issued_on=issued_on,
                               version=version, document_id=document_id)


def _meta(rt: Runtime, number: str, code: str, issued_on: dt.date, doc_id: str,
          version: int) -> DocumentMeta:
    return build_meta(rt.institution, number, code, issued_on=issued_on, document_id=doc_id,
                      version=version)


def take_number(conn: Connection, form: FormSpec, today: dt.date) -> str:
    """The form's next 文号 in ``today``'s year, taken in ``conn``'s transaction: a rollback
    gives it back, so a refused document leaves no gap."""
    return form.format_number(year=today.year, seq=next_number(conn, form.id, today.year))


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


@dataclass(frozen=True)
class RenderedDocument:
    """A document rendered in memory: what the command line writes out, and what
    ``render_draft`` stores."""

    form: FormSpec
    data: dict[str, Any]
    """The cleaned data that was rendered."""
    meta: DocumentMeta
    pdf: RenderedPdf
    docx: bytes | None


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


def render_form(form: FormSpec, data: dict[str, Any], meta: DocumentMeta,
                institution: Institution, *, renderer: DocumentRenderer | None = None,
                with_docx: bool = False) -> RenderedDocument:
    """The render step alone: cleaned ``data`` as a PDF (and, with ``with_docx``, a DOCX),
    in memory. Raises RenderError (or MissingGlyphError, per field); stores nothing."""
    pdf = (renderer or default_renderer()).render(form, data, meta, institution)
    docx = render_docx(form, data, meta, institution) if with_docx else None
    return RenderedDocument(form=form, data=data, meta=meta, pdf=pdf, docx=docx)


def render_draft(rt: Runtime, plan: IssuePlan, number: str, *, today: dt.date,
                 doc_id: str | None = None, code: str | None = None, version: int = 1,
                 renderer: DocumentRenderer | None = None,
                 store: ContentStore | None = None) -> Draft:
    """Render the draft PDF with its number and QR code and put it in the file store
    (``rt.store`` unless ``store`` is given).

    Touches no table, so a batch renders outside any lock (and passes its overlay
    ``renderer``, see ``rendering.overlay``). The DOCX is made on first
    download (most documents are never edited in Word, and rendering it at issue cost a
    fifth of a batch's time)."""
    doc_id, code = doc_id or new_id(), code or new_code()
    pdf = render_form(plan.form, plan.data, _meta(rt, number, code, today, doc_id, version),
                      rt.institution, renderer=renderer).pdf
    areas = {role: area.to_dict() for role, area in pdf.signature_areas.items()}
    return Draft(doc_id=doc_id, number=number, code=code, issued_on=today,
                 pdf_sha256=(store or rt.store).put(pdf.pdf), signature_areas=areas)


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


def _new_document(plan: IssuePlan, draft: Draft, user: User, steps: list[Step], *,
                  series_id: str, version: int) -> Document:
    data = plan.data
    doc = Document(id=draft.doc_id, series_id=series_id, version=version, form_id=plan.form.id,
                   number=draft.number, code=draft.code, status=DocStatus.IN_PROGRESS,
                   data=data, student_id=plan.student_id, student_no=data.get("student_no"),
                   student_name=data.get("name", ""), college_id=plan.college_id,
                   class_id=plan.class_id, issuer_id=user.id, issued_on=draft.issued_on,
                   draft_sha256=draft.pdf_sha256, current_sha256=draft.pdf_sha256,
                   docx_sha256=None, signature_areas=draft.signature_areas,
                   open_slot=open_slot_of(data))
    doc.steps = steps
    return doc


def record_issue(rt: Runtime, session: Session, actor: Actor, user: User, plan: IssuePlan,
                 draft: Draft, *, ip: str | None = None, clock: Clock | None = None) -> Document:
    """Add the document (version 1) for ``draft`` in ``session``'s transaction and start
    its chain (resolved again here, from the roster as it is now)."""
    college = session.get(College, plan.college_id)
    klass = session.get(SchoolClass, plan.class_id) if plan.class_id is not None else None
    assert college is not None
    doc = _new_document(plan, draft, user, _resolve_chain(session, plan.form, college, klass),
                        series_id=draft.doc_id, version=1)
    activate_step(rt, doc.steps[0], (clock or SYSTEM_CLOCK).now())
    session.add(doc)
    audit(session, actor, "issue", "document", draft.doc_id, ip=ip, form_id=plan.form.id,
          number=draft.number)
    flush_new_document(session, plan.form, doc)
    return doc


def issue_document(rt: Runtime, actor: Actor, form_id: str, data: dict[str, Any], *,
                   student_no: str | None = None, ip: str | None = None,
                   renderer: DocumentRenderer | None = None, store: ContentStore | None = None,
                   clock: Clock | None = None) -> Document:
    """Issue a new document (version 1) and start its chain, in one transaction: the 文号
    is taken last and given back if anything fails (no gap)."""
    user = require_staff(actor)
    form = load_form(form_id)
    clock = clock or SYSTEM_CLOCK
    today = clock.today()
    with rt.sessions.begin() as session:
        plan = plan_issue(session, user, form, data, student_no)
        number = take_number(session.connection(), form, today)
        draft = render_draft(rt, plan, number, today=today, renderer=renderer, store=store)
        record_issue(rt, session, actor, user, plan, draft, ip=ip, clock=clock)
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
                    ip: str | None = None, renderer: DocumentRenderer | None = None,
                    store: ContentStore | None = None, clock: Clock | None = None) -> Document:
    """After a send-back: issue the corrected data as a new version; its chain starts again."""
    user = require_staff(actor)
    clock = clock or SYSTEM_CLOCK
    today = clock.today()
    with rt.sessions.begin() as session:
        old = find_document(session, doc_id, lock=True)
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
        draft = render_draft(rt, plan, old.number, today=today, version=old.version + 1,
                             renderer=renderer, store=store)
        doc = _new_document(plan, draft, user, steps, series_id=old.series_id,
                            version=old.version + 1)
        activate_step(rt, steps[0], clock.now())
        old.status = DocStatus.SUPERSEDED
        old.superseded_by = draft.doc_id
        old.lock_version += 1
        session.flush()  # the old version is no longer open before the new one is
        session.add(doc)
        audit(session, actor, "revise", "document", draft.doc_id, ip=ip, previous=old.id,
              version=doc.version)
        flush_new_document(session, form, doc)
    return load_document(rt, draft.doc_id)


def load_document(rt: Runtime, doc_id: str) -> Document:
    """A document with its college and steps loaded, usable after the session closes."""
    with rt.sessions() as session:
        return find_document(session, doc_id)


def get_document(rt: Runtime, actor: Actor, doc_id: str, *, ip: str | None = None,
                 log: bool = True) -> Document:
    with rt.sessions.begin() as session:
        doc = find_document(session, doc_id)
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
        doc = find_document(session, doc_id)
        require_view(session, actor, doc)
        audit(session, actor, "download", "document", doc.id, ip=ip, kind="pdf")
        sha = doc.current_sha256
    return rt.store.get(sha)


def docx_bytes(rt: Runtime, actor: Actor, doc_id: str, *, ip: str | None = None) -> bytes:
    with rt.sessions.begin() as session:
        doc = find_document(session, doc_id)
        require_view(session, actor, doc)
        require_staff(actor, Role.ISSUER, Role.REGISTRAR)
        audit(session, actor, "download", "document", doc.id, ip=ip, kind="docx")
        sha = doc.docx_sha256
        if sha is None:
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
