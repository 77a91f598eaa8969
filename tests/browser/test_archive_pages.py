"""The archivist's pages and the public verification page, in headless Chromium."""

from __future__ import annotations

import json
import os
import urllib.request
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.browser


def api(base: str, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(base + "/api/v1" + path, method=method, headers=headers,
                                 data=json.dumps(body).encode() if body is not None else None)
    with urllib.request.urlopen(req, timeout=60) as resp:
        return json.loads(resp.read())


@pytest.fixture(scope="module")
def sealed_certificate(live_server: str, accounts: dict, students: list) -> dict[str, Any]:
    student = next(s for s in students if s["class_no"] == "软件2601")
    registrar = accounts["registrar"]["token"]
    doc = api(live_server, "POST", "/documents", {
        "form_id": "enrollment_certificate", "student_no": student["student_no"],
        "data": {"certificate_kind": "在校证明", "expected_graduation": "2030-06",
                 "purpose": "办理银行卡", "issued_on": "2026-11-23",
                 "valid_until": "2027-02-23"}}, registrar)
    token = api(live_server, "POST", f"/codes/{doc['code']}/identity",
                {"student_no": student["student_no"],
                 "id_last6": student["id_number"][-6:]})["token"]
    api(live_server, "POST", f"/documents/{doc['id']}/decisions", {"decision": "approve"}, token)
    doc = api(live_server, "POST", f"/documents/{doc['id']}/decisions",
              {"decision": "approve"}, registrar)
    assert doc["status"] == "sealed"
    return {"doc": doc, "student": student}


def shot(page: Any, name: str) -> None:
    folder = os.environ.get("DOC_SERVICE_SHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / name), full_page=True)


def test_public_page_on_a_phone_shows_validity_without_personal_data(
        browser: Any, live_server: str, sealed_certificate: dict) -> None:
    doc, student = sealed_certificate["doc"], sealed_certificate["student"]
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                  has_touch=True)
    page = context.new_page()
    page.goto(f"{live_server}/v/{doc['code']}")
    text = page.inner_text("main")
    assert "有效" in text and doc["number"] in text and doc["pdf_sha256"] in text.replace("\n", "")
    html = page.content()
    for secret in (student["id_number"], student["name"], student.get("exam_no") or "-"):
        assert secret not in html
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    shot(page, "public-verify.png")
    context.close()


def test_archivist_searches_opens_with_a_reason_and_sees_the_report(
        browser: Any, live_server: str, accounts: dict, sealed_certificate: dict) -> None:
    doc, student = sealed_certificate["doc"], sealed_certificate["student"]
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{live_server}/login")
    page.fill("input[name=username]", "archivist")
    page.fill("input[name=password]", accounts["archivist"]["password"])
    page.click("button.primary")
    page.goto(f"{live_server}/archive")
    page.fill("input[name=student_no]", student["student_no"])
    page.fill("input[name=why]", "核对在校证明")
    page.click("form.grid-form button.primary")
    assert doc["number"] in page.inner_text("table.list")
    page.click("table.list a")
    assert "查档事由" in page.inner_text("main")
    page.fill("input[name=why]", "出具证明前核对原件")
    page.click("button.primary")
    text = page.inner_text("main")
    assert "全部通过" in text and "DEMO-XJ-" in text
    shot(page, "archive-record.png")
    context.close()
