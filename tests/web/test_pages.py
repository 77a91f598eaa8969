"""The Chinese pages through the Flask client: login, scopes, issuing, QR page, identity."""

from __future__ import annotations

import re
from typing import Any

import pytest

from doc_service.storage.models import Document
from tests.web.academic_years import fresh_academic_year


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "page has no CSRF token"
    return m.group(1)


def login(client: Any, accounts: dict[str, dict[str, Any]], who: str) -> str:
    """Sign in through the login page; return a CSRF token of the session."""
    token = csrf_of(client.get("/login").get_data(as_text=True))
    resp = client.post("/login", data={"csrf_token": token, "username": who,
                                       "password": accounts[who]["password"]})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    return csrf_of(client.get("/inbox").get_data(as_text=True))


def student_of(students: list[dict[str, Any]], class_no: str, index: int = 0) -> dict[str, Any]:
    return [s for s in students if s["class_no"] == class_no][index]


def issue_checklist(api: Any, student: dict[str, Any], who: str = "jy-issuer") -> dict[str, Any]:
    resp = api(who, "post", "/documents", json={
        "form_id": "verification_checklist", "student_no": student["student_no"],
        "data": {"registration_type": "在校生学年注册", "academic_year": fresh_academic_year()}})
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def count_documents(runtime: Any) -> int:
    from sqlalchemy import func, select

    with runtime.sessions() as s:
        return int(s.scalar(select(func.count(Document.id))) or 0)


# ---- login ------------------------------------------------------------------------------

def test_login_page_renders_in_chinese(client: Any) -> None:
    resp = client.get("/login")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert "教职工登录" in html and 'name="csrf_token"' in html


def test_wrong_password_is_refused_with_a_message(client: Any) -> None:
    token = csrf_of(client.get("/login").get_data(as_text=True))
    resp = client.post("/login", data={"csrf_token": token, "username": "jy-issuer",
                                       "password": "wrong"})
    assert resp.status_code == 401
    assert "用户名或密码不正确" in resp.get_data(as_text=True)
    assert client.get("/inbox").status_code == 302


def test_post_without_csrf_token_is_refused(client: Any, accounts: Any) -> None:
    resp = client.post("/login", data={"username": "jy-issuer",
                                       "password": accounts["jy-issuer"]["password"]})
    assert resp.status_code == 400
    assert "CSRF" in resp.get_data(as_text=True)
    login(client, accounts, "jy-issuer")
    resp = client.post("/documents/new", data={"form_id": "verification_checklist"})
    assert resp.status_code == 400


# ---- who sees which page ----------------------------------------------------------------

@pytest.mark.parametrize("path", ["/inbox", "/documents", "/documents/new"])
def test_staff_pages_redirect_to_login_when_signed_out(client: Any, path: str) -> None:
    resp = client.get(path)
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


@pytest.mark.parametrize("who", ["jy-issuer", "jy-teacher1", "jy-head", "registrar",
                                 "archivist"])
def test_inbox_and_list_render_for_every_staff_role(client: Any, accounts: Any,
                                                    who: str) -> None:
    login(client, accounts, who)
    inbox = client.get("/inbox")
    assert inbox.status_code == 200 and "我的待办" in inbox.get_data(as_text=True)
    listing = client.get("/documents?status=in_progress&page=1")
    assert listing.status_code == 200 and "筛选" in listing.get_data(as_text=True)


def test_batch_checkboxes_only_for_class_teachers_and_heads(client: Any, accounts: Any,
                                                            api: Any, students: Any) -> None:
    issue_checklist(api, student_of(students, "物流2601"))
    login(client, accounts, "registrar")
    assert "批量同意" not in client.get("/inbox").get_data(as_text=True)
    client.post("/logout", data={"csrf_token": csrf_of(client.get("/inbox")
                                                       .get_data(as_text=True))})
    login(client, accounts, "jy-head")
    # The head has nothing waiting yet in a fresh chain; the teacher of 物流2601 neither.
    # A head with documents waiting gets the button (shown by the batch test below).
    assert client.get("/inbox").status_code == 200


def test_only_issuers_and_registrar_may_open_the_issue_page(client: Any,
                                                             accounts: Any) -> None:
    login(client, accounts, "jy-teacher1")
    assert client.get("/documents/new").status_code == 403
    client2 = client.application.test_client()
    login(client2, accounts, "jy-issuer")
    resp = client2.get("/documents/new")
    assert resp.status_code == 200 and "学籍电子注册信息核对表" in resp.get_data(as_text=True)


def test_issuer_of_another_college_gets_404_for_a_document(client: Any, accounts: Any,
                                                           api: Any, students: Any) -> None:
    doc = issue_checklist(api, student_of(students, "交运2601", 1))
    login(client, accounts, "xx-issuer")
    for suffix in ("", "/pdf", "/docx", "/pages/1.png"):
        assert client.get(f"/documents/{doc['id']}{suffix}").status_code == 404, suffix
    assert client.get("/documents/no-such-document").status_code == 404


def test_document_page_shows_steps_pages_and_hides_id_from_class_teacher(
        client: Any, accounts: Any, api: Any, students: Any) -> None:
    student = student_of(students, "交运2601", 2)
    doc = issue_checklist(api, student)
    login(client, accounts, "jy-teacher1")
    html = client.get(f"/documents/{doc['id']}").get_data(as_text=True)
    assert doc["number"] in html and "签批流程" in html and "签批中" in html
    assert student["id_number"] not in html  # 班主任 is not entitled to the ID number
    assert f"/documents/{doc['id']}/pages/1.png" in html
    png = client.get(f"/documents/{doc['id']}/pages/1.png")
    assert png.status_code == 200 and png.data.startswith(b"\x89PNG")
    assert client.get(f"/documents/{doc['id']}/pages/9.png").status_code == 404
    assert "下载 DOCX" not in html  # DOCX is for issuers and the registrar
    assert client.get(f"/documents/{doc['id']}/pdf").data.startswith(b"%PDF")

    issuer = client.application.test_client()
    login(issuer, accounts, "jy-issuer")
    html = issuer.get(f"/documents/{doc['id']}").get_data(as_text=True)
    assert student["id_number"] in html and "下载 DOCX" in html
    assert issuer.get(f"/documents/{doc['id']}/docx").status_code == 200


def test_preview_cache_is_named_by_hash_never_by_id_number(runtime: Any, students: Any,
                                                           api: Any, client: Any,
                                                           accounts: Any) -> None:
    student = student_of(students, "汽服2601", 3)
    doc = issue_checklist(api, student)
    login(client, accounts, "jy-issuer")
    assert client.get(f"/documents/{doc['id']}/pages/1.png").status_code == 200
    names = [p.name for p in (runtime.instance / "cache" / "previews").iterdir()]
    assert any(n.startswith(doc["pdf_sha256"]) for n in names)
    assert not any(student["id_number"] in n or student["student_no"] in n for n in names)


# ---- issuing through the form page ------------------------------------------------------

def test_issue_page_searches_the_roster_of_my_college_only(client: Any, accounts: Any,
                                                           students: Any) -> None:
    login(client, accounts, "jy-issuer")
    mine = student_of(students, "交运2601")
    other = student_of(students, "计科2601")
    html = client.get("/documents/new?form_id=verification_checklist&q=2026").get_data(
        as_text=True)
    assert mine["student_no"] in html and other["student_no"] not in html
    html = client.get(f"/documents/new?form_id=verification_checklist&q={mine['name']}"
                      ).get_data(as_text=True)
    assert mine["student_no"] in html
    resp = client.get(f"/documents/new?form_id=verification_checklist"
                      f"&student_no={other['student_no']}")
    assert resp.status_code == 302  # not in my roster: back to the search


def test_issuing_with_bad_data_shows_field_messages_and_creates_nothing(
        client: Any, accounts: Any, students: Any, runtime: Any) -> None:
    token = login(client, accounts, "jy-issuer")
    student = student_of(students, "交运2601", 3)
    page = client.get(f"/documents/new?form_id=verification_checklist"
                      f"&student_no={student['student_no']}").get_data(as_text=True)
    # Only the fields the roster does not give are asked for, generated from the schema.
    assert 'name="registration_type"' in page and "<select" in page
    assert 'name="academic_year"' in page and 'name="id_number"' not in page
    before = count_documents(runtime)
    resp = client.post("/documents/new", data={
        "csrf_token": token, "form_id": "verification_checklist",
        "student_no": student["student_no"], "registration_type": "",
        "academic_year": "26-27<script>"})
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert "请填写注册类别" in html or "请选择注册类别" in html
    assert "学年格式应为 2026-2027" in html
    assert "26-27&lt;script&gt;" in html  # the typed value is kept (and escaped)
    assert 'name="student_no"' in html and 'id="in-student_no"' not in html  # roster stays
    assert count_documents(runtime) == before


def test_issuing_by_hand_generates_every_input_type(client: Any, accounts: Any) -> None:
    login(client, accounts, "jy-issuer")
    html = client.get("/documents/new?form_id=withdrawal_notice&manual=1").get_data(
        as_text=True)
    assert 'type="date"' in html and 'type="checkbox" name="reasons"' in html
    assert 'type="tel"' in html
    html = client.get("/documents/new?form_id=enrollment_certificate&manual=1").get_data(
        as_text=True)
    assert 'type="month"' in html
    html = client.get("/documents/new?form_id=deferment_application&manual=1").get_data(
        as_text=True)
    assert "<textarea" in html


def test_issuing_through_the_form_page_creates_the_document(client: Any, accounts: Any,
                                                            students: Any) -> None:
    token = login(client, accounts, "jy-issuer")
    student = student_of(students, "物流2601", 1)
    resp = client.post("/documents/new", data={
        "csrf_token": token, "form_id": "verification_checklist",
        "student_no": student["student_no"], "registration_type": "新生学籍注册",
        "academic_year": "2026-2027"})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    html = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "已出具" in html and "核〔" in html


# ---- decisions, send-back and revision on the document page -----------------------------

def test_staff_signs_rejects_and_issuer_revises_from_the_pages(
        client: Any, accounts: Any, api: Any, students: Any) -> None:
    student = student_of(students, "交运2601", 4)
    doc = issue_checklist(api, student)
    token = api(None, "post", f"/codes/{doc['code']}/identity", json={
        "student_no": student["student_no"], "id_last6": student["id_number"][-6:]}
    ).get_json()["token"]
    assert api(token, "post", f"/documents/{doc['id']}/decisions",
               json={"decision": "approve"}).status_code == 201

    csrf = login(client, accounts, "jy-teacher1")
    html = client.get("/inbox").get_data(as_text=True)
    assert doc["number"] in html and "批量同意" in html
    page = client.get(f"/documents/{doc['id']}").get_data(as_text=True)
    assert "退回并说明理由" in page
    resp = client.post(f"/documents/{doc['id']}/decision",
                       data={"csrf_token": csrf, "decision": "reject", "comment": ""})
    assert resp.status_code == 422 and "退回时请填写理由" in resp.get_data(as_text=True)
    resp = client.post(f"/documents/{doc['id']}/decision", data={
        "csrf_token": csrf, "decision": "reject", "comment": "民族填写有误"})
    assert resp.status_code == 302

    issuer = client.application.test_client()
    csrf = login(issuer, accounts, "jy-issuer")
    page = issuer.get(f"/documents/{doc['id']}").get_data(as_text=True)
    assert "修改并重新出具" in page and "民族填写有误" in page
    form = issuer.get(f"/documents/{doc['id']}/revise").get_data(as_text=True)
    assert student["id_number"] in form  # prefilled with the data
    data = {"csrf_token": csrf, **{k: v for k, v in _revise_values(form).items()}}
    data["ethnicity"] = "回族"
    resp = issuer.post(f"/documents/{doc['id']}/revise", data=data)
    assert resp.status_code == 302, resp.get_data(as_text=True)
    html = issuer.get(resp.headers["Location"]).get_data(as_text=True)
    assert "第2版" in html and "版本历史" in html and "回族" in html


def _revise_values(html: str) -> dict[str, str]:
    values = dict(re.findall(r'<input id="in-[^"]+" name="([^"]+)" type="[^"]+" value="([^"]*)"',
                             html))
    for name, body in re.findall(r'<select id="in-[^"]+" name="([^"]+)">(.*?)</select>', html,
                                 re.S):
        m = re.search(r"<option selected>([^<]*)</option>", body)
        values[name] = m.group(1) if m else ""
    return values


def test_batch_approve_reports_each_document(client: Any, accounts: Any, api: Any,
                                             students: Any) -> None:
    docs = []
    for i in (5, 6):
        student = student_of(students, "汽服2601", i)
        doc = issue_checklist(api, student)
        token = api(None, "post", f"/codes/{doc['code']}/identity", json={
            "student_no": student["student_no"], "id_last6": student["id_number"][-6:]}
        ).get_json()["token"]
        api(token, "post", f"/documents/{doc['id']}/decisions", json={"decision": "approve"})
        docs.append(doc)
    csrf = login(client, accounts, "jy-teacher2")
    resp = client.post("/inbox/approve", data={
        "csrf_token": csrf, "doc_id": [docs[0]["id"], docs[1]["id"], "not-a-document"]})
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert "批量同意结果" in html and docs[0]["number"] in html and docs[1]["number"] in html
    assert "成功 2 份，未成功 1 份" in html
    status = api("jy-issuer", "get", f"/documents/{docs[0]['id']}").get_json()
    assert status["steps"][1]["state"] == "done"


# ---- the QR page and the student's identity check ---------------------------------------

def test_qr_page_shows_state_but_no_personal_data(client: Any, api: Any,
                                                  students: Any) -> None:
    student = student_of(students, "交运2601", 5)
    doc = issue_checklist(api, student)
    resp = client.get(f"/d/{doc['code']}")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert student["id_number"] not in html and student["id_number"][-6:] not in html
    assert student["name"] not in html or len(student["name"]) == 1
    assert doc["number"] in html and "学籍电子注册信息核对表" in html
    assert "身份证号后六位" in html and "学生本人确认" in html
    assert client.get(f"/d/{doc['code']}/sign").status_code == 302  # not verified yet
    assert client.get(f"/d/{doc['code']}/pages/1.png").status_code == 401


def test_forged_code_gives_a_chinese_404(client: Any) -> None:
    resp = client.get("/d/FORGED0000")
    assert resp.status_code == 404 and "二维码无效" in resp.get_data(as_text=True)


def test_wrong_identity_answers_count_down_then_lock(client: Any, api: Any,
                                                     students: Any) -> None:
    student = student_of(students, "物流2601", 2)
    doc = issue_checklist(api, student)
    csrf = csrf_of(client.get(f"/d/{doc['code']}").get_data(as_text=True))
    wrong = "000000" if student["id_number"][-6:] != "000000" else "111111"
    for left in (4, 3, 2, 1):
        resp = client.post(f"/d/{doc['code']}/identity", data={
            "csrf_token": csrf, "student_no": student["student_no"], "id_last6": wrong})
        assert resp.status_code == 401
        assert f"还可尝试{left}次" in resp.get_data(as_text=True)
    resp = client.post(f"/d/{doc['code']}/identity", data={
        "csrf_token": csrf, "student_no": student["student_no"], "id_last6": wrong})
    assert resp.status_code == 429 and "锁定" in resp.get_data(as_text=True)
    resp = client.post(f"/d/{doc['code']}/identity", data={
        "csrf_token": csrf, "student_no": student["student_no"],
        "id_last6": student["id_number"][-6:]})
    assert resp.status_code == 429  # even the right answer waits out the lock


def test_student_proves_identity_signs_once_and_cannot_sign_twice(
        client: Any, api: Any, students: Any) -> None:
    student = student_of(students, "物流2601", 3)
    doc = issue_checklist(api, student)
    csrf = csrf_of(client.get(f"/d/{doc['code']}").get_data(as_text=True))
    resp = client.post(f"/d/{doc['code']}/identity", data={
        "csrf_token": csrf, "student_no": student["student_no"],
        "id_last6": student["id_number"][-6:].lower()})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/sign")
    page = client.get(f"/d/{doc['code']}/sign")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "同意并签名" in html and f"/d/{doc['code']}/pages/1.png" in html
    assert client.get(f"/d/{doc['code']}/pages/1.png").data.startswith(b"\x89PNG")
    resp = client.post(f"/d/{doc['code']}/sign", data={"csrf_token": csrf,
                                                       "decision": "reject", "comment": ""})
    assert resp.status_code == 422 and "退回时请填写理由" in resp.get_data(as_text=True)
    resp = client.post(f"/d/{doc['code']}/sign", data={"csrf_token": csrf,
                                                       "decision": "approve"})
    assert resp.status_code == 200 and "签名成功" in resp.get_data(as_text=True)
    again = client.post(f"/d/{doc['code']}/sign", data={"csrf_token": csrf,
                                                        "decision": "approve"})
    assert again.status_code in (403, 409)
    assert "当前不是您签批的环节" in again.get_data(as_text=True)
    status = client.get(f"/d/{doc['code']}").get_data(as_text=True)
    assert "已签" in status
