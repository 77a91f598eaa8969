"""A small school for service tests on :func:`tests.services.fakes.fake_runtime`.

交通运输学院 has a head, one class (交运2602) with its teacher and one student (the
verification checklist's example); 信息工程学院 has an issuer and one class (计科2601)
without students; the registrar's office signs as a pool.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from doc_service.services.access import Staff
from doc_service.services.runtime import Runtime
from doc_service.storage.models import College, Role, SchoolClass, Student, User
from tests.conftest import example

STUDENT_FORM = "verification_checklist"
"""The form whose example gives the student's roster record."""


@dataclass(frozen=True)
class SmallSchool:
    student_no: str
    class_id: int
    teacher_id: int
    head_id: int


def add_small_school(rt: Runtime) -> SmallSchool:
    """Add the school (see the module docstring) to ``rt``'s empty database."""
    data = example(STUDENT_FORM)
    with rt.sessions.begin() as session:
        jy, xx = College(name="交通运输学院"), College(name="信息工程学院")
        session.add_all([jy, xx])
        session.flush()

        def user(username: str, role: str, college: College | None) -> User:
            account = User(username=username, name=username, role=role, password_hash="!",
                           college_id=college.id if college else None)
            session.add(account)
            session.flush()
            return account

        user("jy-issuer", Role.ISSUER, jy)
        user("xx-issuer", Role.ISSUER, xx)
        user("registrar", Role.REGISTRAR, None)
        head = user("jy-head", Role.COLLEGE_HEAD, jy)
        teacher = user("jy-teacher", Role.CLASS_TEACHER, jy)
        jy.head_id = head.id
        klass = SchoolClass(class_no=data["class_no"], college_id=jy.id, major=data["major"],
                            grade=2026, teacher_id=teacher.id)
        session.add_all([klass, SchoolClass(class_no="计科2601", college_id=xx.id,
                                            major="计算机科学与技术", grade=2026)])
        session.flush()
        session.add(Student(**{k: data[k] for k in Student.SHARED_KEYS}, grade=2026,
                            college_id=jy.id, class_id=klass.id))
    return SmallSchool(data["student_no"], klass.id, teacher.id, head.id)


def staff(rt: Runtime, username: str) -> Staff:
    """The signed-in staff member ``username``, read as a view would."""
    with rt.sessions() as session:
        user = session.scalar(select(User).where(User.username == username))
        assert user is not None
        return Staff(user)
