"""The class print bundle page by page, and the correction round trip."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from doc_service.errors import (
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)
from doc_service.services import batch
from doc_service.services.bundles import class_bundle, class_overview
from doc_service.services.corrections import (
    accept_correction,
    decline_correction,
    flag_correction,
    list_corrections,
)
from doc_service.services.identity import prove_identity
from doc_service.storage.batch_models import BatchItem, CorrectionStatus
from doc_service.storage.models import DocStatus, Document, SchoolClass, Student
from tests.conftest import run_tool
from tests.services.batch.conftest import EXTRA, assign_teachers, import_generated, staff

FORM = "verification_checklist"
A4 = (595.28, 841.89)


def issue_class(rt: Any, actor: Any, class_no: str) -> list[Document]:
    progress = batch.start_batch(rt, actor, FORM, classes=[class_no], extra_data=EXTRA)
    batch.THREADS.threads[progress.job_id].join()
    with rt.sessions() as s:
        ids = list(s.scalars(select(BatchItem.document_id)
                             .where(BatchItem.job_id == progress.job_id)))
        docs = list(s.scalars(select(Document).where(Document.id.in_(ids))))
    assert len(docs) == progress.total and progress.failed == 0
    return sorted(docs, key=lambda d: d.student_no or "")


def class_id(rt: Any, class_no: str) -> int:
    with rt.sessions() as s:
        return int(s.scalar(select(SchoolClass.id).where(SchoolClass.class_no == class_no)))


def test_class_bundle_has_each_student_in_order_with_their_own_qr(
        runtime: Any, registrar: Any, tmp_path: Any) -> None:
    rows = import_generated(runtime, registrar, {"打印2701": range(50_000, 50_006)})
    assign_teachers(runtime, ["打印2701"])
    docs = issue_class(runtime, registrar, "打印2701")
    pdf = class_bundle(runtime, registrar, class_id(runtime, "打印2701"), FORM)
    pages_per_doc = [len(PdfReader(io.BytesIO(runtime.store.get(d.current_sha256))).pages)
                     for d in docs]
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == sum(pages_per_doc)
    for page in reader.pages:
        box = page.mediabox
        assert abs(float(box.width) - A4[0]) < 1 and abs(float(box.height) - A4[1]) < 1
    path = tmp_path / "bundle.pdf"
    path.write_bytes(pdf)
    names = {r["学号"]: r["姓名"] for r in rows}
    first_page = 1
    for doc, n in zip(docs, pages_per_doc, strict=True):
        text = run_tool("pdftotext", "-f", str(first_page), "-l", str(first_page), "-layout",
                        str(path), "-").stdout.decode()
        assert names[doc.student_no] in text and doc.student_no in text
        png = tmp_path / f"p{first_page}"
        run_tool("pdftoppm", "-r", "150", "-f", str(first_page), "-l", str(first_page),
                 "-png", "-singlefile", str(path), str(png))
        scan = run_tool("zbarimg", "--quiet", "--raw", f"{png}.png").stdout.decode()
        assert re.search(rf"/d/{doc.code}\s*$", scan), scan
        first_page += n


def test_a_class_teacher_of_another_class_gets_no_bundle(runtime: Any) -> None:

    with pytest.raises(NotFoundError):
        class_bundle(runtime, staff(runtime, "jy-teacher1"), class_id(runtime, "计科2601"), FORM)


def test_student_flags_a_field_and_the_registrar_reissues_it(runtime: Any,
                                                             registrar: Any) -> None:
    rows = import_generated(runtime, registrar, {"更正2701": range(51_000, 51_003)})
    assign_teachers(runtime, ["更正2701"])
    docs = issue_class(runtime, registrar, "更正2701")
    by_no = {r["学号"]: r for r in rows}
    doc = docs[0]
    row = by_no[doc.student_no]
    _, me = prove_identity(runtime, doc.code, row["学号"], row["证件号码"][-6:])

    with pytest.raises(ValidationError) as e:
        flag_correction(runtime, me, doc.id, {"ethnicity": "火星族"}, "")
    assert e.value.errors[0].key == "ethnicity"
    with pytest.raises(ValidationError):
        flag_correction(runtime, me, doc.id, {"student_no": "2799999999"}, "")
    with pytest.raises(PermissionDeniedError):
        flag_correction(runtime, me, docs[1].id, {"ethnicity": "回族"}, "")
    request = flag_correction(runtime, me, doc.id, {"ethnicity": "回族"}, "户口本上是回族")
    assert request.changes == {"ethnicity": {"old": "汉族", "new": "回族"}}
    with pytest.raises(ConflictError):
        flag_correction(runtime, me, doc.id, {"ethnicity": "满族"}, "")

    overview = next(o for o in class_overview(runtime, registrar, FORM)
                    if o.class_no == "更正2701")
    assert (overview.flagged, overview.signed, overview.not_opened) == (1, 0, 2)
    assert request.id in [r.id for r in list_corrections(runtime, registrar)]
    with pytest.raises(PermissionDeniedError):
        accept_correction(runtime, staff(runtime, "xx-issuer"), request.id)

    done = accept_correction(runtime, registrar, request.id)
    assert done.status == CorrectionStatus.ACCEPTED and done.new_document_id
    with runtime.sessions() as s:
        old = s.get(Document, doc.id)
        new = s.get(Document, done.new_document_id)
        student = s.scalar(select(Student).where(Student.student_no == doc.student_no))
        assert old is not None and new is not None and student is not None
        assert old.status == DocStatus.SUPERSEDED and "回族" in (old.rejection_reason or "")
        assert new.version == 2 and new.number == old.number and new.data["ethnicity"] == "回族"
        assert new.status == DocStatus.IN_PROGRESS and student.ethnicity == "回族"
    with pytest.raises(ConflictError):
        accept_correction(runtime, registrar, request.id)

    other = docs[1]
    row = by_no[other.student_no]
    _, them = prove_identity(runtime, other.code, row["学号"], row["证件号码"][-6:])
    asked = flag_correction(runtime, them, other.id, {"name": "王晓明"}, "")
    with pytest.raises(ValidationError):
        decline_correction(runtime, registrar, asked.id, "  ")
    declined = decline_correction(runtime, registrar, asked.id, "与高考报名信息一致，无需更正")
    assert declined.status == CorrectionStatus.DECLINED
    with runtime.sessions() as s:
        still = s.get(Document, other.id)
        assert still is not None and still.status == DocStatus.IN_PROGRESS
