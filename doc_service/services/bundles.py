"""The class's view of a batch: who has signed, flagged or not yet opened; approving the
whole class at once; and the print bundle (one PDF, every student in 学号 order).

The bundle concatenates each student's current stored PDF unchanged, page for page
(pypdf), so every page keeps its own QR code and A4 size. Signature widgets are kept as
they are: the stamps still print, and a reader who wants to verify scans the page's QR.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pypdf import PdfReader, PdfWriter
from pypdf.errors import PyPdfError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from doc_service.errors import NotFoundError, RenderError
from doc_service.services.access import (
    SCHOOL_WIDE,
    Actor,
    can_sign_step,
    require_staff,
    teacher_class_ids,
)
from doc_service.services.audit import audit
from doc_service.services.decisions import BatchOutcome, approve_many
from doc_service.services.runtime import Runtime
from doc_service.storage.batch_models import CorrectionRequest, CorrectionStatus
from doc_service.storage.models import (
    AuditEntry,
    DocStatus,
    Document,
    Role,
    SchoolClass,
    StepState,
    Student,
    User,
)
from signing.roles import STUDENT

LIVE = (DocStatus.IN_PROGRESS, DocStatus.REJECTED, DocStatus.SEALED)
"""States of a student's current document (superseded and voided versions are history)."""


@dataclass(frozen=True)
class ClassOverview:
    """One class, one form: the counts the class teacher and the college head act on."""

    class_id: int
    class_no: str
    college: str
    students: int
    documents: int
    signed: int
    """The student's own step is done."""
    flagged: int
    """An open correction request waits for the registrar."""
    not_opened: int
    """No identity check has succeeded on the document yet (audit ``identity_ok``)."""
    sealed: int
    waiting_for_me: list[str] = field(default_factory=list, repr=False)
    """Ids of the class's documents whose current step is the caller's."""

    def to_dict(self) -> dict[str, Any]:
        return {"class_id": self.class_id, "class_no": self.class_no, "college": self.college,
                "students": self.students, "documents": self.documents, "signed": self.signed,
                "flagged": self.flagged, "not_opened": self.not_opened, "sealed": self.sealed,
                "waiting_for_me": len(self.waiting_for_me)}


def visible_classes(session: Session, user: User) -> list[SchoolClass]:
    q = select(SchoolClass).order_by(SchoolClass.class_no)
    if user.role == Role.CLASS_TEACHER:
        q = q.where(SchoolClass.id.in_(teacher_class_ids(session, user) or {-1}))
    elif user.role not in SCHOOL_WIDE:
        q = q.where(SchoolClass.college_id == user.college_id)
    return list(session.scalars(q))


def _class_for(session: Session, user: User, class_id: int) -> SchoolClass:
    klass = session.get(SchoolClass, class_id)
    if klass is None or klass.id not in {k.id for k in visible_classes(session, user)}:
        raise NotFoundError("没有找到该班级，或您无权查看")
    return klass


def current_documents(session: Session, form_id: str, class_ids: Iterable[int]
                      ) -> dict[int, Document]:
    """Each student's newest live document of the form, by student id."""
    docs = session.scalars(select(Document).where(
        Document.form_id == form_id, Document.class_id.in_(list(class_ids) or [-1]),
        Document.status.in_(LIVE), Document.student_id.is_not(None))
        .order_by(Document.created_at, Document.version))
    return {d.student_id: d for d in docs if d.student_id is not None}


def class_overview(rt: Runtime, actor: Actor, form_id: str) -> list[ClassOverview]:
    """Per visible class: signed / flagged / not yet opened, and what waits for the caller."""
    user = require_staff(actor)
    with rt.sessions() as session:
        classes = visible_classes(session, user)
        ids = [k.id for k in classes]
        counts = dict(session.execute(select(Student.class_id, func.count())
                                      .where(Student.class_id.in_(ids or [-1]))
                                      .group_by(Student.class_id)).all())
        docs = current_documents(session, form_id, ids)
        doc_ids = [d.id for d in docs.values()]
        opened = _opened(session, doc_ids)
        flagged = set(session.scalars(select(CorrectionRequest.document_id).where(
            CorrectionRequest.status == CorrectionStatus.OPEN,
            CorrectionRequest.document_id.in_(doc_ids or ["-"]))))
        out = []
        for klass in classes:
            mine = [d for d in docs.values() if d.class_id == klass.id]
            student_done = [d for d in mine if d.steps and d.steps[0].role == STUDENT
                            and d.steps[0].state == StepState.DONE]
            out.append(ClassOverview(
                class_id=klass.id, class_no=klass.class_no, college=klass.college.name,
                students=counts.get(klass.id, 0), documents=len(mine),
                signed=len(student_done), flagged=sum(1 for d in mine if d.id in flagged),
                not_opened=sum(1 for d in mine if d.id not in opened
                               and d not in student_done),
                sealed=sum(1 for d in mine if d.status == DocStatus.SEALED),
                waiting_for_me=[d.id for d in mine if _waits_for(session, d, actor)]))
        return out


def _opened(session: Session, doc_ids: list[str]) -> set[str]:
    opened: set[str] = set()
    for start in range(0, len(doc_ids), 500):
        chunk = doc_ids[start:start + 500]
        opened |= set(session.scalars(select(AuditEntry.object_id).distinct().where(
            AuditEntry.object_type == "document", AuditEntry.action == "identity_ok",
            AuditEntry.object_id.in_(chunk))))
    return opened


def _waits_for(session: Session, doc: Document, actor: Actor) -> bool:
    step = doc.current_step
    return step is not None and can_sign_step(session, actor, doc, step)


def approve_class(rt: Runtime, actor: Actor, class_id: int, form_id: str
                  ) -> list[BatchOutcome]:
    """全班同意: approve every document of the class whose current step is the caller's.

    Each document still gets its own chain record and signature (``decisions.approve_many``).
    """
    require_staff(actor)
    overview = next((o for o in class_overview(rt, actor, form_id) if o.class_id == class_id),
                    None)
    if overview is None:
        raise NotFoundError("没有找到该班级，或您无权查看")
    return approve_many(rt, actor, overview.waiting_for_me)


def class_bundle(rt: Runtime, actor: Actor, class_id: int, form_id: str) -> bytes:
    """One PDF: every student's current document of ``form_id``, in 学号 order."""
    user = require_staff(actor)
    with rt.sessions.begin() as session:
        klass = _class_for(session, user, class_id)
        students = list(session.scalars(select(Student.id).where(Student.class_id == class_id)
                                        .order_by(Student.student_no)))
        docs = current_documents(session, form_id, [class_id])
        shas = [docs[s].current_sha256 for s in students if s in docs]
        if not shas:
            raise NotFoundError(f"班级 {klass.class_no} 还没有该表单的文书")
        audit(session, actor, "download", "class", str(class_id), kind="bundle",
              form_id=form_id, documents=len(shas))
    writer = PdfWriter()
    try:
        for sha in shas:
            writer.append(PdfReader(io.BytesIO(rt.store.get(sha))), import_outline=False)
        out = io.BytesIO()
        writer.write(out)
    except PyPdfError as e:
        raise RenderError(f"合并班级打印包失败：{e}") from e
    return out.getvalue()

