"""``/healthz`` says 503, and why, when the database or a file store is out of service."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from doc_service.bootstrap import build_runtime
from doc_service.web import create_app

CLOSED_PORT = "postgresql://postgres@127.0.0.1:1/x"


def app_for(instance: Path, database_url: str | None = None) -> Any:
    rt = build_runtime(instance, secret_key="test-secret", database_url=database_url)
    return create_app({"TESTING": True, "SECRET_KEY": "test-secret"}, runtime=rt), rt


def test_healthy_service_answers_200(client: Any) -> None:
    resp = client.get("/healthz")
    assert resp.status_code == 200 and resp.get_json() == {"status": "ok"}


def test_database_down_answers_503_with_the_reason(tmp_path: Path) -> None:
    app, rt = app_for(tmp_path, CLOSED_PORT)
    try:
        resp = app.test_client().get("/healthz")
    finally:
        rt.engine.dispose()
    assert resp.status_code == 503
    body = resp.get_json()
    assert body["status"] == "unavailable"
    assert any("数据库无法访问" in p for p in body["problems"]), body


def test_unwritable_archive_answers_503_with_the_reason(tmp_path: Path) -> None:
    app, rt = app_for(tmp_path)
    try:
        client = app.test_client()
        assert client.get("/healthz").status_code == 200
        shutil.rmtree(rt.archive.root)
        rt.archive.root.write_text("not a folder")  # the store's folder is gone
        resp = client.get("/healthz")
    finally:
        rt.engine.dispose()
    assert resp.status_code == 503
    assert any("档案库无法写入" in p for p in resp.get_json()["problems"])
