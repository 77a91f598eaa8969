"""Batch issuance: one document per student of a grade, college or class, as a resumable job.

``start_batch`` stores a job with one item per student (unique per job and student) and
hands the items to a dispatcher: a background thread in this process, or, when
``REDIS_URL`` is set, an RQ queue served by ``doc-service worker`` processes.

Exactly once, and in parallel: items are issued a group at a time by
``batch_items.issue_items``, which reserves each item's 文号 before rendering and records
only under its own claim, so runners may be killed, resumed or doubled. A big job without
Redis is spread over local processes.

A job is refused if a running job of the same form and academic year is still issuing some
of its students (the database's one-open-document index holds even when starts race);
cancelling and resuming are for the job's owner and the registrar.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, insert, select, text, update
from sqlalchemy.orm import Session

from archive.store import FileContentStore
from doc_service.errors import (
    ConfigurationError,
    ConflictError,
    FieldError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
    WorkflowError,
)
from doc_service.forms.spec import FormSpec, load_form
from doc_service.forms.validation import validate
from doc_service.rendering.pdf import BatchRenderer
from doc_service.rendering.slots import GROUP_SIZE
from doc_service.services.access import SCHOOL_WIDE, Actor, require_staff
from doc_service.services.audit import audit
from doc_service.services.batch_items import finish_if_complete, issue_items
from doc_service.services.runtime import BatchDispatcher, Runtime
from doc_service.storage.batch_models import (
    OPEN_STATES,
    BatchItem,
    BatchJob,
    ItemState,
    JobStatus,
)
from doc_service.storage.models import (
    College,
    Role,
    SchoolClass,
    Student,
    User,
    open_slot_of,
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


# --- dispatchers (chosen by the composition root: RQ with REDIS_URL, else THREADS) -----

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
    """Across processes: one RQ job per group of items on the ``doc-service-batch`` queue.

    redis and rq are imported when a job is queued, not at start-up: without ``REDIS_URL``
    nothing here needs them."""

    redis_url: str
    queue_name: str = QUEUE_NAME

    def queue(self) -> Any:
        from redis import Redis
        from rq import Queue

        return Queue(self.queue_name, connection=Redis.from_url(self.redis_url))

    def submit(self, rt: Runtime, job_id: str, item_ids: list[int]) -> None:
        from rq import Queue

        q = self.queue()
        chunks = _groups(item_ids)
        for start in range(0, len(chunks), 100):
            q.enqueue_many([Queue.prepare_data(rq_issue_items, args=(job_id, chunk),
                                               result_ttl=0, failure_ttl=7 * 86400,
                                               timeout=600)
                            for chunk in chunks[start:start + 100]])


THREADS = ThreadDispatcher()
"""The process's in-process dispatcher (tests join its threads)."""


# --- use cases -------------------------------------------------------------------------

def start_batch(rt: Runtime, actor: Actor, form_id: str, grade: int | None = None,
                colleges: Iterable[str] = (), classes: Iterable[str] = (),
                extra_data: dict[str, Any] | None = None, *,
                dispatch: bool = True, dispatcher: BatchDispatcher | None = None
                ) -> BatchProgress:
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
        _serialize_starts(session)
        session.add(job)
        session.flush()
        _refuse_overlap(session, form, job, [s.id for s in students])
        session.execute(insert(BatchItem), [
            {"job_id": job.id, "student_id": s.id, "position": i, "state": ItemState.PENDING,
             "attempts": 0} for i, s in enumerate(students)])
        audit(session, actor, "batch_start", "batch", job.id, form_id=form.id,
              total=len(students))
        job_id = job.id
    if dispatch:
        (dispatcher or rt.dispatcher).submit(rt, job_id, _pending_ids(rt, job_id))
    return batch_progress(rt, actor, job_id)


def resume_batch(rt: Runtime, actor: Actor, job_id: str, *,
                 dispatcher: BatchDispatcher | None = None) -> BatchProgress:
    """Hand the job's unfinished items out again (after a restart, a crash or a kill).

    Items a runner had claimed go back to ``pending`` with their reservation: if that
    runner is still alive it may still record its result, unless another runner claims
    the item first (then only that one can)."""
    job = _job_for(rt, actor, job_id)
    _require_control(actor, job)
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
        (dispatcher or rt.dispatcher).submit(rt, job_id, pending)
    else:
        finish_if_complete(rt, job_id)
    return batch_progress(rt, actor, job_id)


def cancel_batch(rt: Runtime, actor: Actor, job_id: str) -> BatchProgress:
    """Stop a job: unfinished items are cancelled (a number reserved for one stays unused,
    shown on the item); documents already issued stay."""
    _require_control(actor, _job_for(rt, actor, job_id))
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

MIN_ITEMS_PER_PROCESS = 50
"""Below this many items per process, starting one (~1.5 s: imports, fonts, the fixed page)
costs more than it saves (an item costs ~20 ms)."""


def batch_processes(rt: Runtime) -> int:
    """How many processes an in-process batch may use: the runtime's ``batch_processes``
    (``DOC_SERVICE_BATCH_PROCESSES``), else one per core."""
    return rt.batch_processes or os.cpu_count() or 1


def run_batch(rt: Runtime, job_id: str, *,
              on_item: Callable[[int, str], None] | None = None,
              processes: int | None = None,
              renderer: BatchRenderer | None = None) -> None:
    """Issue every pending item of a job in class order.

    Rendering is CPU-bound Python, so threads would not help: a big job is spread over
    ``processes`` (default :func:`batch_processes`) freshly started local processes (the
    runtime's ``pool``), a small one runs in this thread, with ``renderer`` if given (by
    default the job's overlay renderer). Either way items are issued a group at a time by
    ``issue_items``."""
    item_ids = _pending_ids(rt, job_id)
    wanted = batch_processes(rt) if processes is None else processes
    workers = min(wanted, len(item_ids) // MIN_ITEMS_PER_PROCESS) if _shareable(rt) else 1
    groups = _groups(item_ids)
    if workers > 1:
        for group, states in zip(groups, rt.pool.issue_groups(rt, groups, workers),
                                 strict=True):
            _report(group, states, on_item)
    else:
        for group in groups:
            if _job_status(rt, job_id) != JobStatus.RUNNING:
                break
            _report(group, issue_items(rt, group, renderer=renderer), on_item)
    finish_if_complete(rt, job_id)


def _report(group: list[int], states: list[str | None],
            on_item: Callable[[int, str], None] | None) -> None:
    for item_id, state in zip(group, states, strict=True):
        if on_item is not None and state is not None:
            on_item(item_id, state)


def _groups(item_ids: list[int]) -> list[list[int]]:
    """The items in groups of ``GROUP_SIZE``, in class order."""
    return [item_ids[i:i + GROUP_SIZE] for i in range(0, len(item_ids), GROUP_SIZE)]


def _shareable(rt: Runtime) -> bool:
    """Whether other processes can open the same database and file store (not an in-memory
    SQLite database or a store that keeps blobs in this process)."""
    url = rt.engine.url
    in_memory = url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")
    return isinstance(rt.store, FileContentStore) and not in_memory


def _run_logged(rt: Runtime, job_id: str) -> None:
    try:
        run_batch(rt, job_id)
    except Exception:  # a background thread has no caller to raise to
        log.exception("batch %s stopped; resume it to continue", job_id)


def rq_issue_items(job_id: str, item_ids: list[int]) -> list[str | None]:
    """The RQ task: issue a group of items with this worker process's runtime (a killed
    worker leaves at most that group claimed, which a resume hands out again)."""
    rt = worker_runtime()
    states: list[str | None] = []
    for group in _groups(list(item_ids)):  # tasks queued by versions with bigger chunks
        states += issue_items(rt, group)
    finish_if_complete(rt, job_id)
    return states


def rq_issue_item(job_id: str, item_id: int) -> str | None:
    """The RQ task of earlier versions (one item), for tasks still queued from them."""
    return rq_issue_items(job_id, [item_id])[0]


_WORKER_RT: Runtime | None = None


def set_worker_runtime(rt: Runtime) -> None:
    """Give this worker process its runtime (``doc-service worker``, or a pool process as
    it starts: both build it with ``bootstrap.build_runtime``)."""
    global _WORKER_RT
    _WORKER_RT = rt


def worker_runtime() -> Runtime:
    """The runtime of this worker process (see :func:`set_worker_runtime`)."""
    if _WORKER_RT is None:
        raise ConfigurationError("此进程没有运行环境：批量出具的队列任务须由 doc-service worker "
                                 "进程处理")
    return _WORKER_RT


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


def _check_extra_data(form: FormSpec, student: Student, extra: dict[str, Any]) -> None:
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


def _require_control(actor: Actor, job: BatchJob) -> None:
    """Cancelling or resuming a job is for the one who started it and the registrar
    (教务处学籍科); others who may see it (its college's staff, the archivist) only watch."""
    user = require_staff(actor)
    if user.id != job.created_by and user.role != Role.REGISTRAR:
        raise PermissionDeniedError("只有发起该批次的人或教务处学籍科可以取消或继续该批次")


START_LOCK_KEY = 0x646F6362  # "docb": the advisory lock batch starts take on PostgreSQL


def _serialize_starts(session: Session) -> None:
    """Let one batch start at a time check for overlaps and record its job, so two started
    together cannot both find the other absent. PostgreSQL: a transaction advisory lock;
    SQLite: the job's insert, the first write, takes the database's one write lock before
    the check reads (pysqlite begins the transaction there)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": START_LOCK_KEY})


def _refuse_overlap(session: Session, form: FormSpec, job: BatchJob,
                    student_ids: list[int]) -> None:
    """Refuse a job if a running job of the same form and academic year still has items
    open for some of its students (the database would refuse their second documents
    anyway: this says so before anything is claimed, and names the job to wait for)."""
    slot = open_slot_of(job.extra_data)
    running = session.execute(
        select(BatchJob.id, func.count(BatchItem.id))
        .join(BatchItem, BatchItem.job_id == BatchJob.id)
        .where(BatchJob.form_id == form.id, BatchJob.status == JobStatus.RUNNING,
               BatchJob.id != job.id, BatchItem.state.in_(OPEN_STATES),
               BatchItem.student_id.in_(student_ids))
        .group_by(BatchJob.id).order_by(BatchJob.id)).all()
    for other_id, overlap in running:
        other = session.get(BatchJob, other_id)
        if other is not None and open_slot_of(other.extra_data or {}) == slot:
            raise ConflictError(f"所选学生中有 {overlap} 人正在另一个进行中的「{form.title}」批次"
                                f"（{other_id}）中出具：请等该批次完成，或先取消它")


def _job_status(rt: Runtime, job_id: str) -> str | None:
    with rt.sessions() as session:
        return session.scalar(select(BatchJob.status).where(BatchJob.id == job_id))


def _pending_ids(rt: Runtime, job_id: str) -> list[int]:
    with rt.sessions() as session:
        return list(session.scalars(select(BatchItem.id).where(
            BatchItem.job_id == job_id, BatchItem.state == ItemState.PENDING)
            .order_by(BatchItem.position)))
