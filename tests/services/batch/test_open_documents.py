"""One open document per student, form and academic year, whoever races (issue 15).

Two batch jobs for the same students run together, with the start's overlap check out of
the way: the database's partial unique index still leaves each student one open
document, and the losing items are skipped with their reason. Two starts together: the
second is refused and names the first. A person issuing a second open document gets a
clear 409, not a 500. Cancelling and resuming are for the job's owner and the registrar.
A job whose last item finishes is done without anyone resuming it.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import func, select

from doc_service.errors import ConflictError, NotFoundError, PermissionDeniedError
from doc_service.services import batch, batch_items
from doc_service.services.documents import issue_document
from doc_service.storage.batch_models import BatchItem, ItemState, JobStatus
from doc_service.storage.models import DocStatus, Document, SchoolClass
from tests.services.batch.conftest import EXTRA, assign_teachers, import_generated, staff
from tests.services.fakes import FakeRenderer

FORM = "verification_checklist"
OPEN = (DocStatus.IN_PROGRESS, DocStatus.REJECTED)


def open_documents_per_student(rt: Any, class_no: str) -> Counter[str]:
    with rt.sessions() as s:
        return Counter(s.scalars(
            select(Document.student_no).join(SchoolClass, SchoolClass.id == Document.class_id)
            .where(SchoolClass.class_no == class_no, Document.form_id == FORM,
                   Document.status.in_(OPEN))))


def prepare(rt: Any, registrar: Any, class_no: str, serials: range) -> list[dict[str, str]]:
    rows = import_generated(rt, registrar, {class_no: serials})
    assign_teachers(rt, [class_no])
    return rows


def all_together(calls: list[Any]) -> list[Any]:
    """Run each call in a thread of its own, released at the same moment; their results
    (or the exceptions they raised), in order."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = calls[i]()
        except Exception as e:  # the caller looks at what each raised
            results[i] = e

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    return results


def test_two_jobs_racing_over_one_class_leave_each_student_one_open_document(
        runtime: Any, registrar: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = prepare(runtime, registrar, "并发2801", range(61_000, 61_012))
    # Both jobs exist, as two starts that both passed a read-only check would leave them.
    monkeypatch.setattr(batch, "_refuse_overlap", lambda *_a, **_k: None, raising=False)
    jobs = [batch.start_batch(runtime, actor, FORM, classes=["并发2801"], extra_data=EXTRA,
                              dispatch=False).job_id
            for actor in (registrar, staff(runtime, "xx-issuer"))]
    results = all_together([lambda j=j: batch.run_batch(runtime, j, processes=1)
                            for j in jobs])
    assert results == [None, None]

    per_student = open_documents_per_student(runtime, "并发2801")
    assert per_student == Counter({r["学号"]: 1 for r in rows})
    with runtime.sessions() as s:
        items = list(s.scalars(select(BatchItem).where(BatchItem.job_id.in_(jobs))))
    assert len(items) == 24
    done = Counter(i.student_id for i in items if i.state == ItemState.DONE)
    assert sorted(done.values()) == [1] * 12  # each student's document issued by one job
    others = [i for i in items if i.state != ItemState.DONE]
    assert {i.state for i in others} == {ItemState.SKIPPED}
    assert all("未重复出具" in (i.error or "") for i in others)
    for job_id in jobs:
        assert batch.batch_progress(runtime, registrar, job_id).status == JobStatus.DONE


def test_a_batch_overlapping_a_running_one_is_refused_and_names_it(
        runtime: Any, registrar: Any) -> None:
    prepare(runtime, registrar, "并发2802", range(61_100, 61_106))
    issuer = staff(runtime, "xx-issuer")
    results = all_together([
        lambda actor=actor: batch.start_batch(runtime, actor, FORM, classes=["并发2802"],
                                              extra_data=EXTRA, dispatch=False)
        for actor in (registrar, issuer)])
    started = [r for r in results if isinstance(r, batch.BatchProgress)]
    refused = [r for r in results if isinstance(r, Exception)]
    assert len(started) == 1 and len(refused) == 1, results
    assert isinstance(refused[0], ConflictError)
    assert started[0].job_id in refused[0].message and "进行中" in refused[0].message
    # Another academic year does not overlap; once the first job is over, the same one may
    # start again (and skips whom the first issued).
    other_year = batch.start_batch(runtime, issuer, FORM, classes=["并发2802"],
                                   extra_data={**EXTRA, "academic_year": "2027-2028"},
                                   dispatch=False)
    assert other_year.total == 6
    batch.cancel_batch(runtime, registrar, started[0].job_id)
    again = batch.start_batch(runtime, issuer, FORM, classes=["并发2802"], extra_data=EXTRA,
                              dispatch=False)
    assert again.total == 6


def test_a_second_open_document_issued_by_hand_is_a_409_in_chinese(
        runtime: Any, registrar: Any) -> None:
    rows = prepare(runtime, registrar, "并发2803", range(61_200, 61_201))
    student_no, issuer = rows[0]["学号"], staff(runtime, "xx-issuer")
    first = issue_document(runtime, issuer, FORM, dict(EXTRA), student_no=student_no,
                           renderer=FakeRenderer())
    with runtime.sessions() as s:
        numbers_before = s.scalar(select(func.count()).select_from(Document)
                                  .where(Document.form_id == FORM))
    with pytest.raises(ConflictError) as e:
        issue_document(runtime, issuer, FORM, dict(EXTRA), student_no=student_no,
                       renderer=FakeRenderer())
    assert e.value.http_status == 409 and "不能重复出具" in e.value.message
    assert student_no in e.value.message and "2026-2027" in e.value.message
    with runtime.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Document)
                        .where(Document.form_id == FORM)) == numbers_before
    # The next academic year's is another document.
    nxt = issue_document(runtime, issuer, FORM, {**EXTRA, "academic_year": "2027-2028"},
                         student_no=student_no, renderer=FakeRenderer())
    assert nxt.id != first.id and nxt.open_slot == "2027-2028"


@pytest.mark.parametrize("username", ["xx-teacher1", "archivist", "jy-issuer"])
def test_only_the_owner_or_the_registrar_cancels_or_resumes(
        runtime: Any, registrar: Any, username: str) -> None:
    class_no = {"xx-teacher1": "并发2804", "archivist": "并发2805", "jy-issuer": "并发2806"}
    serial = {"xx-teacher1": 61_300, "archivist": 61_310, "jy-issuer": 61_320}[username]
    prepare(runtime, registrar, class_no[username], range(serial, serial + 2))
    owner = staff(runtime, "xx-issuer")
    job_id = batch.start_batch(runtime, owner, FORM, classes=[class_no[username]],
                               extra_data=EXTRA, dispatch=False).job_id
    other = staff(runtime, username)
    with pytest.raises((PermissionDeniedError, NotFoundError)) as e:
        batch.cancel_batch(runtime, other, job_id)
    with pytest.raises((PermissionDeniedError, NotFoundError)):
        batch.resume_batch(runtime, other, job_id, dispatcher=NoDispatch())
    if username != "jy-issuer":  # another college's issuer does not even see the job
        assert isinstance(e.value, PermissionDeniedError) and "发起该批次" in e.value.message
    assert batch.batch_progress(runtime, owner, job_id).status == JobStatus.RUNNING
    assert batch.resume_batch(runtime, owner, job_id, dispatcher=NoDispatch()).pending == 2
    assert batch.cancel_batch(runtime, registrar, job_id).status == JobStatus.CANCELLED


class NoDispatch:
    """A dispatcher that hands nothing out (the test only checks who may resume)."""

    def submit(self, rt: Any, job_id: str, item_ids: list[int]) -> None:
        pass


def test_a_job_is_done_when_its_last_item_is_issued_without_a_resume(
        runtime: Any, registrar: Any) -> None:
    prepare(runtime, registrar, "并发2807", range(61_400, 61_403))
    job_id = batch.start_batch(runtime, registrar, FORM, classes=["并发2807"],
                               extra_data=EXTRA, dispatch=False).job_id
    with runtime.sessions() as s:
        ids = list(s.scalars(select(BatchItem.id).where(BatchItem.job_id == job_id)
                             .order_by(BatchItem.position)))
    # A runner (a pool process, an RQ worker) issues the items; nobody calls run_batch's end.
    assert batch_items.issue_items(runtime, ids[:2]) == [ItemState.DONE] * 2
    assert batch.batch_progress(runtime, registrar, job_id).status == JobStatus.RUNNING
    assert batch_items.issue_items(runtime, ids[2:]) == [ItemState.DONE]
    assert batch.batch_progress(runtime, registrar, job_id).status == JobStatus.DONE
