"""What the batch pages read: the forms a batch can issue and what it asks once, and, in
the caller's scope, the classes a batch may target, the recent batches, the correction
queue.

The views in ``web/batch_pages.py`` call these instead of opening sessions or deciding
from roles themselves; the use cases that change things stay in ``services.batch``,
``services.bundles`` and ``services.corrections``.
"""

from __future__ import annotations

from dataclasses import dataclass

from doc_service.forms.spec import FieldSpec, FormSpec, all_forms
from doc_service.services.access import CAN_ISSUE, Actor, require_staff
from doc_service.services.batch import list_batches
from doc_service.services.bundles import visible_classes
from doc_service.services.corrections import list_corrections
from doc_service.services.runtime import Runtime
from doc_service.storage.batch_models import BatchJob, CorrectionRequest
from doc_service.storage.models import Role, Student

ROSTER_KEYS = frozenset(Student.SHARED_KEYS) | {"college", "class_no"}
"""The fields each student's roster row fills (``services.batch`` checks the same set)."""


def batch_forms() -> list[FormSpec]:
    """The forms a batch can issue: those filled per student from the roster."""
    return [f for f in all_forms() if "student_no" in f.keys]


def extra_fields(form: FormSpec) -> list[FieldSpec]:
    """What a batch asks once for all its students: the form's fields no roster row fills."""
    return [f for f in form.fields if f.key not in ROSTER_KEYS]


@dataclass(frozen=True)
class ClassChoice:
    """A class the caller may pick for a batch."""

    class_no: str
    college: str


@dataclass(frozen=True)
class BatchTargets:
    """What the "new batch" form offers: the caller's classes and their colleges."""

    classes: tuple[ClassChoice, ...]
    """In class-number order."""
    colleges: tuple[str, ...]
    """The colleges of those classes, sorted."""


def batch_targets(rt: Runtime, actor: Actor) -> BatchTargets:
    """The classes (and their colleges) the caller sees, to choose a batch's students from."""
    user = require_staff(actor)
    with rt.sessions() as session:
        classes = tuple(ClassChoice(k.class_no, k.college.name)
                        for k in visible_classes(session, user))
    return BatchTargets(classes=classes, colleges=tuple(sorted({c.college for c in classes})))


def recent_batches(rt: Runtime, actor: Actor) -> list[BatchJob]:
    """The batches the home page lists: only those who may start batches see any."""
    user = require_staff(actor)
    return list_batches(rt, actor) if user.role in CAN_ISSUE else []


@dataclass(frozen=True)
class CorrectionQueue:
    """The correction requests the caller sees, and what the page lets them do."""

    items: list[CorrectionRequest]
    can_decide: bool
    """Only the registrar (教务处学籍科) accepts or declines a request."""


def correction_queue(rt: Runtime, actor: Actor, status: str | None) -> CorrectionQueue:
    """Requests in ``status`` (every status for ``None``), oldest first; the registrar's
    queue is school-wide, a college's staff see their college's."""
    user = require_staff(actor)
    return CorrectionQueue(items=list_corrections(rt, actor, status),
                           can_decide=user.role == Role.REGISTRAR)
