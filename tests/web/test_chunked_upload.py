"""A body sent without Content-Length (chunked) is held to the same 20 MiB limit as any other:
past it, 413 with a Chinese answer, never a check of the first 20 MiB."""

from __future__ import annotations

import io
from typing import Any

from tests.web.test_pages import csrf_of

LIMIT = 20 * 1024 * 1024


def chunked(client: Any, path: str, body: bytes, content_type: str) -> Any:
    """POST ``body`` as a server hands on a chunked request: no Content-Length, the stream
    terminated by the server (``wsgi.input_terminated``)."""
    return client.post(path, input_stream=io.BytesIO(body), content_type=content_type,
                       headers={"Transfer-Encoding": "chunked"},
                       environ_overrides={"wsgi.input_terminated": True})


def test_chunked_api_upload_over_the_limit_is_refused(client: Any) -> None:
    body = b"%PDF-1.7\n" + b"0" * LIMIT
    resp = chunked(client, "/api/v1/verify", body, "application/pdf")
    assert resp.status_code == 413
    assert resp.get_json()["message"] == "上传内容过大"


def test_chunked_page_upload_over_the_limit_is_refused(client: Any) -> None:
    boundary = "b0undary"
    token = csrf_of(client.get("/login").get_data(as_text=True))
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n'
            f'{token}\r\n--{boundary}\r\nContent-Disposition: form-data; name="pdf"; '
            'filename="x.pdf"\r\nContent-Type: application/pdf\r\n\r\n').encode()
    body += b"%PDF-1.7\n" + b"0" * LIMIT + f"\r\n--{boundary}--\r\n".encode()
    resp = chunked(client, "/v/NOSUCHCODE", body, f"multipart/form-data; boundary={boundary}")
    assert resp.status_code == 413
    assert "上传内容过大" in resp.get_data(as_text=True)


def test_chunked_upload_within_the_limit_is_checked(client: Any) -> None:
    resp = chunked(client, "/api/v1/verify", b"not a pdf at all", "application/pdf")
    assert resp.status_code == 200
    assert resp.get_json()["verdict"] == "unknown"
