"""Finding a roster student to issue a document for, within the caller's scope.

Staff see only the students their scope holds (``access.visible_student``): a college's
staff their college, a class teacher their classes, the offices the whole school.
"""

from __future__ import annotations

from sqlalchemy import or_, select

from doc_service.services.access import SCHOOL_WIDE, Actor, require_staff, visible_student
from doc_service.services.runtime import Runtime
from doc_service.storage.models import Student

MAX_FOUND = 50
"""A pick list, not a roster export: the caller narrows the search instead."""


def find_students(rt: Runtime, actor: Actor, q: str) -> list[Student]:
    """Students visible to the caller whose 学号 starts with ``q`` or whose 姓名 holds it,
    in 学号 order, at most :data:`MAX_FOUND`."""
    user = require_staff(actor)
    with rt.sessions() as session:
        stmt = select(Student)
        if user.role not in SCHOOL_WIDE and user.college_id is not None:
            stmt = stmt.where(Student.college_id == user.college_id)  # narrows; check below
        if q:
            stmt = stmt.where(or_(Student.student_no.startswith(q, autoescape=True),
                                  Student.name.contains(q, autoescape=True)))
        rows = session.scalars(stmt.order_by(Student.student_no).limit(200))
        return [s for s in rows if visible_student(session, user, s)][:MAX_FOUND]


def roster_student(rt: Runtime, actor: Actor, student_no: str) -> Student | None:
    """The student with this 学号, or None if there is none the caller may see."""
    user = require_staff(actor)
    with rt.sessions() as session:
        student = session.scalar(select(Student).where(Student.student_no == student_no))
        if student is None or not visible_student(session, user, student):
            return None
        return student
