"""Who may see and do what: authorization on every object, decided on the server.

Scopes follow DOMAIN.md: a college's staff see only their college's students
and documents, a class teacher only their classes; the registrar, archivists
and approving offices work school-wide. Students act only on the one document
whose identity check they passed.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnExpressionArgument, select
from sqlalchemy.orm import Session

from doc_service.errors import NotFoundError, PermissionDeniedError
from doc_service.storage.models import Document, Role, SchoolClass, Step, Student, User
from signing.roles import STUDENT

SCHOOL_WIDE = {Role.REGISTRAR, Role.ARCHIVIST, Role.ADMIN, Role.APPROVING_OFFICE}
CAN_ISSUE = {Role.ISSUER, Role.REGISTRAR}
SEES_PERSONAL_DATA = {Role.ISSUER, Role.REGISTRAR, Role.ARCHIVIST}
POOLED_ROLES = {Role.REGISTRAR, Role.APPROVING_OFFICE}
"""Roles whose steps any member may take (the office signs, not one person)."""


@dataclass(frozen=True)
class Staff:
    user: User

    @property
    def ref(self) -> str:
        return f"user-{self.user.id}"

    @property
    def name(self) -> str:
        return self.user.name


@dataclass(frozen=True)
class StudentActor:
    """A student who proved who they are for one document (by its code)."""

    student_no: str
    name: str
    document_id: str

    @property
    def ref(self) -> str:
        return f"student-{self.student_no}"


Actor = Staff | StudentActor


def teacher_class_ids(session: Session, user: User) -> set[int]:
    return set(session.scalars(select(SchoolClass.id).where(SchoolClass.teacher_id == user.id)))


def can_view(session: Session, actor: Actor, doc: Document) -> bool:
    if isinstance(actor, StudentActor):
        return actor.document_id == doc.id
    user = actor.user
    if not user.active:
        return False
    if user.role in SCHOOL_WIDE:
        return True
    if user.role in (Role.ISSUER, Role.COLLEGE_HEAD):
        return doc.college_id == user.college_id
    if user.role == Role.CLASS_TEACHER:
        return doc.class_id in teacher_class_ids(session, user)
    return False


def require_view(session: Session, actor: Actor, doc: Document) -> None:
    if not can_view(session, actor, doc):
        # Same answer as "no such document": do not confirm that it exists.
        raise NotFoundError("没有找到该文书，或您无权查看")


def can_see_personal_data(actor: Actor, doc: Document) -> bool:
    """ID numbers, 考生号, phone and address in API answers and lists."""
    if isinstance(actor, StudentActor):
        return actor.document_id == doc.id
    return actor.user.role in SEES_PERSONAL_DATA


def require_issue(session: Session, user: User, student: Student | None, college_id: int) -> None:
    if user.role not in CAN_ISSUE:
        raise PermissionDeniedError("只有学院学籍秘书或教务处学籍科可以出具文书")
    if user.role == Role.ISSUER and college_id != user.college_id:
        raise PermissionDeniedError("只能为本学院的学生出具文书")


def signing_pool(user: User) -> str | None:
    """The office whose unassigned steps ``user`` may take, or None."""
    return user.role if user.role in POOLED_ROLES else None


def can_sign_step(session: Session, actor: Actor, doc: Document, step: Step) -> bool:
    """Whether ``actor`` signs ``step`` of ``doc`` (whether it is the step's turn is the
    caller's question: ``Document.current_step``)."""
    if isinstance(actor, StudentActor):
        return step.role == STUDENT and actor.document_id == doc.id
    user = actor.user
    return user.active and bool(step.signable_by(user.id, signing_pool(user)))


def signable_steps(user: User) -> ColumnExpressionArgument[bool]:
    """:func:`can_sign_step`'s rule for a staff member as a condition on ``Step`` rows."""
    return Step.signable_by(user.id, signing_pool(user))


def require_staff(actor: Actor, *roles: str) -> User:
    if not isinstance(actor, Staff):
        raise PermissionDeniedError("此操作需要教职工账号")
    if roles and actor.user.role not in roles:
        raise PermissionDeniedError("您的角色无权进行此操作")
    return actor.user


def visible_student(session: Session, user: User, student: Student) -> bool:
    if user.role in SCHOOL_WIDE:
        return True
    if user.role in (Role.ISSUER, Role.COLLEGE_HEAD):
        return student.college_id == user.college_id
    if user.role == Role.CLASS_TEACHER:
        return student.class_id in teacher_class_ids(session, user)
    return False


def can_unlock_identity(user: User, doc: Document) -> bool:
    """Who may clear a document's identity-check locks: the registrar, or the issuer of
    that document (a student who cannot get in calls them)."""
    return user.role == Role.REGISTRAR or (user.role == Role.ISSUER and doc.issuer_id == user.id)
