"""Who may cancel and resume a batch job, through the pages and the command line (issue 15:
a class teacher and the archivist could cancel the issuer's job); and a new batch over
students a running one is still issuing is refused on the page, naming that job."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from sqlalchemy import select

from doc_service.services import batch
from doc_service.storage.batch_models import JobStatus
from doc_service.storage.models import User
from doc_service.web import create_app
from tests.services.batch.conftest import (
    EXTRA,
    assign_teachers,
    import_generated,
    staff,
    subprocess_env,
)

FORM = "verification_checklist"
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


def issuer_job(rt: Any, registrar: Any, class_no: str, serials: range) -> str:
    """A running job of the 信息工程学院 issuer over a fresh class, not handed out."""
    import_generated(rt, registrar, {class_no: serials})
    assign_teachers(rt, [class_no])
    return batch.start_batch(rt, staff(rt, "xx-issuer"), FORM, classes=[class_no],
                             extra_data=EXTRA, dispatch=False).job_id


def status(rt: Any, registrar: Any, job_id: str) -> str:
    return batch.batch_progress(rt, registrar, job_id).status


@pytest.mark.parametrize("username", ["xx-teacher1", "archivist"])
def test_the_pages_refuse_cancel_and_resume_to_others_who_see_the_job(
        app: Any, runtime: Any, registrar: Any, username: str) -> None:
    serial = {"xx-teacher1": 61_500, "archivist": 61_510}[username]
    job_id = issuer_job(runtime, registrar, f"控制28{serial % 100:02d}", range(serial, serial + 2))
    client = app.test_client()
    login(client, runtime, username)
    assert client.get(f"/batch/jobs/{job_id}/progress.json").status_code == 200  # may watch
    for action in ("cancel", "resume"):
        resp = client.post(f"/batch/jobs/{job_id}/{action}", data={"csrf_token": CSRF})
        assert resp.status_code == 403
        assert "发起该批次" in resp.get_data(as_text=True)
    assert status(runtime, registrar, job_id) == JobStatus.RUNNING


def test_the_owner_and_the_registrar_cancel_and_resume_on_the_pages(
        app: Any, runtime: Any, registrar: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    job_id = issuer_job(runtime, registrar, "控制2820", range(61_520, 61_522))
    handed_out: list[str] = []
    monkeypatch.setattr(runtime.dispatcher, "submit",
                        lambda _rt, job, _ids: handed_out.append(job))
    owner = app.test_client()
    login(owner, runtime, "xx-issuer")
    assert owner.post(f"/batch/jobs/{job_id}/resume",
                      data={"csrf_token": CSRF}).status_code == 302
    assert handed_out == [job_id]
    office = app.test_client()
    login(office, runtime, "registrar")
    assert office.post(f"/batch/jobs/{job_id}/cancel",
                       data={"csrf_token": CSRF}).status_code == 302
    assert status(runtime, registrar, job_id) == JobStatus.CANCELLED


def test_a_batch_over_a_running_one_is_refused_on_the_page(
        app: Any, runtime: Any, registrar: Any) -> None:
    job_id = issuer_job(runtime, registrar, "控制2821", range(61_530, 61_533))
    client = app.test_client()
    login(client, runtime, "registrar")
    resp = client.post("/batch/new", data={"csrf_token": CSRF, "form_id": FORM,
                                           "class_no": "控制2821", **EXTRA})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 422 and job_id in page and "进行中" in page
    batch.cancel_batch(runtime, registrar, job_id)


def test_the_command_line_refuses_cancel_to_the_archivist(
        runtime: Any, registrar: Any, db_url: str) -> None:
    job_id = issuer_job(runtime, registrar, "控制2822", range(61_540, 61_542))
    env = subprocess_env(runtime, db_url)
    cli = [sys.executable, "-m", "doc_service", "batch", "--cancel", job_id]
    refused = subprocess.run([*cli, "--as", "archivist"], env=env, capture_output=True,
                             text=True, timeout=120)
    assert refused.returncode == 1 and "发起该批次" in refused.stderr, refused.stderr
    assert status(runtime, registrar, job_id) == JobStatus.RUNNING
    done = subprocess.run([*cli, "--as", "xx-issuer"], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert status(runtime, registrar, job_id) == JobStatus.CANCELLED
