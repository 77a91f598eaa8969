"""Issuing one batch item, exactly once, with its 文号 reserved before the render.

``issue_item`` checks the student's data without writing, then claims the item in a short
transaction (``pending`` → ``issuing``) that also reserves its 文号, code and document id
on the item; it renders holding no lock (through the job's overlay renderer, see
``rendering.overlay``), so several workers issue at once; and it records the document and
marks the item done in one last transaction, only if no other runner has claimed the item
since. A runner killed at any moment leaves the item either done with its document, or
unfinished with its reservation: resuming renders it again under the same number (no gap,
no second document). A failure after the reservation marks the item failed and names the
unused number (作废). ``services.batch`` runs items; this module issues one.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from typing import Any, cast

from sqlalchemy import CursorResult, Result, and_, select, update
from sqlalchemy.orm import Session

from doc_service.errors import DocServiceError, ValidationError
from doc_service.forms.spec import load_form
from doc_service.numbering import next_number
from doc_service.rendering.pdf import check_glyphs
from doc_service.rendering.qr import new_code
from doc_service.services.access import Staff
from doc_service.services.runtime import Runtime
from doc_service.storage.batch_models import OPEN_STATES, BatchItem, BatchJob, ItemState, JobStatus
from doc_service.storage.models import DocStatus, Document, Student, User, new_id, utcnow

log = logging.getLogger(__name__)


def issue_item(rt: Runtime, item_id: int) -> str | None:
    """Issue one item's document, exactly once; the item's new state, or None if it was
    not this runner's to issue (already finished, or claimed again by another runner).

    An unexpected error (not one of ours) marks the item failed in a transaction of its
    own, so one broken record does not stop the whole job.
    """
    try:
        return _issue_item(rt, item_id)
    except Exception:
        log.exception("batch item %s failed unexpectedly", item_id)
        with rt.sessions.begin() as session:
            item = session.get(BatchItem, item_id)
            number = item.number if item is not None else None
            session.execute(update(BatchItem).where(BatchItem.id == item_id,
                                                    BatchItem.state.in_(OPEN_STATES))
                            .values(state=ItemState.FAILED, updated_at=utcnow(),
                                    error=_spoiled("出具时发生内部错误（已记录日志），"
                                                   "请稍后为该学生单独出具", number)))
        return str(ItemState.FAILED)


def _issue_item(rt: Runtime, item_id: int) -> str | None:
    """Check, claim and reserve, render outside any lock, then record.

    1. Read only: the job, the student, ``plan_issue`` (validation, scope, chain). A
       refusal fails the item before any number is taken.
    2. A short transaction claims the item (``pending`` → ``issuing``, attempts + 1) and,
       the first time, reserves its 文号, code and document id on it.
    3. Render and store the PDF, holding no lock: workers render in parallel.
    4. One transaction marks the item done, only if nobody claimed it since (that row
       lock orders two runners; the loser writes nothing), and adds the document.
    A runner killed after 2 leaves the item ``issuing``; ``resume_batch`` hands it out
    again and the next runner renders under the same reservation.
    """
    from doc_service.services.documents import plan_issue, record_issue, render_draft

    with rt.sessions() as session:
        item = session.get(BatchItem, item_id)
        if item is None or item.state != ItemState.PENDING:
            return None
        job = session.get(BatchJob, item.job_id)
        student = session.get(Student, item.student_id)
        user = session.get(User, job.created_by) if job is not None else None
        assert job is not None and student is not None and user is not None
        if job.status == JobStatus.CANCELLED:
            return _finish_item(rt, item_id, None, ItemState.CANCELLED)
        existing = _live_document(session, job.form_id, student.id)
        if existing is not None:
            return _finish_item(rt, item_id, None, ItemState.SKIPPED,
                                f"已有签批中的同类文书（文号 {existing}），未重复出具")
        form = load_form(job.form_id)
        try:
            plan = plan_issue(session, user, form, dict(job.extra_data), student.student_no)
            check_glyphs(form, plan.data, rt.institution)
        except DocServiceError as e:
            return _finish_item(rt, item_id, None, ItemState.FAILED, _error_text(e))
        actor = Staff(user)

    today = dt.date.today()
    with rt.sessions.begin() as session:
        claimed = _rowcount(session.execute(
            update(BatchItem).where(BatchItem.id == item_id,
                                    BatchItem.state == ItemState.PENDING)
            .values(state=ItemState.ISSUING, attempts=BatchItem.attempts + 1,
                    updated_at=utcnow())))
        if claimed != 1:
            return None
        item = session.get(BatchItem, item_id)
        assert item is not None
        if item.number is None:
            seq = next_number(session.connection(), form.id, today.year)
            item.number = form.format_number(year=today.year, seq=seq)
            item.code, item.reserved_id = new_code(), new_id()
        attempt, number = item.attempts, item.number
        code, doc_id = item.code, item.reserved_id

    try:
        draft = render_draft(rt, plan, number, today=today, doc_id=doc_id, code=code,
                             renderer=_overlay_for(item.job_id, form, rt))
    except DocServiceError as e:
        return _finish_item(rt, item_id, attempt, ItemState.FAILED,
                            _spoiled(_error_text(e), number))

    try:
        with rt.sessions.begin() as session:
            # The item first: its row lock orders two runners, and the loser stops here.
            done = _rowcount(session.execute(
                update(BatchItem).where(BatchItem.id == item_id, _still_ours(attempt))
                .values(state=ItemState.DONE, error=None, updated_at=utcnow())))
            if done != 1:
                raise _ClaimLost  # claimed again meanwhile: that runner records it
            record_issue(rt, session, actor, user, plan, draft)
            session.flush()
            session.execute(update(BatchItem).where(BatchItem.id == item_id)
                            .values(document_id=draft.doc_id))
    except _ClaimLost:
        return None
    except DocServiceError as e:
        return _finish_item(rt, item_id, attempt, ItemState.FAILED,
                            _spoiled(_error_text(e), number))
    return str(ItemState.DONE)


class _ClaimLost(Exception):
    """Rolls back a result that is no longer this runner's to record."""


_OVERLAYS: dict[str, Any] = {}
_OVERLAYS_LOCK = threading.Lock()


def _overlay_for(job_id: str, form: Any, rt: Runtime) -> Any:
    """This process's overlay renderer for a job: the form laid out once, each student's
    values drawn over it (``rendering.overlay``; it renders in full where that would not
    be exact)."""
    from doc_service.rendering.overlay import OverlayRenderer
    from doc_service.rendering.pdf import default_renderer

    with _OVERLAYS_LOCK:
        overlay = _OVERLAYS.get(job_id)
        if overlay is None:
            if len(_OVERLAYS) >= 8:
                _OVERLAYS.pop(next(iter(_OVERLAYS)))
            overlay = _OVERLAYS[job_id] = OverlayRenderer(default_renderer(), form,
                                                          rt.institution)
        return overlay


def _finish_item(rt: Runtime, item_id: int, attempt: int | None, state: ItemState,
                 error: str | None = None) -> str | None:
    """Close an item that issued nothing: from ``pending`` (``attempt`` None) or from this
    runner's claim."""
    cond = BatchItem.state == ItemState.PENDING if attempt is None else _still_ours(attempt)
    with rt.sessions.begin() as session:
        changed = _rowcount(session.execute(update(BatchItem).where(BatchItem.id == item_id, cond)
                                            .values(state=state, error=error,
                                                    updated_at=utcnow())))
    return str(state) if changed == 1 else None


def _rowcount(result: Result[Any]) -> int:
    """Rows an UPDATE matched (an UPDATE's result is a cursor result)."""
    return cast("CursorResult[Any]", result).rowcount


def _still_ours(attempt: int) -> Any:
    """The item is unfinished and nobody claimed it since this runner did (a resume may
    have put it back to ``pending``; a new claim would have counted another attempt)."""
    return and_(BatchItem.state.in_(OPEN_STATES), BatchItem.attempts == attempt)


def _spoiled(message: str, number: str | None) -> str:
    """A failure after the 文号 was reserved says so: the number stays unused (作废)."""
    return f"{message}（预留文号 {number} 作废）" if number else message


def _live_document(session: Session, form_id: str, student_id: int) -> str | None:
    return session.execute(select(Document.number).where(
        Document.form_id == form_id, Document.student_id == student_id,
        Document.status.in_([DocStatus.IN_PROGRESS, DocStatus.REJECTED])).limit(1)).scalar()


def _error_text(e: DocServiceError) -> str:
    if isinstance(e, ValidationError) and e.errors:
        return "；".join(fe.message for fe in e.errors)[:500]
    return e.message[:500]
