"""The batch pages through the Flask client: upload → report → import, batch → progress,
class overview → 全班同意 and print bundle, the student's correction form → registrar."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select

from doc_service.services import batch
from doc_service.services.decisions import record_decision
from doc_service.services.identity import prove_identity
from doc_service.storage.batch_models import BatchItem
from doc_service.storage.models import Document, SchoolClass, User
from doc_service.web import create_app
from tests.services.batch.conftest import EXTRA, assign_teachers, roster_student, xlsx_bytes

CSRF = "test-csrf-token"


@pytest.fixture(scope="module")
def app(runtime: Any) -> Any:
    return create_app({"TESTING": True, "SECRET_KEY": "test-secret", "RATELIMIT_ENABLED": False},
                      runtime=runtime)


def login(client: Any, rt: Any, username: str) -> None:
    with rt.sessions() as s:
        user_id = s.scalar(select(User.id).where(User.username == username))
    with client.session_transaction() as sess:
        sess["user_id"] = user_id
        sess["csrf"] = CSRF


def test_roster_upload_batch_overview_bundle_and_correction(app: Any, runtime: Any) -> None:
    client = app.test_client()
    login(client, runtime, "xx-issuer")
    rows = [roster_student(i, "页面2701") for i in range(60_000, 60_004)]
    rows[1]["性别"] = "男女"
    resp = client.post("/batch/roster", data={"csrf_token": CSRF, "file": (
        __import__("io").BytesIO(xlsx_bytes(rows)), "名册.xlsx")},
        content_type="multipart/form-data")
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "有效 3 行" in page and "第3行" in page
    assert "导入有效行（3 行）" in page
    token = re.search(r'name="token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    resp = client.post("/batch/roster/confirm", data={"csrf_token": CSRF, "token": token,
                                                      "action": "import"})
    assert "新增 3 人" in resp.get_data(as_text=True)
    teacher = assign_teachers(runtime, ["页面2701"])["页面2701"]

    resp = client.post("/batch/new", data={"csrf_token": CSRF, "form_id": "verification_checklist",
                                           "class_no": "页面2701", **EXTRA})
    assert resp.status_code == 302
    job_id = resp.headers["Location"].rstrip("/").split("/")[-1]
    batch.THREADS.threads[job_id].join()
    progress = client.get(f"/batch/jobs/{job_id}/progress.json").get_json()
    assert progress["finished"] and progress["done"] == 3
    assert "已出具 3" in client.get(f"/batch/jobs/{job_id}").get_data(as_text=True)

    with runtime.sessions() as s:
        class_id = s.scalar(select(SchoolClass.id).where(SchoolClass.class_no == "页面2701"))
        doc_ids = list(s.scalars(select(BatchItem.document_id).where(BatchItem.job_id == job_id)))
        docs = sorted(s.scalars(select(Document).where(Document.id.in_(doc_ids))),
                      key=lambda d: d.student_no or "")
    bundle = client.get(f"/batch/classes/{class_id}/bundle.pdf")
    assert bundle.status_code == 200 and bundle.data.startswith(b"%PDF")

    by_no = {r["学号"]: r for r in rows}
    student = app.test_client()
    doc = docs[0]
    assert student.get(f"/d/{doc.code}/correction").status_code == 302
    token, _ = prove_identity(runtime, doc.code, doc.student_no,
                              by_no[doc.student_no]["证件号码"][-6:])
    with student.session_transaction() as sess:
        sess["student_token"] = token
        sess["csrf"] = CSRF
    assert "申请更正" in student.get(f"/d/{doc.code}/correction").get_data(as_text=True)
    bad = student.post(f"/d/{doc.code}/correction", data={"csrf_token": CSRF,
                                                          "wrong_ethnicity": "1",
                                                          "ethnicity": "火星族"})
    assert bad.status_code == 422
    ok = student.post(f"/d/{doc.code}/correction", data={"csrf_token": CSRF,
                                                         "wrong_ethnicity": "1",
                                                         "ethnicity": "回族", "note": "核对户口本"})
    assert ok.status_code == 302
    assert "待处理" in student.get(f"/d/{doc.code}/correction").get_data(as_text=True)

    for other in docs[1:]:
        _, actor = prove_identity(runtime, other.code, other.student_no,
                                  by_no[other.student_no]["证件号码"][-6:])
        record_decision(runtime, actor, other.id, "approve")
    overview = client.get("/batch/classes").get_data(as_text=True)
    assert "页面2701" in overview
    teacher_client = app.test_client()
    login(teacher_client, runtime, teacher)
    page = teacher_client.get("/batch/classes").get_data(as_text=True)
    assert "全班同意（2份）" in page
    resp = teacher_client.post(f"/batch/classes/{class_id}/approve",
                               data={"csrf_token": CSRF, "form_id": "verification_checklist"},
                               follow_redirects=True)
    assert "已签批2份" in resp.get_data(as_text=True)

    registrar = app.test_client()
    login(registrar, runtime, "registrar")
    page = registrar.get("/batch/corrections").get_data(as_text=True)
    assert doc.student_no in page and "同意更正并重新出具" in page
    request_id = re.search(r'/batch/corrections/(\d+)/accept', page).group(1)  # type: ignore
    resp = registrar.post(f"/batch/corrections/{request_id}/accept",
                          data={"csrf_token": CSRF}, follow_redirects=True)
    assert "已按更正重新出具" in resp.get_data(as_text=True)
    assert "已更正重出" in student.get(f"/d/{doc.code}/correction").get_data(as_text=True)
