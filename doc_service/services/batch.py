"""Batch issuance: one document per student of a grade, college or class, as a resumable job.

``start_batch`` stores a job with one item per student (unique per job and student) and
hands the items to a dispatcher: a background thread in this process, or, when
``REDIS_URL`` is set, an RQ queue served by ``doc-service worker`` processes.

Exactly once, and in parallel. ``issue_item`` checks the student's data without writing,
then claims the item in a short transaction (``pending`` → ``issuing``) that also reserves
its 文号, code and document id on the item; it renders holding no lock, so several
workers issue at once; and it records the document and marks the item done in one last
transaction, only if no other runner has claimed the item since. A runner killed at any
moment leaves the item either done with its document, or unfinished with its reservation:
resuming renders it again under the same number (no gap, no second document). A failure
after the reservation marks the item failed and names the unused number (作废).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, cast

from sqlalchemy import Connection, CursorResult, Result, and_, exists, func, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from doc_service.errors import (
    DocServiceError,
    FieldError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
    WorkflowError,
)
from doc_service.forms.spec import load_form
from doc_service.forms.validation import validate
from doc_service.numbering import next_number
from doc_service.rendering.pdf import check_glyphs
from doc_service.rendering.qr import new_code
from doc_service.services.access import SCHOOL_WIDE, Actor, Staff, require_staff
from doc_service.services.audit import audit
from doc_service.services.runtime import Runtime
from doc_service.storage.batch_models import (
    OPEN_STATES,
    BatchItem,
    BatchJob,
    ItemState,
    JobStatus,
)
from doc_service.storage.models import (
    College,
    DocStatus,
    Document,
    Role,
    SchoolClass,
    Student,
    User,
    new_id,
    utcnow,
)

log = logging.getLogger(__name__)

QUEUE_NAME = os.environ.get("DOC_SERVICE_BATCH_QUEUE", "doc-service-batch")
"""The RQ queue; another name (same on both sides) keeps test or staging runs apart."""
MAX_ERRORS_SHOWN = 200


@dataclass(frozen=True)
class ItemError:
    student_no: str
    name: str
    class_no: str
    message: str
    """Chinese, from the use case that refused (e.g. 班级 X 尚未设置班主任)."""


@dataclass(frozen=True)
class BatchProgress:
    """Where a job stands; ``finished`` once no item is pending."""

    job_id: str
    form_id: str
    status: str
    total: int
    done: int = 0
    failed: int = 0
    skipped: int = 0
    cancelled: int = 0
    pending: int = 0
    errors: tuple[ItemError, ...] = ()
    """Failed and skipped items with their reason (the first ``MAX_ERRORS_SHOWN``)."""

    @property
    def finished(self) -> bool:
        return self.pending == 0

    @property
    def processed(self) -> int:
        return self.total - self.pending

    def to_dict(self) -> dict[str, Any]:
        return {"job_id": self.job_id, "form_id": self.form_id, "status": self.status,
                "total": self.total, "done": self.done, "failed": self.failed,
                "skipped": self.skipped, "cancelled": self.cancelled, "pending": self.pending,
                "finished": self.finished,
                "errors": [e.__dict__ for e in self.errors]}


# --- dispatchers -----------------------------------------------------------------------

class Dispatcher(Protocol):
    """Gets a job's pending items issued, somewhere."""

    def submit(self, rt: Runtime, job_id: str, item_ids: list[int]) -> None: ...


@dataclass
class ThreadDispatcher:
    """In-process: one background thread per job issues its items in class order."""

    threads: dict[str, threading.Thread] = field(default_factory=dict)

    def submit(self, rt: Runtime, job_id: str, item_ids: list[int]) -> None:
        running = self.threads.get(job_id)
        if running is not None and running.is_alive():
            return  # that thread picks up every pending item anyway
        thread = threading.Thread(target=_run_logged, args=(rt, job_id), daemon=True,
                                  name=f"batch-{job_id[:8]}")
        self.threads[job_id] = thread
        thread.start()


@dataclass
class RqDispatcher:
    """Across processes: one RQ job per item on the ``doc-service-batch`` queue."""

    redis_url: str
    queue_name: str = QUEUE_NAME

    def queue(self) -> Any:
        from redis import Redis
        from rq import Queue

        return Queue(self.queue_name, connection=Redis.from_url(self.redis_url))

    def submit(self, rt: Runtime, job_id: str, item_ids: list[int]) -> None:
        from rq import Queue

        q = self.queue()
        chunks = [item_ids[i:i + RQ_CHUNK] for i in range(0, len(item_ids), RQ_CHUNK)]
        for start in range(0, len(chunks), 100):
            q.enqueue_many([Queue.prepare_data(rq_issue_items, args=(job_id, chunk),
                                               result_ttl=0, failure_ttl=7 * 86400,
                                               timeout=600)
                            for chunk in chunks[start:start + 100]])


THREADS = ThreadDispatcher()
"""The process's in-process dispatcher (tests join its threads)."""


def dispatcher_for(rt: Runtime) -> Dispatcher:
    """RQ when ``REDIS_URL`` (or the runtime setting ``redis_url``) is set, else a thread."""
    configured = rt.settings.get("batch_dispatcher")
    if configured is not None:
        return configured  # type: ignore[no-any-return]
    url = rt.settings.get("redis_url") or os.environ.get("REDIS_URL")
    return RqDispatcher(url) if url else THREADS


# --- use cases -------------------------------------------------------------------------

def start_batch(rt: Runtime, actor: Actor, form_id: str, grade: int | None = None,
                colleges: Iterable[str] = (), classes: Iterable[str] = (),
                extra_data: dict[str, Any] | None = None, *,
                dispatch: bool = True, dispatcher: Dispatcher | None = None) -> BatchProgress:
    """Create a job issuing ``form_id`` to every selected student, and start it."""
    user = require_staff(actor, Role.ISSUER, Role.REGISTRAR)
    form = load_form(form_id)
    if "student_no" not in form.keys:
        raise WorkflowError(f"「{form.title}」的数据不来自花名册，不能批量出具")
    colleges, classes = [c for c in colleges if c], [k for k in classes if k]
    if grade is None and not colleges and not classes:
        raise WorkflowError("请至少选择年级、学院或班级之一")
    extra = dict(extra_data or {})
    with rt.sessions.begin() as session:
        students = _select_students(session, user, grade, colleges, classes)
        if not students:
            raise WorkflowError("所选范围内没有学生")
        _check_extra_data(form, students[0], extra)
        job = BatchJob(form_id=form.id, created_by=user.id, extra_data=extra,
                       selection={"grade": grade, "colleges": colleges, "classes": classes},
                       status=JobStatus.RUNNING, total=len(students))
        session.add(job)
        session.flush()
        session.execute(insert(BatchItem), [
            {"job_id": job.id, "student_id": s.id, "position": i, "state": ItemState.PENDING,
             "attempts": 0} for i, s in enumerate(students)])
        audit(session, actor, "batch_start", "batch", job.id, form_id=form.id,
              total=len(students))
        job_id = job.id
    if dispatch:
        (dispatcher or dispatcher_for(rt)).submit(rt, job_id, _pending_ids(rt, job_id))
    return batch_progress(rt, actor, job_id)


def resume_batch(rt: Runtime, actor: Actor, job_id: str, *,
                 dispatcher: Dispatcher | None = None) -> BatchProgress:
    """Hand the job's unfinished items out again (after a restart, a crash or a kill).

    Items a runner had claimed go back to ``pending`` with their reservation: if that
    runner is still alive it may still record its result, unless another runner claims
    the item first (then only that one can)."""
    job = _job_for(rt, actor, job_id)
    if job.status == JobStatus.CANCELLED:
        raise WorkflowError("该批次已取消，不能继续")
    with rt.sessions.begin() as session:
        session.execute(update(BatchItem).where(BatchItem.job_id == job_id,
                                                BatchItem.state == ItemState.ISSUING)
                        .values(state=ItemState.PENDING, updated_at=utcnow()))
    pending = _pending_ids(rt, job_id)
    with rt.sessions.begin() as session:
        audit(session, actor, "batch_resume", "batch", job_id, pending=len(pending))
    if pending:
        (dispatcher or dispatcher_for(rt)).submit(rt, job_id, pending)
    else:
        _finish_if_complete(rt, job_id)
    return batch_progress(rt, actor, job_id)


def cancel_batch(rt: Runtime, actor: Actor, job_id: str) -> BatchProgress:
    """Stop a job: unfinished items are cancelled (a number reserved for one stays unused,
    shown on the item); documents already issued stay."""
    _job_for(rt, actor, job_id)
    with rt.sessions.begin() as session:
        session.execute(update(BatchJob).where(BatchJob.id == job_id,
                                               BatchJob.status == JobStatus.RUNNING)
                        .values(status=JobStatus.CANCELLED, finished_at=utcnow()))
        session.execute(update(BatchItem).where(BatchItem.job_id == job_id,
                                                BatchItem.state.in_(OPEN_STATES))
                        .values(state=ItemState.CANCELLED, updated_at=utcnow()))
        audit(session, actor, "batch_cancel", "batch", job_id)
    return batch_progress(rt, actor, job_id)


def batch_progress(rt: Runtime, actor: Actor, job_id: str) -> BatchProgress:
    job = _job_for(rt, actor, job_id)
    with rt.sessions() as session:
        counts = dict(session.execute(
            select(BatchItem.state, func.count()).where(BatchItem.job_id == job_id)
            .group_by(BatchItem.state)).all())
        rows = session.execute(
            select(Student.student_no, Student.name, SchoolClass.class_no, BatchItem.error)
            .join(Student, Student.id == BatchItem.student_id)
            .join(SchoolClass, SchoolClass.id == Student.class_id)
            .where(BatchItem.job_id == job_id,
                   BatchItem.state.in_([ItemState.FAILED, ItemState.SKIPPED]))
            .order_by(BatchItem.position).limit(MAX_ERRORS_SHOWN)).all()
    return BatchProgress(
        job_id=job.id, form_id=job.form_id, status=job.status, total=job.total,
        done=counts.get(ItemState.DONE, 0), failed=counts.get(ItemState.FAILED, 0),
        skipped=counts.get(ItemState.SKIPPED, 0), cancelled=counts.get(ItemState.CANCELLED, 0),
        pending=sum(counts.get(state, 0) for state in OPEN_STATES),
        errors=tuple(ItemError(r[0], r[1], r[2], r[3] or "") for r in rows))


def list_batches(rt: Runtime, actor: Actor, limit: int = 20) -> list[BatchJob]:
    user = require_staff(actor)
    with rt.sessions() as session:
        q = select(BatchJob).order_by(BatchJob.created_at.desc()).limit(limit)
        if user.role not in SCHOOL_WIDE:
            q = q.where(BatchJob.created_by.in_(
                select(User.id).where(User.college_id == user.college_id)))
        return list(session.scalars(q))


# --- running items ---------------------------------------------------------------------

MIN_ITEMS_PER_PROCESS = 25
"""Below this many items per extra process, starting one costs more than it saves."""


def batch_processes(rt: Runtime) -> int:
    """How many processes an in-process batch may use: the runtime setting
    ``batch_processes``, else ``DOC_SERVICE_BATCH_PROCESSES``, else one per core."""
    configured = rt.settings.get("batch_processes") or os.environ.get(
        "DOC_SERVICE_BATCH_PROCESSES")
    try:
        return max(1, int(configured)) if configured else (os.cpu_count() or 1)
    except ValueError:
        return 1


def run_batch(rt: Runtime, job_id: str, *,
              on_item: Callable[[int, str], None] | None = None,
              processes: int | None = None) -> None:
    """Issue every pending item of a job in class order.

    Rendering is CPU-bound Python, so threads would not help: a big job is spread over
    ``processes`` (default :func:`batch_processes`) freshly started local processes, a
    small one runs in this thread. Either way each item is issued by ``issue_item``."""
    item_ids = _pending_ids(rt, job_id)
    wanted = batch_processes(rt) if processes is None else processes
    workers = min(wanted, len(item_ids) // MIN_ITEMS_PER_PROCESS) if _shareable(rt) else 1
    if workers > 1:
        _run_in_processes(rt, item_ids, workers, on_item)
    else:
        for item_id in item_ids:
            if _job_status(rt, job_id) != JobStatus.RUNNING:
                break
            state = issue_item(rt, item_id)
            if on_item is not None and state is not None:
                on_item(item_id, state)
    _finish_if_complete(rt, job_id)


def _shareable(rt: Runtime) -> bool:
    """Whether other processes can open the same database and file store (not an in-memory
    SQLite database or a store that keeps blobs in this process)."""
    from archive.store import FileContentStore

    url = rt.engine.url
    in_memory = url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")
    return isinstance(rt.store, FileContentStore) and not in_memory


@dataclass(frozen=True)
class _RuntimeRecipe:
    """What a spawned process needs to open the same database, store and school."""

    instance: Any
    url: str
    secret_key: str
    institution: Any
    store: Any

    @classmethod
    def of(cls, rt: Runtime) -> _RuntimeRecipe:
        return cls(instance=rt.instance, url=rt.engine.url.render_as_string(hide_password=False),
                   secret_key=rt.secret_key, institution=rt.institution, store=rt.store)

    def open(self) -> Runtime:
        from doc_service.db import make_engine

        return Runtime(instance=self.instance, engine=make_engine(self.url),
                       institution=self.institution, store=self.store,
                       secret_key=self.secret_key)


def _run_in_processes(rt: Runtime, item_ids: list[int], workers: int,
                      on_item: Callable[[int, str], None] | None) -> None:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # "spawn", not fork: this may run in a thread of a web worker, where forking could
    # copy a lock some other thread holds.
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                             initializer=_init_process, initargs=(_RuntimeRecipe.of(rt),)) as pool:
        for item_id, state in zip(item_ids, pool.map(issue_item_here, item_ids, chunksize=4),
                                  strict=True):
            if on_item is not None and state is not None:
                on_item(item_id, state)


def _init_process(recipe: _RuntimeRecipe) -> None:
    set_worker_runtime(recipe.open())


def issue_item_here(item_id: int) -> str | None:
    """Issue one item with this process's runtime (a pool process or an RQ worker)."""
    return issue_item(worker_runtime(), item_id)


def _run_logged(rt: Runtime, job_id: str) -> None:
    try:
        run_batch(rt, job_id)
    except Exception:  # a background thread has no caller to raise to
        log.exception("batch %s stopped; resume it to continue", job_id)


RQ_CHUNK = 8
"""Items per RQ task: fewer queue round trips; each item is still claimed on its own, so a
killed worker loses at most its one item in progress (which a resume renders again)."""


def rq_issue_items(job_id: str, item_ids: list[int]) -> list[str | None]:
    """The RQ task: issue a few items with this worker process's runtime."""
    rt = worker_runtime()
    states = [issue_item(rt, item_id) for item_id in item_ids]
    _finish_if_complete(rt, job_id)
    return states


def rq_issue_item(job_id: str, item_id: int) -> str | None:
    """The RQ task of earlier versions (one item), for tasks still queued from them."""
    return rq_issue_items(job_id, [item_id])[0]


_WORKER_RT: Runtime | None = None


def set_worker_runtime(rt: Runtime) -> None:
    global _WORKER_RT
    _WORKER_RT = rt


def worker_runtime() -> Runtime:
    """The runtime of a worker process, opened from the instance folder on first use."""
    global _WORKER_RT
    if _WORKER_RT is None:
        from doc_service.config import instance_path
        from doc_service.services.runtime import open_runtime
        from doc_service.web import instance_secret

        instance = instance_path()
        _WORKER_RT = open_runtime(instance, secret_key=instance_secret(instance))
    return _WORKER_RT


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


def joined_runtime(rt: Runtime, conn: Connection) -> Runtime:
    """A view of ``rt`` whose sessions run as SAVEPOINTs inside ``conn``'s transaction."""
    view = replace(rt)
    for name in ("keystore", "timestamper", "trust_roots", "font_path"):
        if name in rt.__dict__:
            view.__dict__[name] = rt.__dict__[name]
    view.__dict__["sessions"] = sessionmaker(bind=conn, expire_on_commit=False,
                                             join_transaction_mode="create_savepoint")
    return view


def _live_document(session: Session, form_id: str, student_id: int) -> str | None:
    return session.execute(select(Document.number).where(
        Document.form_id == form_id, Document.student_id == student_id,
        Document.status.in_([DocStatus.IN_PROGRESS, DocStatus.REJECTED])).limit(1)).scalar()


def _error_text(e: DocServiceError) -> str:
    if isinstance(e, ValidationError) and e.errors:
        return "；".join(fe.message for fe in e.errors)[:500]
    return e.message[:500]


# --- helpers ---------------------------------------------------------------------------

def _select_students(session: Session, user: User, grade: int | None, colleges: list[str],
                     classes: list[str]) -> list[Student]:
    q = select(Student).join(SchoolClass, SchoolClass.id == Student.class_id)
    if user.role not in SCHOOL_WIDE:
        own = user.college.name if user.college is not None else ""
        if any(c != own for c in colleges):
            raise PermissionDeniedError("只能为本学院的学生批量出具文书")
        q = q.where(Student.college_id == user.college_id)
    if grade is not None:
        q = q.where(Student.grade == grade)
    if colleges:
        found = dict(session.execute(select(College.name, College.id)
                                     .where(College.name.in_(colleges))).all())
        missing = [c for c in colleges if c not in found]
        if missing:
            raise NotFoundError(f"没有找到学院：{'、'.join(missing)}")
        q = q.where(Student.college_id.in_(found.values()))
    if classes:
        found = dict(session.execute(select(SchoolClass.class_no, SchoolClass.id)
                                     .where(SchoolClass.class_no.in_(classes))).all())
        missing = [k for k in classes if k not in found]
        if missing:
            raise NotFoundError(f"没有找到班级：{'、'.join(missing)}")
        q = q.where(Student.class_id.in_(found.values()))
    return list(session.scalars(q.order_by(SchoolClass.class_no, Student.student_no)))


def _check_extra_data(form: Any, student: Student, extra: dict[str, Any]) -> None:
    """Refuse up front what would fail for every student: the shared, non-roster fields."""
    roster = {k: v for k, v in student.form_data().items() if k in form.keys}
    try:
        validate(form, {**roster, **extra})
    except ValidationError as e:
        roster_keys = set(Student.SHARED_KEYS) | {"college", "class_no"}
        common = [fe for fe in e.errors if fe.key not in roster_keys]
        if common:
            raise ValidationError(common, "批量出具的补充信息有误（对所有学生相同的字段）") from e
    unknown = [k for k in extra if k not in form.keys]
    if unknown:
        raise ValidationError([FieldError(k, "该表单没有这个字段", "unknown_field")
                               for k in unknown])


def _job_for(rt: Runtime, actor: Actor, job_id: str) -> BatchJob:
    user = require_staff(actor)
    with rt.sessions() as session:
        job = session.get(BatchJob, job_id)
        if job is None:
            raise NotFoundError("没有找到该批次")
        if user.role not in SCHOOL_WIDE:
            owner = session.get(User, job.created_by)
            if owner is None or owner.college_id != user.college_id:
                raise NotFoundError("没有找到该批次")
        return job


def _job_status(rt: Runtime, job_id: str) -> str | None:
    with rt.sessions() as session:
        return session.scalar(select(BatchJob.status).where(BatchJob.id == job_id))


def _pending_ids(rt: Runtime, job_id: str) -> list[int]:
    with rt.sessions() as session:
        return list(session.scalars(select(BatchItem.id).where(
            BatchItem.job_id == job_id, BatchItem.state == ItemState.PENDING)
            .order_by(BatchItem.position)))


def _finish_if_complete(rt: Runtime, job_id: str) -> None:
    pending = exists().where(and_(BatchItem.job_id == job_id,
                                  BatchItem.state.in_(OPEN_STATES)))
    with rt.sessions() as session:  # a read first: most calls find items still open
        if session.scalar(select(pending)):
            return
    with rt.sessions.begin() as session:
        session.execute(update(BatchJob).where(BatchJob.id == job_id,
                                               BatchJob.status == JobStatus.RUNNING, ~pending)
                        .values(status=JobStatus.DONE, finished_at=utcnow()))
