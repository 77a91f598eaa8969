"""Importing a roster: check every row, then store the valid rows (or none) in one go.

``import_roster`` parses the file with :func:`doc_service.roster.parse_roster`, adds the
checks only the database can make (the caller's college scope, an ID number already
held by another 学号), and, when asked to commit, upserts students by 学号 in one
transaction: a re-import updates, never duplicates. Colleges and classes the roster
names are created when missing; a new class has no class teacher until one is
assigned, and the result says so, because documents cannot be issued to it before.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from doc_service.roster import CellError, RosterReport, parse_roster
from doc_service.services.access import SCHOOL_WIDE, Actor, require_staff
from doc_service.services.audit import audit
from doc_service.services.runtime import Runtime
from doc_service.storage.models import College, Role, SchoolClass, Student, User

STUDENT_KEYS = Student.SHARED_KEYS + ("phone", "address")
"""Roster keys stored on the student row as they are (college and class are resolved)."""
_CHUNK = 500


@dataclass(frozen=True)
class ImportResult:
    """What an import found and (when committed) changed. Holds personal data: never log it."""

    report: RosterReport = field(repr=False)
    """The file's rows with the database checks added (per row: line, column, message)."""
    committed: bool
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    new_colleges: tuple[str, ...] = ()
    new_classes: tuple[str, ...] = ()
    classes_without_teacher: tuple[str, ...] = ()
    """Classes of the imported rows that have no class teacher yet (new ones included)."""
    colleges_without_head: tuple[str, ...] = ()
    refused: str | None = None
    """Why nothing was written although a commit was asked (file unreadable, or
    all-or-nothing with bad rows)."""

    @property
    def imported(self) -> int:
        return self.created + self.updated + self.unchanged

    def to_dict(self) -> dict[str, Any]:
        return {"committed": self.committed, "refused": self.refused, "created": self.created,
                "updated": self.updated, "unchanged": self.unchanged,
                "new_colleges": list(self.new_colleges), "new_classes": list(self.new_classes),
                "classes_without_teacher": list(self.classes_without_teacher),
                "colleges_without_head": list(self.colleges_without_head),
                "report": self.report.to_dict()}


def import_roster(rt: Runtime, actor: Actor, file_bytes: bytes, filename: str, commit: bool,
                  *, all_or_nothing: bool = False) -> ImportResult:
    """Check a roster file; with ``commit``, store its valid rows (or, all-or-nothing, none).

    Issuers may import only students of their own college; the registrar and the
    administrator import for the whole school.
    """
    user = require_staff(actor, Role.ISSUER, Role.REGISTRAR, Role.ADMIN)
    report = parse_roster(file_bytes, filename)
    if report.fatal is not None:
        return ImportResult(report=report, committed=False,
                            refused=report.fatal if commit else None)
    with rt.sessions.begin() as session:
        report = _check_against_database(session, user, report)
        if not commit:
            return _preview(session, report)
        if all_or_nothing and report.error_count:
            return ImportResult(report=report, committed=False,
                                refused=f"有{report.error_count}行数据有误，按“全部或不导入”"
                                        "的要求未导入任何数据")
        result = _store(session, report)
        audit(session, actor, "roster_import", "roster", None, filename=filename[:100],
              created=result.created, updated=result.updated, unchanged=result.unchanged,
              rejected=report.error_count)
        return result


def _check_against_database(session: Session, user: User, report: RosterReport) -> RosterReport:
    """Add per-row errors that need the database: scope and ID numbers held by others."""
    cols = {key: header for header, key in report.header_map.items()}
    letters = _column_letters(report)
    own_college = user.college.name if user.college is not None else None
    school_wide = user.role in SCHOOL_WIDE
    rows = list(report.rows)
    nos = [r.data["student_no"] for r in rows if isinstance(r.data.get("student_no"), str)]
    ids = [r.data["id_number"] for r in rows if isinstance(r.data.get("id_number"), str)]
    existing = _students_by(session, Student.student_no, nos)
    holders = _students_by(session, Student.id_number, ids)
    for i, row in enumerate(rows):
        extra: list[CellError] = []
        college = row.data.get("college")
        if not school_wide and college and college != own_college:
            extra.append(CellError("college", f"只能导入本学院（{own_college}）的学生",
                                   "out_of_scope",
                                   column=letters.get("college", ""),
                                   header=cols.get("college", ""), value=str(college)))
        current = existing.get(row.data.get("student_no", ""))
        if (current is not None and not school_wide
                and current.college_id != user.college_id):
            extra.append(CellError("student_no", "该学号属于其他学院的学生，不能由本学院导入修改",
                                   "out_of_scope", column=letters.get("student_no", ""),
                                   header=cols.get("student_no", ""),
                                   value=str(row.data.get("student_no"))))
        holder = holders.get(row.data.get("id_number", ""))
        if holder is not None and holder.student_no != row.data.get("student_no"):
            extra.append(CellError("id_number",
                                   f"该身份证号已属于学号为 {holder.student_no} 的学生："
                                   "一人只能有一个学籍", "duplicate_person",
                                   column=letters.get("id_number", ""),
                                   header=cols.get("id_number", "")))
        if extra:
            rows[i] = dataclasses.replace(row, errors=row.errors + tuple(extra))
    errors = sum(1 for r in rows if r.errors)
    return dataclasses.replace(report, rows=tuple(rows), valid_count=len(rows) - errors,
                               error_count=errors)


def _column_letters(report: RosterReport) -> dict[str, str]:
    """Column letter per key, as far as the parser's own errors named it."""
    letters: dict[str, str] = {}
    for row in report.rows:
        for err in row.errors:
            if err.column:
                letters.setdefault(err.key, err.column)
    return letters


def _students_by(session: Session, column: Any, values: list[str]) -> dict[str, Student]:
    found: dict[str, Student] = {}
    unique = list(dict.fromkeys(values))
    for start in range(0, len(unique), _CHUNK):
        chunk = unique[start:start + _CHUNK]
        for s in session.scalars(select(Student).where(column.in_(chunk))):
            found[getattr(s, column.key)] = s
    return found


def _preview(session: Session, report: RosterReport) -> ImportResult:
    colleges = {c.name: c for c in session.scalars(select(College))}
    classes = {k.class_no: k for k in session.scalars(select(SchoolClass))}
    valid = report.valid_rows()
    new_colleges = sorted({r.data["college"] for r in valid} - colleges.keys())
    new_classes = sorted({r.data["class_no"] for r in valid} - classes.keys())
    no_teacher = sorted({r.data["class_no"] for r in valid
                         if r.data["class_no"] not in classes
                         or classes[r.data["class_no"]].teacher_id is None})
    no_head = sorted({r.data["college"] for r in valid
                      if r.data["college"] not in colleges
                      or colleges[r.data["college"]].head_id is None})
    return ImportResult(report=report, committed=False, new_colleges=tuple(new_colleges),
                        new_classes=tuple(new_classes), classes_without_teacher=tuple(no_teacher),
                        colleges_without_head=tuple(no_head))


def _store(session: Session, report: RosterReport) -> ImportResult:
    colleges = {c.name: c for c in session.scalars(select(College))}
    classes = {k.class_no: k for k in session.scalars(select(SchoolClass))}
    new_colleges: list[str] = []
    new_classes: list[str] = []
    valid = report.valid_rows()
    existing = _students_by(session, Student.student_no, [r.data["student_no"] for r in valid])
    created = updated = unchanged = 0
    for row in valid:
        data = row.data
        college = colleges.get(data["college"])
        if college is None:
            college = College(name=data["college"])
            session.add(college)
            session.flush()
            colleges[college.name] = college
            new_colleges.append(college.name)
        klass = classes.get(data["class_no"])
        grade = _grade(data)
        if klass is None:
            klass = SchoolClass(class_no=data["class_no"], college_id=college.id,
                                major=data.get("major", ""), grade=grade)
            session.add(klass)
            session.flush()
            classes[klass.class_no] = klass
            new_classes.append(klass.class_no)
        values: dict[str, Any] = {k: data[k] for k in STUDENT_KEYS if k in data}
        values.update(college_id=college.id, class_id=klass.id)
        if grade is not None:
            values["grade"] = grade
        student = existing.get(data["student_no"])
        if student is None:
            student = Student(**values)
            session.add(student)
            existing[data["student_no"]] = student
            created += 1
            continue
        changed = {k: v for k, v in values.items() if getattr(student, k) != v}
        for k, v in changed.items():
            setattr(student, k, v)
        if changed:
            updated += 1
        else:
            unchanged += 1
    session.flush()
    used_classes = {r.data["class_no"] for r in valid}
    used_colleges = {r.data["college"] for r in valid}
    return ImportResult(
        report=report, committed=True, created=created, updated=updated, unchanged=unchanged,
        new_colleges=tuple(new_colleges), new_classes=tuple(new_classes),
        classes_without_teacher=tuple(sorted(c for c in used_classes
                                             if classes[c].teacher_id is None)),
        colleges_without_head=tuple(sorted(c for c in used_colleges
                                           if colleges[c].head_id is None)))


def _grade(data: dict[str, Any]) -> int | None:
    if data.get("grade"):
        return int(data["grade"])
    month = data.get("enrollment_month")
    return int(str(month)[:4]) if month else None
