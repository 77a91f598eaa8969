"""The authorization rules on their own: plain objects, no database, no web.

Class teachers' scope needs the roster (a query); a tiny fake session answers it. The one
exception is the check that the inbox's SQL form of the signing rule agrees with
``can_sign_step``, which runs that condition on an in-memory SQLite table of steps.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from doc_service.errors import PermissionDeniedError
from doc_service.services.access import (
    Staff,
    StudentActor,
    can_see_personal_data,
    can_sign_step,
    can_view,
    require_staff,
    signable_steps,
)
from doc_service.storage.models import Document, Role, Step, User

JY, XX = 1, 2


class FakeSession:
    """Answers ``teacher_class_ids``: the classes whose teacher is the given user."""

    def __init__(self, classes_of: dict[int, set[int]]) -> None:
        self.classes_of = classes_of

    def scalars(self, stmt: Any) -> list[int]:
        teacher_id = stmt.whereclause.right.value
        return sorted(self.classes_of.get(teacher_id, set()))


def user(uid: int, role: str, college: int | None = None, active: bool = True) -> User:
    return User(id=uid, username=f"u{uid}", name=f"用户{uid}", role=role, college_id=college,
                password_hash="-", active=active)


DOC = Document(id="d" * 32, college_id=JY, class_id=11, form_id="verification_checklist",
               status="in_progress")
SESSION = FakeSession({7: {11}, 8: {12}})


@pytest.mark.parametrize("who, sees", [
    (user(1, Role.REGISTRAR), True), (user(2, Role.ARCHIVIST), True),
    (user(3, Role.ADMIN), True), (user(4, Role.APPROVING_OFFICE), True),
    (user(5, Role.ISSUER, JY), True), (user(6, Role.COLLEGE_HEAD, JY), True),
    (user(7, Role.CLASS_TEACHER, JY), True), (user(8, Role.CLASS_TEACHER, JY), False),
    (user(9, Role.ISSUER, XX), False), (user(10, Role.COLLEGE_HEAD, XX), False),
    (user(11, Role.REGISTRAR, active=False), False),
])
def test_staff_see_their_scope_only(who: User, sees: bool) -> None:
    assert can_view(SESSION, Staff(who), DOC) is sees  # type: ignore[arg-type]


def test_a_student_sees_only_the_document_they_proved_identity_for() -> None:
    mine = StudentActor("2026010101", "王子涵", DOC.id)
    other = StudentActor("2026010101", "王子涵", "e" * 32)
    assert can_view(SESSION, mine, DOC) and can_see_personal_data(mine, DOC)  # type: ignore[arg-type]
    assert not can_view(SESSION, other, DOC)  # type: ignore[arg-type]
    assert not can_see_personal_data(other, DOC)


def test_pooled_steps_are_signed_by_any_member_and_assigned_steps_by_the_assignee() -> None:
    pooled = Step(position=3, role=Role.REGISTRAR, assignee_id=None)
    assigned = Step(position=1, role=Role.CLASS_TEACHER, assignee_id=7)
    student = Step(position=0, role="student", assignee_id=None)
    s: Any = SESSION
    assert can_sign_step(s, Staff(user(1, Role.REGISTRAR)), DOC, pooled)
    assert not can_sign_step(s, Staff(user(2, Role.ARCHIVIST)), DOC, pooled)
    assert can_sign_step(s, Staff(user(7, Role.CLASS_TEACHER, JY)), DOC, assigned)
    assert not can_sign_step(s, Staff(user(8, Role.CLASS_TEACHER, JY)), DOC, assigned)
    assert not can_sign_step(s, Staff(user(1, Role.REGISTRAR)), DOC, student)
    assert can_sign_step(s, StudentActor("x", "y", DOC.id), DOC, student)
    assert not can_sign_step(s, StudentActor("x", "y", DOC.id), DOC, assigned)


def test_the_inbox_condition_picks_exactly_the_steps_can_sign_step_allows() -> None:
    steps = [Step(id=1, document_id=DOC.id, position=0, role="student", assignee_id=None),
             Step(id=2, document_id=DOC.id, position=1, role=Role.CLASS_TEACHER, assignee_id=7),
             Step(id=3, document_id=DOC.id, position=2, role=Role.COLLEGE_HEAD, assignee_id=6),
             Step(id=4, document_id=DOC.id, position=3, role=Role.REGISTRAR, assignee_id=None),
             Step(id=5, document_id=DOC.id, position=4, role=Role.APPROVING_OFFICE,
                  assignee_id=None),
             Step(id=6, document_id=DOC.id, position=5, role=Role.REGISTRAR, assignee_id=9)]
    people = [user(1, Role.REGISTRAR), user(2, Role.ARCHIVIST), user(4, Role.APPROVING_OFFICE),
              user(6, Role.COLLEGE_HEAD, JY), user(7, Role.CLASS_TEACHER, JY),
              user(8, Role.CLASS_TEACHER, JY), user(9, Role.REGISTRAR)]
    fake: Any = SESSION
    engine = create_engine("sqlite://")
    Step.metadata.create_all(engine, tables=[Step.metadata.tables["steps"]])
    with Session(engine) as session:
        session.add_all(steps)
        session.flush()
        for who in people:
            in_sql = set(session.scalars(select(Step.id).where(signable_steps(who))))
            in_python = {s.id for s in steps if can_sign_step(fake, Staff(who), DOC, s)}
            assert in_sql == in_python, who.role
    assert in_python == {4, 6}  # the last registrar: the office's step and their own


def test_require_staff_refuses_students_and_other_roles() -> None:
    with pytest.raises(PermissionDeniedError):
        require_staff(StudentActor("x", "y", DOC.id))
    with pytest.raises(PermissionDeniedError):
        require_staff(Staff(user(5, Role.ISSUER, JY)), Role.REGISTRAR)
    assert require_staff(Staff(user(1, Role.REGISTRAR)), Role.REGISTRAR).id == 1
