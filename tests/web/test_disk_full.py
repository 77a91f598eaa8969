"""A full disk (ENOSPC) is a clear Chinese 507, never a 500, and leaves nothing half-written.

Before: issuing answered a generic 500, signing "签名失败：cannot subset font". The store
here is the real file store behind a wrapper that raises the real OSError a full disk gives.
"""

from __future__ import annotations

import errno
import os
from dataclasses import replace
from typing import Any

from doc_service.errors import StorageFullError, caused_by_full_disk
from doc_service.web import create_app
from signing.errors import SigningError
from tests.web.academic_years import fresh_academic_year
from tests.web.conftest import bearer
from tests.web.test_api import _counts, _student, _token


class FullDisk:
    """A content store whose disk is full: reads work, every write fails with ENOSPC."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def get(self, sha256: str) -> bytes:
        return self._inner.get(sha256)  # type: ignore[no-any-return]

    def put(self, data: bytes) -> str:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def _full_app(runtime: Any) -> Any:
    return create_app({"TESTING": True, "SECRET_KEY": "test-secret", "RATELIMIT_ENABLED": False},
                      runtime=replace(runtime, store=FullDisk(runtime.store)))


def _assert_storage_full(resp: Any) -> None:
    assert resp.status_code == 507, resp.get_data(as_text=True)[:300]
    body = resp.get_json()
    assert body["error"] == "storage_full"
    assert "存储空间已满" in body["message"] and "未保存" in body["message"]


def test_issuing_on_a_full_disk_is_507_and_takes_no_number(
        runtime: Any, accounts: dict[str, dict[str, Any]], students: list[dict[str, Any]]
) -> None:
    student = _student(students, "汽服2601", 7)
    before = _counts(runtime)
    resp = _full_app(runtime).test_client().post(
        "/api/v1/documents", headers=bearer(accounts["jy-issuer"]), json={
            "form_id": "verification_checklist", "student_no": student["student_no"],
            "data": {"registration_type": "新生学籍注册", "academic_year": fresh_academic_year()}})
    _assert_storage_full(resp)
    after = _counts(runtime)
    assert (after["documents"], after["numbers"]) == (before["documents"], before["numbers"])


def test_a_decision_on_a_full_disk_is_507_and_records_nothing(
        api: Any, runtime: Any, students: list[dict[str, Any]]) -> None:
    student = _student(students, "汽服2601", 8)
    resp = api("jy-issuer", "post", "/documents", json={
        "form_id": "verification_checklist", "student_no": student["student_no"],
        "data": {"registration_type": "新生学籍注册", "academic_year": fresh_academic_year()}})
    assert resp.status_code == 201, resp.get_json()
    doc = resp.get_json()
    token = _token(api, doc, student)
    before = _counts(runtime)
    resp = _full_app(runtime).test_client().post(
        f"/api/v1/documents/{doc['id']}/decisions", json={"decision": "approve"},
        headers={"Authorization": f"Bearer {token}"})
    _assert_storage_full(resp)
    after = _counts(runtime)
    assert (after["records"], after["versions"]) == (before["records"], before["versions"])


def test_a_full_disk_inside_a_library_error_is_recognised() -> None:
    def subset() -> None:
        try:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        except OSError as e:
            raise SigningError("cannot subset font") from e

    try:
        subset()
    except SigningError as wrapped:
        assert caused_by_full_disk(wrapped)
    assert not caused_by_full_disk(SigningError("cannot subset font"))
    assert not caused_by_full_disk(OSError(errno.EACCES, "denied"))
    assert StorageFullError().http_status == 507
