"""Kill a batch with SIGKILL mid-way and resume it: every student gets exactly one document.

Two ways to run a batch are killed: the CLI (in-process thread) and an RQ worker process.
The invariant checked afterwards is the same: one done item per student, each pointing at
a document, no document without its item, 文号 all different.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from typing import Any

import pytest
from redis import Redis
from sqlalchemy import func, select

from doc_service.services import batch
from doc_service.storage.batch_models import BatchItem, BatchJob, ItemState
from doc_service.storage.models import Document, Student
from tests.services.batch.conftest import EXTRA, assign_teachers, import_generated, subprocess_env

FORM = "verification_checklist"
HANG_GUARD_S = 900  # only to stop a hung test; nothing here asserts on speed


def wait_for(predicate: Any, what: str) -> Any:
    deadline = time.monotonic() + HANG_GUARD_S
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    pytest.fail(f"gave up waiting for {what}")


def item_counts(rt: Any, job_id: str) -> Counter[str]:
    with rt.sessions() as s:
        return Counter(dict(s.execute(select(BatchItem.state, func.count())
                                      .where(BatchItem.job_id == job_id)
                                      .group_by(BatchItem.state)).all()))


def job_of_class(rt: Any, class_no: str) -> str | None:
    with rt.sessions() as s:
        for job in s.scalars(select(BatchJob).order_by(BatchJob.created_at.desc())):
            if job.selection.get("classes") == [class_no]:
                return job.id
    return None


def assert_exactly_one_document_each(rt: Any, job_id: str, class_no: str) -> None:
    with rt.sessions() as s:
        student_ids = set(s.scalars(select(Student.id).join(Student.klass)
                                    .where(Student.klass.has(class_no=class_no))))
        docs = list(s.scalars(select(Document).where(Document.form_id == FORM,
                                                     Document.student_id.in_(student_ids))))
        items = list(s.scalars(select(BatchItem).where(BatchItem.job_id == job_id)))
    assert Counter(d.student_id for d in docs) == Counter({sid: 1 for sid in student_ids})
    assert all(i.state == ItemState.DONE for i in items)
    assert {i.document_id for i in items} == {d.id for d in docs}
    assert len({d.number for d in docs}) == len(docs)


@pytest.mark.slow
def test_cli_batch_killed_with_sigkill_resumes_without_issuing_twice(
        runtime: Any, registrar: Any, db_url: str, tmp_path: Any) -> None:
    class_no = "断点2701"
    import_generated(runtime, registrar, {class_no: range(40_000, 40_040)})
    assign_teachers(runtime, [class_no])
    extra = tmp_path / "extra.json"
    extra.write_text(json.dumps(EXTRA), encoding="utf-8")
    env = subprocess_env(runtime, db_url)
    cli = [sys.executable, "-m", "doc_service", "batch", FORM, "--class", class_no,
           "--data", str(extra)]
    proc = subprocess.Popen(cli, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        job_id = wait_for(lambda: job_of_class(runtime, class_no), "the job")
        wait_for(lambda: item_counts(runtime, job_id)[ItemState.DONE] >= 8, "8 items done")
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    before = item_counts(runtime, job_id)
    assert before[ItemState.PENDING] > 0, before

    resumed = subprocess.run([sys.executable, "-m", "doc_service", "batch", "--resume", job_id],
                             env=env, capture_output=True, text=True, timeout=HANG_GUARD_S)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "已出具40" in resumed.stdout
    assert_exactly_one_document_each(runtime, job_id, class_no)


def _redis_up() -> bool:
    try:
        return bool(Redis.from_url("redis://127.0.0.1:6379/0").ping())
    except Exception:  # any failure means: no Redis here
        return False


@pytest.mark.slow
@pytest.mark.skipif(not _redis_up(), reason="needs Redis on 127.0.0.1:6379")
def test_rq_worker_killed_with_sigkill_resumes_without_issuing_twice(
        runtime: Any, registrar: Any, db_url: str) -> None:
    class_no = "队列2701"
    import_generated(runtime, registrar, {class_no: range(41_000, 41_040)})
    assign_teachers(runtime, [class_no])
    url, queue = "redis://127.0.0.1:6379/0", f"doc-service-test-{uuid.uuid4().hex[:8]}"
    dispatcher = batch.RqDispatcher(url, queue)
    env = subprocess_env(runtime, db_url, REDIS_URL=url, DOC_SERVICE_BATCH_QUEUE=queue)
    worker = [sys.executable, "-m", "doc_service", "worker"]
    victim = subprocess.Popen(worker, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    survivor = None
    try:
        progress = batch.start_batch(runtime, registrar, FORM, classes=[class_no],
                                     extra_data=EXTRA, dispatcher=dispatcher)
        job_id = progress.job_id
        wait_for(lambda: item_counts(runtime, job_id)[ItemState.DONE] >= 8, "8 items done")
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait()
        left = item_counts(runtime, job_id)[ItemState.PENDING]
        assert left > 0
        # Resume while the queue still holds the old tasks: the items are handed out twice,
        # and the second hand-out of each finds it no longer pending.
        batch.resume_batch(runtime, registrar, job_id, dispatcher=dispatcher)
        survivor = subprocess.Popen(worker + ["--burst"], env=env, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.PIPE)
        _, err = survivor.communicate(timeout=HANG_GUARD_S)
        assert survivor.returncode == 0, err
    finally:
        for p in (victim, survivor):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()
        dispatcher.queue().delete(delete_jobs=True)
    assert batch.batch_progress(runtime, registrar, job_id).status == "done"
    assert_exactly_one_document_each(runtime, job_id, class_no)
