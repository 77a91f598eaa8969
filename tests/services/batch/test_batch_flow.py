"""A generated grade end to end: import, batch issue, students sign, classes approved, sealed."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from sqlalchemy import select

from doc_service.errors import PermissionDeniedError, ValidationError, WorkflowError
from doc_service.services import batch
from doc_service.services.bundles import approve_class, class_overview
from doc_service.services.decisions import approve_many, record_decision
from doc_service.services.identity import prove_identity
from doc_service.storage.batch_models import BatchItem
from doc_service.storage.models import DocStatus, Document, SchoolClass, Student
from tests.services.batch.conftest import EXTRA, assign_teachers, import_generated, staff

FORM = "verification_checklist"


def run_to_end(rt: Any, actor: Any, **kw: Any) -> batch.BatchProgress:
    progress = batch.start_batch(rt, actor, FORM, extra_data=EXTRA, **kw)
    batch.THREADS.threads[progress.job_id].join()
    return batch.batch_progress(rt, actor, progress.job_id)


def job_documents(rt: Any, job_id: str) -> list[Document]:
    with rt.sessions() as s:
        ids = list(s.scalars(select(BatchItem.document_id).where(BatchItem.job_id == job_id)))
        return list(s.scalars(select(Document).where(Document.id.in_(ids))))


def test_missing_shared_data_is_refused_before_any_job(runtime: Any, registrar: Any) -> None:
    with pytest.raises(ValidationError) as e:
        batch.start_batch(runtime, registrar, FORM, classes=["交运2601"],
                          extra_data={"academic_year": "2026-2027"})
    assert [fe.key for fe in e.value.errors] == ["registration_type"]
    with pytest.raises(WorkflowError):
        batch.start_batch(runtime, registrar, FORM, extra_data=EXTRA)


def test_an_issuer_cannot_batch_another_college(runtime: Any) -> None:

    with pytest.raises(PermissionDeniedError):
        batch.start_batch(runtime, staff(runtime, "jy-issuer"), FORM, colleges=["信息工程学院"],
                          extra_data=EXTRA)


def test_a_class_without_teacher_fails_per_item_in_chinese(runtime: Any, registrar: Any) -> None:
    import_generated(runtime, registrar, {"无师2701": range(20_000, 20_003)})
    progress = run_to_end(runtime, registrar, classes=["无师2701"])
    assert progress.failed == 3 and progress.done == 0 and progress.status == "done"
    assert "尚未设置班主任" in progress.errors[0].message


@pytest.mark.slow
def test_a_generated_grade_is_issued_signed_by_everyone_and_sealed(runtime: Any,
                                                                   registrar: Any) -> None:
    classes = {f"智能27{k:02d}": range(30_000 + k * 100, 30_000 + k * 100 + 50)
               for k in range(1, 5)}
    rows = import_generated(runtime, registrar, classes)
    teachers = assign_teachers(runtime, list(classes))
    progress = run_to_end(runtime, staff(runtime, "xx-issuer"), classes=list(classes))
    assert (progress.done, progress.failed, progress.total) == (200, 0, 200)
    assert progress.status == "done"

    docs = job_documents(runtime, progress.job_id)
    assert len(docs) == 200
    assert len({d.number for d in docs}) == 200 and len({d.code for d in docs}) == 200
    assert Counter(d.student_no for d in docs) == Counter(r["学号"] for r in rows)
    # A second batch over the same classes issues nothing twice.
    again = run_to_end(runtime, registrar, classes=list(classes))
    assert again.skipped == 200 and again.done == 0

    by_no = {r["学号"]: r for r in rows}
    for doc in docs:
        row = by_no[doc.student_no]
        _, student = prove_identity(runtime, doc.code, row["学号"], row["证件号码"][-6:])
        record_decision(runtime, student, doc.id, "approve")
    overview = {o.class_no: o for o in class_overview(runtime, registrar, FORM)}
    for class_no in classes:
        o = overview[class_no]
        assert (o.students, o.documents, o.signed, o.not_opened, o.flagged) == (50, 50, 50, 0, 0)

    head = staff(runtime, "xx-head")
    with runtime.sessions() as s:
        class_ids = dict(s.execute(select(SchoolClass.class_no, SchoolClass.id)
                                   .where(SchoolClass.class_no.in_(list(classes)))).all())
    for class_no, username in teachers.items():
        outcomes = approve_class(runtime, staff(runtime, username), class_ids[class_no], FORM)
        assert len(outcomes) == 50 and all(o.ok for o in outcomes), outcomes[:3]
    for class_no in classes:
        outcomes = approve_class(runtime, head, class_ids[class_no], FORM)
        assert len(outcomes) == 50 and all(o.ok for o in outcomes)
    outcomes = approve_many(runtime, registrar, [d.id for d in docs])
    assert all(o.ok for o in outcomes), [o.message for o in outcomes if not o.ok][:3]

    with runtime.sessions() as s:
        states = Counter(s.scalars(select(Document.status).where(
            Document.id.in_([d.id for d in docs]))))
        assert states == {DocStatus.SEALED: 200}
        assert s.scalar(select(Student.id).where(Student.student_no == rows[0]["学号"]))
    overview = {o.class_no: o for o in class_overview(runtime, registrar, FORM)}
    assert all(overview[c].sealed == 50 for c in classes)
