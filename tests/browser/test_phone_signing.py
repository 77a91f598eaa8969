"""A whole checklist chain in Chromium: the student signs on a phone, staff from their inboxes.

Screenshots of the phone pages are saved (``DOC_SERVICE_SHOTS`` or the test's tmp folder)
so that a person can look at them; the final PDF is checked with ``doc-service verify``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.browser

PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2,
         "is_mobile": True, "has_touch": True, "locale": "zh-CN"}


def issue_via_api(base: str, token: str, student_no: str) -> dict[str, Any]:
    body = json.dumps({"form_id": "verification_checklist", "student_no": student_no,
                       "data": {"registration_type": "新生学籍注册",
                                "academic_year": "2026-2027"}}).encode()
    req = urllib.request.Request(f"{base}/api/v1/documents", data=body, method="POST",
                                 headers={"Authorization": f"Bearer {token}",
                                          "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        assert resp.status == 201
        result: dict[str, Any] = json.loads(resp.read())
        return result


def fits_phone_width(page: Any) -> bool:
    return bool(page.evaluate(
        "document.documentElement.scrollWidth <= window.innerWidth + 1"))


def staff_login(browser: Any, base: str, account: dict[str, Any], *,
                on_phone: bool = False) -> Any:
    context = (browser.new_context(**PHONE, accept_downloads=True) if on_phone else
               browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN",
                                   accept_downloads=True))
    page = context.new_page()
    page.goto(f"{base}/login")
    page.fill("input[name=username]", account["username"])
    page.fill("input[name=password]", account["password"])
    page.click("button:has-text('登录')")
    page.wait_for_url(f"{base}/inbox")
    return page


def test_student_signs_on_a_phone_and_staff_finish_the_chain(
        browser: Any, live_server: str, accounts: Any, students: Any, runtime: Any,
        tmp_path: Path) -> None:
    shots = Path(os.environ.get("DOC_SERVICE_SHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    base = live_server
    student = next(s for s in students if s["class_no"] == "交运2601")
    doc = issue_via_api(base, accounts["jy-issuer"]["token"], student["student_no"])

    # --- the student, on a phone -----------------------------------------------------------
    phone = browser.new_context(**PHONE)
    page = phone.new_page()
    page.goto(f"{base}/d/{doc['code']}")
    assert page.locator("h1").inner_text() == "学籍电子注册信息核对表"
    assert student["id_number"] not in page.content()
    assert fits_phone_width(page)
    page.screenshot(path=str(shots / "1-status.png"), full_page=True)

    page.fill("input[name=student_no]", student["student_no"])
    page.fill("input[name=id_last6]", "000000" if not student["id_number"].endswith(
        "000000") else "111111")
    page.click("button:has-text('验证身份')")
    assert "还可尝试4次" in page.locator(".alert").inner_text()
    page.screenshot(path=str(shots / "2-wrong-answer.png"), full_page=True)

    page.fill("input[name=id_last6]", student["id_number"][-6:])
    page.click("button:has-text('验证身份')")
    page.wait_for_url(f"{base}/d/{doc['code']}/sign")
    image = page.locator(".pages img").first
    image.wait_for()
    page.wait_for_function("() => [...document.images].every(i => i.complete && i.naturalWidth)")
    box = image.bounding_box()
    assert box is not None and box["width"] >= 340  # the page image fills the phone's width
    assert fits_phone_width(page)
    page.screenshot(path=str(shots / "3-sign.png"), full_page=True)
    page.screenshot(path=str(shots / "3-sign-top.png"))
    button = page.locator("button:has-text('同意并签名')")
    assert button.bounding_box()["height"] >= 44  # a thumb-sized target
    button.tap()
    page.wait_for_selector("text=签名成功")
    page.screenshot(path=str(shots / "4-done.png"), full_page=True)
    phone.close()

    # --- class teacher (batch), college head and registrar from their inboxes --------------
    teacher = staff_login(browser, base, accounts["jy-teacher1"])
    teacher.check(f"input[name=doc_id][value='{doc['id']}']")
    teacher.click("button:has-text('批量同意')")
    assert "成功 1 份" in teacher.locator("body").inner_text()
    teacher.screenshot(path=str(shots / "5-teacher-batch.png"), full_page=True)
    teacher.context.close()

    for who in ("jy-head", "registrar"):
        on_phone = who == "jy-head"  # college heads often sign on their phones
        page = staff_login(browser, base, accounts[who], on_phone=on_phone)
        if on_phone:
            assert fits_phone_width(page)
            page.screenshot(path=str(shots / "5-head-inbox-phone.png"), full_page=True)
        page.click(f"a:has-text('{doc['number']}')")
        if on_phone:
            page.wait_for_function(
                "() => [...document.images].every(i => i.complete && i.naturalWidth)")
            assert fits_phone_width(page)
            page.screenshot(path=str(shots / "5-head-document-phone.png"), full_page=True)
        page.locator("#sign button.ok").click()
        page.wait_for_selector(".notice")
        if who == "registrar":
            assert "已办结" in page.locator("body").inner_text()
            page.screenshot(path=str(shots / "6-registrar-sealed.png"), full_page=True)
            with page.expect_download() as info:
                page.click("a:has-text('下载 PDF')")
            pdf = tmp_path / "sealed.pdf"
            info.value.save_as(str(pdf))
        page.context.close()

    out = subprocess.run([sys.executable, "-m", "doc_service", "verify", str(pdf), "--json"],
                         capture_output=True, text=True, timeout=120,
                         env={**os.environ, "DOC_SERVICE_INSTANCE": str(runtime.instance)})
    assert out.returncode == 0, out.stdout + out.stderr
    report = json.loads(out.stdout)
    assert report["ok"] is True

    # Anyone scanning the paper now sees it is valid.
    public = browser.new_context(**PHONE)
    page = public.new_page()
    page.goto(f"{base}/d/{doc['code']}")
    assert "已办结" in page.locator(".doc-state").inner_text()
    page.screenshot(path=str(shots / "7-public-sealed.png"), full_page=True)
    public.close()
