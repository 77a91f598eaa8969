"""Sealed documents reach the archive; archivists find them; anyone can verify by QR."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from sqlalchemy import select

from archive.service import access_log
from doc_service.services.access import Staff
from doc_service.services.archiving import void_document
from doc_service.storage.models import ChainRecordRow, User
from tests.web.test_pages import login


def seal_certificate(api: Any, student: dict[str, Any]) -> dict[str, Any]:
    resp = api("registrar", "post", "/documents", json={
        "form_id": "enrollment_certificate", "student_no": student["student_no"],
        "data": {"certificate_kind": "在籍证明", "expected_graduation": "2030-06",
                 "purpose": "办理签证", "issued_on": "2026-11-20", "valid_until": "2027-02-20"}})
    assert resp.status_code == 201, resp.get_json()
    doc = resp.get_json()
    token = api(None, "post", f"/codes/{doc['code']}/identity",
                json={"student_no": student["student_no"],
                      "id_last6": student["id_number"][-6:]}).get_json()["token"]
    assert api(token, "post", f"/documents/{doc['id']}/decisions",
               json={"decision": "approve"}).status_code == 201
    resp = api("registrar", "post", f"/documents/{doc['id']}/decisions",
               json={"decision": "approve"})
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["status"] == "sealed"
    return resp.get_json()


@pytest.fixture(scope="module")
def sealed(app: Any, students: list[dict[str, Any]], accounts: dict[str, Any]) -> dict[str, Any]:
    client = app.test_client()

    def api(who: str | None, method: str, path: str, **kw: Any) -> Any:
        headers = kw.pop("headers", {})
        if who is not None:
            token = accounts[who]["token"] if who in accounts else who
            headers["Authorization"] = f"Bearer {token}"
        return getattr(client, method)("/api/v1" + path, headers=headers, **kw)

    student = next(s for s in students if s["class_no"] == "物流2601")
    return {"doc": seal_certificate(api, student), "student": student}


def test_sealed_document_is_archived_once_and_found_by_each_key(api: Any, sealed: dict) -> None:
    doc, student = sealed["doc"], sealed["student"]
    for query in (f"student_no={student['student_no']}", f"number={doc['number']}",
                  "form_id=enrollment_certificate", "college=交通运输学院",
                  "from=2000-01-01&to=2100-12-31"):
        items = api("archivist", "get", f"/archive?{query}").get_json()["items"]
        assert doc["id"] in [i["document_id"] for i in items], query
    items = api("archivist", "get", f"/archive?student_no={student['student_no']}").get_json()
    assert len([i for i in items["items"] if i["document_id"] == doc["id"]]) == 1


def test_college_staff_cannot_search_other_colleges_records(api: Any, sealed: dict) -> None:
    items = api("xx-issuer", "get", "/archive?form_id=enrollment_certificate").get_json()
    assert all(i["college"] == "信息工程学院" for i in items["items"])
    assert api("jy-teacher1", "get", "/archive").status_code == 403


def test_record_retrieval_needs_a_reason_and_is_logged(api: Any, sealed: dict,
                                                       runtime: Any) -> None:
    items = api("archivist", "get",
                f"/archive?number={sealed['doc']['number']}").get_json()["items"]
    record_id = items[0]["id"]
    assert api("archivist", "get", f"/archive/{record_id}").status_code == 400
    resp = api("archivist", "get", f"/archive/{record_id}?why=核对在籍证明")
    assert resp.status_code == 200
    assert resp.get_json()["verification"]["ok"] is True
    log = access_log(runtime.engine, record_id=record_id)
    assert any(e.why == "核对在籍证明" for e in log)


def test_public_verification_shows_no_personal_data(client: Any, sealed: dict) -> None:
    doc, student = sealed["doc"], sealed["student"]
    view = client.get(f"/api/v1/verify/{doc['code']}").get_json()
    assert view["state"] == "valid" and view["sha256"] == doc["pdf_sha256"]
    assert view["student_name"] != student["name"] and view["student_name"][0] == student["name"][0]
    page = client.get(f"/v/{doc['code']}").get_data(as_text=True)
    for secret in (student["id_number"], student.get("exam_no", "-"), student["name"]):
        assert secret not in page and secret not in str(view)
    assert "有效" in page


def test_uploaded_pdf_exact_copy_and_tampered_copy(api: Any, client: Any, sealed: dict) -> None:
    doc = sealed["doc"]
    pdf = api("registrar", "get", f"/documents/{doc['id']}/pdf").data
    resp = client.post("/api/v1/verify", data={"pdf": (io.BytesIO(pdf), "a.pdf")},
                       content_type="multipart/form-data")
    assert resp.get_json()["verdict"] == "exact"
    tampered = bytearray(pdf)
    at = tampered.find(b"/Contents") - 200
    tampered[at] ^= 0x01
    resp = client.post("/api/v1/verify", data={"pdf": (io.BytesIO(bytes(tampered)), "b.pdf")},
                       content_type="multipart/form-data")
    body = resp.get_json()
    assert body["verdict"] in ("invalid", "unknown"), body
    assert body["verdict"] != "exact"


def test_void_is_signed_and_the_public_page_says_so(api: Any, client: Any, app: Any,
                                                    students: list, accounts: dict,
                                                    runtime: Any, sealed: dict) -> None:
    student = next(s for s in students if s["class_no"] == "电信2601")
    doc = seal_certificate(api, student)
    with runtime.sessions() as s:
        registrar = s.scalar(select(User).where(User.username == "registrar"))
    voided = void_document(runtime, Staff(registrar), doc["id"], "学生已退学，证明失效",
                           replaced_by=sealed["doc"]["id"])
    assert voided.status == "voided"
    view = client.get(f"/api/v1/verify/{doc['code']}").get_json()
    assert view["state"] == "voided" and view["reason"] == "学生已退学，证明失效"
    assert view["replaced_by"]["code"] == sealed["doc"]["code"]

    with runtime.sessions() as s:
        rows = list(s.scalars(select(ChainRecordRow).where(ChainRecordRow.document_id == doc["id"])
                              .order_by(ChainRecordRow.position)))
    assert rows[-1].record["decision"] == "void" and rows[-1].record["signature"]
    assert "已作废" in client.get(f"/v/{doc['code']}").get_data(as_text=True)
    items = api("archivist", "get", f"/archive?student_no={student['student_no']}&state=voided")
    assert doc["id"] in [i["document_id"] for i in items.get_json()["items"]]


def test_archivist_pages_search_open_with_reason_and_admin_reads_the_log(
        app: Any, accounts: dict, sealed: dict) -> None:
    doc, student = sealed["doc"], sealed["student"]
    client = app.test_client()
    login(client, accounts, "archivist")
    page = client.get(f"/archive?student_no={student['student_no']}&why=学生申请复印")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and doc["number"] in html

    record_url = re.search(r'href="(/archive/records/[0-9a-f]+)"', html).group(1)
    asks = client.get(record_url).get_data(as_text=True)
    assert "查档事由" in asks and "核验结果" not in asks
    opened = client.get(record_url + "?why=出具证明前核对").get_data(as_text=True)
    assert "核验结果" in opened and "全部通过" in opened
    assert client.get(record_url + "/pdf").status_code == 400
    pdf = client.get(record_url + "/pdf?why=移交复印件")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF-")
    assert client.get("/archive/log").status_code == 403
    admin = app.test_client()
    login(admin, accounts, "admin")
    log = admin.get("/archive/log").get_data(as_text=True)
    assert "出具证明前核对" in log and "移交复印件" in log


def test_teacher_cannot_open_the_archive_pages(app: Any, accounts: dict) -> None:
    client = app.test_client()
    login(client, accounts, "jy-teacher1")
    assert client.get("/archive").status_code == 403
