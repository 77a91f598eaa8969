"""The public upload check (``/v/<code>`` and ``/api/v1/verify``) under hostile files:
always a verdict or a 4xx, in plain Chinese, naming no signer in full."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.signing.hostile import HOSTILE_PDFS, corrupt_seal_timestamp
from tests.web.test_archive_web import seal_certificate
from tests.web.test_pages import csrf_of

DEVELOPER_TEXT = re.compile(r"[a-z]+_[a-z_]+|pyHanko|Traceback")
"""Check names (``doc_sha256_matches_revision``) and library words the public never sees."""


@pytest.fixture(scope="module")
def sealed_copy(app: Any, students: list[dict[str, Any]], accounts: dict[str, Any]
                ) -> dict[str, Any]:
    client = app.test_client()

    def api(who: str | None, method: str, path: str, **kw: Any) -> Any:
        headers = kw.pop("headers", {})
        if who is not None:
            token = accounts[who]["token"] if who in accounts else who
            headers["Authorization"] = f"Bearer {token}"
        return getattr(client, method)("/api/v1" + path, headers=headers, **kw)

    student = [s for s in students if s["class_no"] == "物流2601"][1]
    doc = seal_certificate(api, student)
    pdf = api("registrar", "get", f"/documents/{doc['id']}/pdf").data
    return {"doc": doc, "pdf": pdf, "names": [student["name"], accounts["registrar"]["name"]]}


BOUNDARY = "hostile-upload-boundary"


def multipart(pdf: bytes, **fields: str) -> bytes:
    """A multipart body built in memory (the test client would spool a large one to a
    temporary file it never closes)."""
    out = b"".join(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n'
                   f"{v}\r\n".encode() for k, v in fields.items())
    out += (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="pdf"; filename="x.pdf"'
            "\r\nContent-Type: application/pdf\r\n\r\n").encode()
    return out + pdf + f"\r\n--{BOUNDARY}--\r\n".encode()


def upload_api(client: Any, pdf: bytes, code: str | None = None) -> Any:
    query = f"?code={code}" if code else ""
    return client.post(f"/api/v1/verify{query}", data=multipart(pdf),
                       content_type=f"multipart/form-data; boundary={BOUNDARY}")


def upload_page(client: Any, code: str, pdf: bytes) -> Any:
    token = csrf_of(client.get(f"/v/{code}").get_data(as_text=True))
    return client.post(f"/v/{code}", data=multipart(pdf, csrf_token=token),
                       content_type=f"multipart/form-data; boundary={BOUNDARY}")


def said(body: dict[str, Any]) -> str:
    """The message and every reason of an API answer."""
    return " ".join([body["message"], *body["failures"],
                     *(f for s in body["signatures"] for f in s["failures"])])


def public_text(resp: Any) -> str:
    """What the result box of the public page says."""
    html = resp.get_data(as_text=True)
    box = html[html.find("核验手中的 PDF"):]
    return re.sub(r"<[^>]+>", " ", box[box.find("</form>"):])


@pytest.mark.parametrize("name", sorted(HOSTILE_PDFS))
def test_hostile_pdf_gets_a_verdict_from_the_api(client: Any, name: str) -> None:
    resp = upload_api(client, HOSTILE_PDFS[name])
    assert resp.status_code < 500
    body = resp.get_json()
    assert body["verdict"] == "unknown" and "无法解析的 PDF" in body["message"]
    assert not DEVELOPER_TEXT.search(said(body)), body


@pytest.mark.parametrize("name", sorted(HOSTILE_PDFS))
def test_hostile_pdf_gets_a_verdict_on_the_public_page(client: Any, sealed_copy: dict,
                                                       name: str) -> None:
    resp = upload_page(client, sealed_copy["doc"]["code"], HOSTILE_PDFS[name])
    assert resp.status_code == 200
    assert "无法解析的 PDF" in public_text(resp)


def test_corrupted_time_stamp_is_an_invalid_verdict_in_plain_chinese(
        client: Any, sealed_copy: dict) -> None:
    damaged = corrupt_seal_timestamp(sealed_copy["pdf"])
    code = sealed_copy["doc"]["code"]
    resp = upload_api(client, damaged, code)
    assert resp.status_code < 500
    body = resp.get_json()
    assert body["verdict"] == "invalid" and body["failures"], body
    assert any("盖章时间戳" in f for f in body["failures"]), body["failures"]
    page = upload_page(client, code, damaged)
    assert page.status_code == 200
    assert "不能作为有效文书使用" in public_text(page) and "盖章时间戳" in public_text(page)
    for text in (said(body), public_text(page)):
        assert not DEVELOPER_TEXT.search(text), text


def test_invalid_upload_names_no_signer_and_gives_chinese_reasons(
        client: Any, sealed_copy: dict) -> None:
    tampered = bytearray(sealed_copy["pdf"])
    # a hex digit near the end of the student's signature value: readable, but invalid
    start = tampered.find(b"/Contents <") + len(b"/Contents <")
    at = tampered.find(b"0000", start) - 8
    tampered[at] = ord("0") if tampered[at] != ord("0") else ord("1")
    code = sealed_copy["doc"]["code"]
    body = upload_api(client, bytes(tampered), code).get_json()
    page = public_text(upload_page(client, code, bytes(tampered)))
    assert body["verdict"] in ("invalid", "unknown") and body["failures"], body
    for text in (said(body), page):
        assert not DEVELOPER_TEXT.search(text), text
    for text in (str(body), page):
        for name in sealed_copy["names"]:
            assert name not in text
