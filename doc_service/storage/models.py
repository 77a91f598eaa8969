"""The service's tables (SQLAlchemy 2 ORM), shared by SQLite and PostgreSQL.

People and the roster (colleges, classes, staff, students), documents with
their versions, approval steps and signed chain records, and the audit log.
PDF bytes are not stored here: rows carry SHA-256 keys into the
content-addressed file store (``archive.store``). The rows of a chain are a
projection of ``signing.chain.ApprovalChain``'s transitions; the few rules read
back from them (the current step, who may sign a step) are written here once.
"""

from __future__ import annotations

import datetime as dt
import uuid
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    select,
    text,
)
from sqlalchemy.ext.hybrid import hybrid_method
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship

from doc_service.db import metadata
from signing.roles import ROLE_LABELS, STUDENT


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def new_id() -> str:
    return uuid.uuid4().hex


class Base(DeclarativeBase):
    metadata = metadata
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class Role(StrEnum):
    ISSUER = "issuer"                # 学院学籍秘书
    CLASS_TEACHER = "class_teacher"  # 班主任 / 辅导员
    COLLEGE_HEAD = "college_head"    # 院部主要负责人
    REGISTRAR = "registrar"          # 教务处学籍科
    APPROVING_OFFICE = "approving_office"  # 招生办 / 学生处
    ARCHIVIST = "archivist"          # 档案室
    ADMIN = "admin"


class DocStatus(StrEnum):
    IN_PROGRESS = "in_progress"  # chain running
    REJECTED = "rejected"        # sent back; waits for the issuer's revision
    SEALED = "sealed"            # chain complete, final PDF sealed
    SUPERSEDED = "superseded"    # replaced by a newer version
    VOIDED = "voided"


OPEN_STATUSES = (DocStatus.IN_PROGRESS, DocStatus.REJECTED)
"""A document in signing or sent back for revision: the student's one open paper of its
form (and academic year) until it is sealed, superseded or voided."""

OPEN_DOCUMENT_INDEX = "uq_documents_open"
"""The partial unique index (migration 0008) holding one open document per student,
form and slot: two racing issuers cannot both insert one."""

_OPEN_CONDITION = text("status IN ('in_progress', 'rejected')")


def open_slot_of(data: dict[str, Any]) -> str:
    """What tells two open documents of one form for one student apart: the academic
    year for the forms that carry one (学籍电子注册信息核对表 is once per 学年), else
    nothing (one open document of the form at a time)."""
    return str(data.get("academic_year") or "").strip()[:20]


STATUS_LABELS = {
    DocStatus.IN_PROGRESS: "签批中",
    DocStatus.REJECTED: "已退回",
    DocStatus.SEALED: "已办结",
    DocStatus.SUPERSEDED: "已被新版本取代",
    DocStatus.VOIDED: "已作废",
}


class StepState(StrEnum):
    WAITING = "waiting"
    CURRENT = "current"
    DONE = "done"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


class College(Base):
    __tablename__ = "colleges"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(60), unique=True)
    head_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", use_alter=True))


class SchoolClass(Base):
    __tablename__ = "classes"
    id: Mapped[int] = mapped_column(primary_key=True)
    class_no: Mapped[str] = mapped_column(String(30), unique=True)
    college_id: Mapped[int] = mapped_column(ForeignKey("colleges.id"))
    major: Mapped[str] = mapped_column(String(60), default="")
    grade: Mapped[int | None] = mapped_column(Integer)
    teacher_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", use_alter=True))
    college: Mapped[College] = relationship(lazy="joined")


class User(Base):
    """A staff account. Students have no account (they prove identity per document)."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(40))
    role: Mapped[str] = mapped_column(String(20))
    college_id: Mapped[int | None] = mapped_column(ForeignKey("colleges.id"))
    password_hash: Mapped[str] = mapped_column(String(200))
    api_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Kept in the signed session cookie at login and compared on every request: bumping it
    # (logout, password change, disabling) ends every session of this account server-side.
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    college: Mapped[College | None] = relationship(foreign_keys=[college_id], lazy="joined")

    @property
    def role_label(self) -> str:
        return ROLE_LABELS.get(self.role, self.role)


class Student(Base):
    """A roster entry, keyed by 学号; fields use the forms' shared keys."""

    __tablename__ = "students"
    id: Mapped[int] = mapped_column(primary_key=True)
    student_no: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(30))
    gender: Mapped[str] = mapped_column(String(2))
    id_number: Mapped[str] = mapped_column(String(18), unique=True)
    exam_no: Mapped[str | None] = mapped_column(String(14))
    ethnicity: Mapped[str | None] = mapped_column(String(20))
    birth_date: Mapped[str | None] = mapped_column(String(10))
    enrollment_month: Mapped[str | None] = mapped_column(String(7))
    school: Mapped[str | None] = mapped_column(String(40))
    major: Mapped[str | None] = mapped_column(String(40))
    duration_years: Mapped[int | None] = mapped_column(Integer)
    level: Mapped[str | None] = mapped_column(String(10))
    admission_type: Mapped[str | None] = mapped_column(String(20))
    study_mode: Mapped[str | None] = mapped_column(String(10))
    phone: Mapped[str | None] = mapped_column(String(20))
    address: Mapped[str | None] = mapped_column(String(80))
    grade: Mapped[int | None] = mapped_column(Integer)
    college_id: Mapped[int] = mapped_column(ForeignKey("colleges.id"), index=True)
    class_id: Mapped[int] = mapped_column(ForeignKey("classes.id"), index=True)
    college: Mapped[College] = relationship(lazy="joined")
    klass: Mapped[SchoolClass] = relationship(lazy="joined")

    SHARED_KEYS = ("student_no", "name", "gender", "id_number", "exam_no", "ethnicity",
                   "birth_date", "enrollment_month", "school", "major", "duration_years",
                   "level", "admission_type", "study_mode")

    def form_data(self) -> dict[str, Any]:
        """The student's record under the forms' shared field keys."""
        data: dict[str, Any] = {k: getattr(self, k) for k in self.SHARED_KEYS}
        data["college"] = self.college.name
        data["class_no"] = self.klass.class_no
        return {k: v for k, v in data.items() if v not in (None, "")}


class Document(Base):
    """One version of an issued document. Versions of the same paper share ``series_id``."""

    __tablename__ = "documents"
    __table_args__ = (
        UniqueConstraint("series_id", "version"),
        Index("ix_documents_status_college", "status", "college_id"),
        Index(OPEN_DOCUMENT_INDEX, "form_id", "student_id", "open_slot", unique=True,
              sqlite_where=_OPEN_CONDITION, postgresql_where=_OPEN_CONDITION),
    )
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    series_id: Mapped[str] = mapped_column(String(32), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    form_id: Mapped[str] = mapped_column(String(40), index=True)
    number: Mapped[str] = mapped_column(String(60), index=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    status: Mapped[str] = mapped_column(String(20), default=DocStatus.IN_PROGRESS)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    student_id: Mapped[int | None] = mapped_column(ForeignKey("students.id"), index=True)
    student_no: Mapped[str | None] = mapped_column(String(20), index=True)
    student_name: Mapped[str] = mapped_column(String(30), default="")
    college_id: Mapped[int] = mapped_column(ForeignKey("colleges.id"))
    class_id: Mapped[int | None] = mapped_column(ForeignKey("classes.id"))
    issuer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    issued_on: Mapped[dt.date] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    sealed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    draft_sha256: Mapped[str] = mapped_column(String(64))
    current_sha256: Mapped[str] = mapped_column(String(64))
    docx_sha256: Mapped[str | None] = mapped_column(String(64))
    signature_areas: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    superseded_by: Mapped[str | None] = mapped_column(String(32))
    lock_version: Mapped[int] = mapped_column(Integer, default=0)
    """Bumped by every decision; an UPDATE … WHERE lock_version = n makes one of two racers win."""
    chsi_due_on: Mapped[dt.date | None] = mapped_column(Date)
    """学信网 marking deadline (status-change notices, seed 004: 15 working days)."""
    chsi_marked_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    chsi_marked_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    open_slot: Mapped[str] = mapped_column(String(40), default="", server_default="")
    """``open_slot_of(data)`` at issue; with form and student, unique among open documents.
    (Documents found open twice by migration 0008 keep ``dup:<id>`` on the later ones.)"""

    college: Mapped[College] = relationship(lazy="joined")
    steps: Mapped[list[Step]] = relationship(order_by="Step.position", lazy="selectin",
                                             cascade="all, delete-orphan")

    @property
    def current_step(self) -> Step | None:
        """The step waiting for its signer; ``None`` once the chain has ended (or the
        version was sent back, superseded or voided)."""
        if self.status != DocStatus.IN_PROGRESS:
            return None
        return next((s for s in self.steps if s.state == StepState.CURRENT), None)


class Step(Base):
    """A step of a document's approval chain, bound to a person."""

    __tablename__ = "steps"
    __table_args__ = (UniqueConstraint("document_id", "position"),
                      Index("ix_steps_assignee_state", "assignee_id", "state"))
    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id"))
    position: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(20))
    label: Mapped[str] = mapped_column(String(40), default="")
    decision_kind: Mapped[str] = mapped_column(String(20), default="approve")
    seal: Mapped[str | None] = mapped_column(String(10))
    visible: Mapped[bool] = mapped_column(Boolean, default=True)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    """The staff member who signs; None for the student's own step."""
    state: Mapped[str] = mapped_column(String(12), default=StepState.WAITING)
    due_on: Mapped[dt.date | None] = mapped_column(Date)
    became_current_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    decision: Mapped[str | None] = mapped_column(String(20))
    comment: Mapped[str | None] = mapped_column(Text)
    signer_name: Mapped[str | None] = mapped_column(String(40))

    assignee: Mapped[User | None] = relationship(lazy="joined")

    @hybrid_method
    def signable_by(self, user_id: int, pool_role: str | None) -> bool:
        """Whether a staff member signs this step: its assignee, or, for a step no one is
        assigned, any member of the office ``pool_role`` (None: the user is in no pool).
        The student's own step is never a staff member's.

        One rule for both uses: on a step it answers in Python (``access.can_sign_step``);
        on the class it is the SQL condition of the inbox query. So it is written with
        ``&``, ``|`` and ``==`` only, which mean the same in both.
        """
        mine = self.assignee_id == user_id
        if pool_role is not None:  # a plain argument, so the branch reads alike in SQL
            unassigned = self.assignee_id == None  # noqa: E711 - on the class, "IS NULL"
            mine = mine | (unassigned & (self.role == pool_role))
        return (self.role != STUDENT) & mine


class ChainRecordRow(Base):
    """A signed chain record exactly as the signing package produced it."""

    __tablename__ = "chain_records"
    __table_args__ = (UniqueConstraint("document_id", "position"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    record: Mapped[dict[str, Any]] = mapped_column(JSON)
    record_hash: Mapped[str] = mapped_column(String(64))
    pdf_sha256: Mapped[str] = mapped_column(String(64))
    """The PDF revision this record's signature produced."""
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


def chain_records(session: Session, doc_id: str) -> list[ChainRecordRow]:
    """The stored chain records of one document version, in chain order."""
    return list(session.scalars(select(ChainRecordRow)
                                .where(ChainRecordRow.document_id == doc_id)
                                .order_by(ChainRecordRow.position)))


class IdentityLock(Base):
    """Failed identity answers per (document code, client address), to slow down guessing.

    Keyed by the client too, so that wrong answers from one place never lock the student
    out from another.
    """

    __tablename__ = "identity_locks"
    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    client: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime)


class HolidayOverride(Base):
    """Working-day corrections for years the calendar library does not know yet."""

    __tablename__ = "holiday_overrides"
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    is_workday: Mapped[bool] = mapped_column(Boolean)
    note: Mapped[str] = mapped_column(String(60), default="")


class AuditEntry(Base):
    """Who did what to which object, when and from where. Never holds an ID number."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_object", "object_type", "object_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    actor_kind: Mapped[str] = mapped_column(String(10))  # user / student / public / system
    actor_id: Mapped[str | None] = mapped_column(String(40))
    actor_name: Mapped[str | None] = mapped_column(String(40))
    action: Mapped[str] = mapped_column(String(30))
    object_type: Mapped[str] = mapped_column(String(20))
    object_id: Mapped[str | None] = mapped_column(String(40))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    ip: Mapped[str | None] = mapped_column(String(45))
