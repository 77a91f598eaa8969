"""Issuing batch items, exactly once, with their 文号 reserved before the render.

``issue_items`` takes a few items of one job (a group) through four steps:

1. It checks each student's data without writing (``plan_issue``); a refusal fails that
   item before any number is taken.
2. A short transaction claims each item (``pending`` → ``issuing``, attempts + 1) and,
   the first time, reserves its 文号, code and document id on it (the group's numbers in
   one block, in class order).
3. It renders and stores the PDFs holding no lock, so workers render in parallel; the
   job's overlay renderer lays out the group's values in one pass (``rendering.overlay``).
4. One transaction records each document and marks its item done, only if no other
   runner has claimed the item since (that row lock orders two runners; the loser writes
   nothing); each item in a savepoint of its own, so one refusal does not undo the others.

A runner killed at any moment leaves each item either done with its document, or
unfinished with its reservation: resuming renders it again under the same number (no gap,
no second document). A failure after the reservation marks the item failed and names the
unused number (作废). ``services.batch`` runs groups; this module issues one.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, Result, and_, exists, select, update
from sqlalchemy.orm import Session

from doc_service.errors import DocServiceError, ValidationError
from doc_service.forms.spec import FormSpec, load_form
from doc_service.numbering import next_numbers
from doc_service.rendering.overlay import OverlayRenderer
from doc_service.rendering.pdf import BatchRenderer, check_glyphs, default_renderer
from doc_service.rendering.qr import new_code
from doc_service.services.access import Staff
from doc_service.services.documents import (
    IssuePlan,
    OpenDocumentExistsError,
    plan_issue,
    record_issue,
    render_drafts,
)
from doc_service.services.runtime import Runtime
from doc_service.storage.batch_models import OPEN_STATES, BatchItem, BatchJob, ItemState, JobStatus
from doc_service.storage.models import (
    OPEN_STATUSES,
    Document,
    Student,
    User,
    new_id,
    open_slot_of,
    utcnow,
)

log = logging.getLogger(__name__)


def issue_item(rt: Runtime, item_id: int, *,
               renderer: BatchRenderer | None = None) -> str | None:
    """Issue one item's document, exactly once; the item's new state, or None if it was
    not this runner's to issue (already finished, or claimed again by another runner)."""
    return issue_items(rt, [item_id], renderer=renderer)[0]


def issue_items(rt: Runtime, item_ids: Sequence[int], *,
                renderer: BatchRenderer | None = None) -> list[str | None]:
    """Issue a group of one job's items (see the module's steps); each item's new state,
    in order, or None where the item was not this runner's to issue. ``renderer`` renders
    the group (default: this process's overlay renderer of the job).

    An unexpected error (not one of ours) hands the group's claims back and issues its
    items one by one; one that fails alone is marked failed in a transaction of its own,
    so one broken record does not stop the whole job."""
    ids = list(item_ids)
    states = _issue_or_fall_back(rt, ids, renderer)
    if any(state is not None for state in states):
        # Whoever closes a job's last item closes the job, so a job whose runner died
        # after its last group (or a pool whose parent was killed) does not stay running.
        for job_id in _jobs_of(rt, ids):
            finish_if_complete(rt, job_id)
    return states


def _issue_or_fall_back(rt: Runtime, ids: list[int],
                        renderer: BatchRenderer | None) -> list[str | None]:
    claims: dict[int, int] = {}
    try:
        return _issue_group(rt, ids, claims, renderer)
    except Exception:
        if len(ids) > 1:
            log.exception("batch items %s failed together; issuing them one by one", ids)
            _release(rt, claims)
            return [issue_item(rt, item_id, renderer=renderer) for item_id in ids]
        log.exception("batch item %s failed unexpectedly", ids[0])
        with rt.sessions.begin() as session:
            item = session.get(BatchItem, ids[0])
            number = item.number if item is not None else None
            session.execute(update(BatchItem).where(BatchItem.id == ids[0],
                                                    BatchItem.state.in_(OPEN_STATES))
                            .values(state=ItemState.FAILED, updated_at=utcnow(),
                                    error=_spoiled("出具时发生内部错误（已记录日志），"
                                                   "请稍后为该学生单独出具", number)))
        return [str(ItemState.FAILED)]


def _jobs_of(rt: Runtime, ids: list[int]) -> list[str]:
    with rt.sessions() as session:
        return list(session.scalars(select(BatchItem.job_id).where(BatchItem.id.in_(ids))
                                    .distinct()))


def finish_if_complete(rt: Runtime, job_id: str) -> None:
    """Mark a running job done once none of its items is left open."""
    pending = exists().where(and_(BatchItem.job_id == job_id,
                                  BatchItem.state.in_(OPEN_STATES)))
    with rt.sessions() as session:  # a read first: most calls find items still open
        if session.scalar(select(pending)):
            return
    with rt.sessions.begin() as session:
        session.execute(update(BatchJob).where(BatchJob.id == job_id,
                                               BatchJob.status == JobStatus.RUNNING, ~pending)
                        .values(status=JobStatus.DONE, finished_at=utcnow()))


@dataclass(frozen=True)
class _Claim:
    """An item this runner claimed, with what is reserved for it."""

    item_id: int
    attempt: int
    number: str
    code: str
    doc_id: str


def _issue_group(rt: Runtime, ids: list[int], claims: dict[int, int],
                 renderer: BatchRenderer | None) -> list[str | None]:
    states: dict[int, str | None] = dict.fromkeys(ids)
    closing: dict[int, tuple[ItemState, str | None]] = {}
    plans: dict[int, IssuePlan] = {}
    with rt.sessions() as session:  # 1. read only
        items = [i for i in session.scalars(select(BatchItem).where(BatchItem.id.in_(ids))
                                             .order_by(BatchItem.position))
                 if i.state == ItemState.PENDING]
        if not items:
            return [None] * len(ids)
        job = session.get(BatchJob, items[0].job_id)
        user = session.get(User, job.created_by) if job is not None else None
        assert job is not None and user is not None
        if any(i.job_id != job.id for i in items):
            raise ValueError("a group holds the items of one job")
        form = load_form(job.form_id)
        if job.status == JobStatus.CANCELLED:
            closing = {i.id: (ItemState.CANCELLED, None) for i in items}
        else:
            students = {s.id: s for s in session.scalars(
                select(Student).where(Student.id.in_([i.student_id for i in items])))}
            live = _live_documents(session, job.form_id, open_slot_of(job.extra_data),
                                   list(students))
            for item in items:
                student = students[item.student_id]
                if student.id in live:
                    closing[item.id] = (ItemState.SKIPPED,
                                        f"已有签批中的同类文书（文号 {live[student.id]}），未重复出具")
                    continue
                try:
                    plan = plan_issue(session, user, form, dict(job.extra_data),
                                      student.student_no)
                    check_glyphs(form, plan.data, rt.institution)
                except DocServiceError as e:
                    closing[item.id] = (ItemState.FAILED, _error_text(e))
                else:
                    plans[item.id] = plan
        actor, job_id = Staff(user), job.id

    today = dt.date.today()
    reserved: list[_Claim] = []
    with rt.sessions.begin() as session:  # 2. claim and reserve
        for item_id, (state, error) in closing.items():
            if _rowcount(session.execute(
                    update(BatchItem).where(BatchItem.id == item_id,
                                            BatchItem.state == ItemState.PENDING)
                    .values(state=state, error=error, updated_at=utcnow()))) == 1:
                states[item_id] = str(state)
        claimed = [item_id for item_id in plans if _rowcount(session.execute(
            update(BatchItem).where(BatchItem.id == item_id,
                                    BatchItem.state == ItemState.PENDING)
            .values(state=ItemState.ISSUING, attempts=BatchItem.attempts + 1,
                    updated_at=utcnow()))) == 1]
        rows = list(session.scalars(select(BatchItem).where(BatchItem.id.in_(claimed))
                                    .order_by(BatchItem.position))) if claimed else []
        unnumbered = [row for row in rows if row.number is None]
        if unnumbered:
            first = next_numbers(session.connection(), form.id, today.year, len(unnumbered))
            for seq, row in enumerate(unnumbered, start=first):
                row.number = form.format_number(year=today.year, seq=seq)
                row.code, row.reserved_id = new_code(), new_id()
        for row in rows:
            assert row.number and row.code and row.reserved_id
            reserved.append(_Claim(row.id, row.attempts, row.number, row.code,
                                   row.reserved_id))
    claims.update({c.item_id: c.attempt for c in reserved})
    if reserved:
        _render_and_record(rt, form, actor, user, plans, reserved, today, states,
                           renderer or _overlay_for(job_id, form, rt))
    return [states[i] for i in ids]


def _render_and_record(rt: Runtime, form: FormSpec, actor: Staff, user: User,
                       plans: dict[int, IssuePlan], reserved: list[_Claim], today: dt.date,
                       states: dict[int, str | None], renderer: BatchRenderer) -> None:
    drafts = render_drafts(  # 3. render, holding no lock
        rt, [(plans[c.item_id], c.number, c.doc_id, c.code) for c in reserved],
        today=today, renderer=renderer)
    with rt.sessions.begin() as session:  # 4. record what is still ours
        for claim, draft in zip(reserved, drafts, strict=True):
            if isinstance(draft, DocServiceError):
                states[claim.item_id] = _close_claim(session, claim, ItemState.FAILED,
                                                     _spoiled(_error_text(draft), claim.number))
                continue
            try:
                with session.begin_nested():
                    # The item first: its row lock orders two runners; the loser stops here.
                    done = _rowcount(session.execute(
                        update(BatchItem).where(BatchItem.id == claim.item_id,
                                                _still_ours(claim.attempt))
                        .values(state=ItemState.DONE, error=None, updated_at=utcnow())))
                    if done != 1:
                        raise _ClaimLost  # claimed again meanwhile: that runner records it
                    record_issue(rt, session, actor, user, plans[claim.item_id],
                                           draft)
                    session.flush()
                    session.execute(update(BatchItem).where(BatchItem.id == claim.item_id)
                                    .values(document_id=draft.doc_id))
            except _ClaimLost:
                states[claim.item_id] = None
            except OpenDocumentExistsError:
                # Another job (or a person) issued this student's document meanwhile: the
                # database kept it to one, and this item leaves it at that.
                states[claim.item_id] = _close_claim(
                    session, claim, ItemState.SKIPPED,
                    _spoiled("已有签批中的同类文书（另一批次或人工同时出具），未重复出具",
                             claim.number))
            except DocServiceError as e:
                states[claim.item_id] = _close_claim(session, claim, ItemState.FAILED,
                                                     _spoiled(_error_text(e), claim.number))
            else:
                states[claim.item_id] = str(ItemState.DONE)


def _close_claim(session: Session, claim: _Claim, state: ItemState,
                 error: str | None) -> str | None:
    changed = _rowcount(session.execute(
        update(BatchItem).where(BatchItem.id == claim.item_id, _still_ours(claim.attempt))
        .values(state=state, error=error, updated_at=utcnow())))
    return str(state) if changed == 1 else None


def _release(rt: Runtime, claims: dict[int, int]) -> None:
    """Hand this runner's claims back (``pending``, reservations kept) so that the items
    can be issued again, one by one."""
    if not claims:
        return
    with rt.sessions.begin() as session:
        for item_id, attempt in claims.items():
            session.execute(update(BatchItem).where(
                BatchItem.id == item_id, BatchItem.state == ItemState.ISSUING,
                BatchItem.attempts == attempt)
                .values(state=ItemState.PENDING, updated_at=utcnow()))


class _ClaimLost(Exception):
    """Rolls back a result that is no longer this runner's to record."""


_OVERLAYS: dict[str, OverlayRenderer] = {}
_OVERLAYS_LOCK = threading.Lock()


def _overlay_for(job_id: str, form: FormSpec, rt: Runtime) -> OverlayRenderer:
    """This process's overlay renderer for a job: the form laid out once, each student's
    values drawn over it (``rendering.overlay``; it renders in full where that would not
    be exact)."""
    with _OVERLAYS_LOCK:
        overlay = _OVERLAYS.get(job_id)
        if overlay is None:
            if len(_OVERLAYS) >= 8:
                _OVERLAYS.pop(next(iter(_OVERLAYS)))
            overlay = _OVERLAYS[job_id] = OverlayRenderer(default_renderer(), form,
                                                          rt.institution)
        return overlay


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


def _live_documents(session: Session, form_id: str, slot: str,
                    student_ids: list[int]) -> dict[int, str]:
    """The students who already have an open document of this form (and academic year,
    ``slot``), with its 文号: the one the database would refuse a second of."""
    rows = session.execute(select(Document.student_id, Document.number).where(
        Document.form_id == form_id, Document.student_id.in_(student_ids),
        Document.open_slot == slot, Document.status.in_(OPEN_STATUSES)))
    return {student_id: number for student_id, number in rows if student_id is not None}


def _error_text(e: DocServiceError) -> str:
    if isinstance(e, ValidationError) and e.errors:
        return "；".join(fe.message for fe in e.errors)[:500]
    return e.message[:500]
