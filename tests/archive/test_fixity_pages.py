"""The archive office's pages show the fixity trail: the latest runs, each run's failures
(a college's staff only their college's), and on a record's page its last check."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest

from archive.fixity import fixity_failures, run_fixity
from archive.model import SCHEDULED, ArchiveInput, Retention
from archive.service import archive_document
from tests.archive.conftest import make_chain, make_pdf
from tests.web.conftest import accounts, app, db_url, runtime  # noqa: F401 - fixtures
from tests.web.test_pages import login

OTHER_COLLEGE = "交通运输学院"


@pytest.fixture(scope="module")
def archived(runtime: Any) -> dict[str, Any]:  # noqa: F811
    """A record of another college than xx-issuer's, checked once (clean), then damaged and
    checked again by a person."""
    from doc_service.services.archiving import archive_store

    store = archive_store(runtime)

    def build(doc: str) -> ArchiveInput:
        return ArchiveInput(
            document_id=doc, version=1, form_id="enrollment_certificate", form_title="在校证明",
            number=f"2026年第{len(doc)}号", student_no="20269999", student_name="测试",
            college=OTHER_COLLEGE, issued_on=dt.date(2026, 11, 20),
            sealed_at=dt.datetime(2026, 11, 21, tzinfo=dt.UTC), final_pdf=make_pdf(doc),
            chain_json=make_chain(doc, 1), retention=Retention.YEARS_10, school_code="13579")

    record = archive_document(runtime.engine, store, build("FIXITY-PAGE-1"))
    clean = run_fixity(runtime.engine, store, run_by=SCHEDULED).run
    p = store.path_of(record.sha256)
    p.chmod(0o644)
    data = bytearray(p.read_bytes())
    data[50] ^= 0x01
    p.write_bytes(bytes(data))
    failed = run_fixity(runtime.engine, store, run_by="zhang").run
    return {"record": record, "clean": clean, "failed": failed}


def test_the_archive_page_shows_the_latest_runs(app: Any, accounts: dict,  # noqa: F811
                                               archived: dict) -> None:
    client = app.test_client()
    login(client, accounts, "archivist")
    html = client.get("/archive").get_data(as_text=True)
    assert "最近的固定性检查" in html
    for run in (archived["failed"], archived["clean"]):
        assert f"/archive/fixity/{run.id}" in html
    assert html.index(archived["failed"].id) < html.index(archived["clean"].id)  # newest first
    assert "定时任务" in html and "用户 zhang" in html and "全部完好" in html
    assert f"{archived['failed'].failures} 处问题" in html
    listing = client.get("/archive/fixity").get_data(as_text=True)
    assert archived["failed"].id in listing and archived["clean"].id in listing


def test_a_run_page_names_each_failure_with_both_hashes(app: Any, accounts: dict,  # noqa: F811
                                                        runtime: Any,  # noqa: F811
                                                        archived: dict) -> None:
    client = app.test_client()
    login(client, accounts, "archivist")
    run, record = archived["failed"], archived["record"]
    html = client.get(f"/archive/fixity/{run.id}").get_data(as_text=True)
    [failure] = [f for f in fixity_failures(runtime.engine, run.id)
                 if f.record_id == record.id]
    assert record.archival_ref in html and "已被改动" in html and "用户 zhang" in html
    for value in (failure.expected_sha256, failure.found_sha256, failure.expected_sm3,
                  failure.found_sm3):
        assert value in html
    assert client.get("/archive/fixity/nosuchrun").status_code == 404


def test_a_record_page_shows_its_last_check(app: Any, accounts: dict,  # noqa: F811
                                            archived: dict) -> None:
    client = app.test_client()
    login(client, accounts, "archivist")
    record, failed = archived["record"], archived["failed"]
    html = client.get(f"/archive/records/{record.id}?why=核对固定性").get_data(as_text=True)
    section = html[html.index("定期固定性检查"):]
    assert "最近一次检查" in section and f"/archive/fixity/{failed.id}" in section
    assert "发现问题" in section and "用户 zhang" in section
    assert record.sha256 in section and "已被改动" in section
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d</a>（北京时间", section)


def test_college_staff_see_only_their_colleges_failures(app: Any, accounts: dict,  # noqa: F811
                                                        archived: dict) -> None:
    client = app.test_client()
    login(client, accounts, "xx-issuer")
    html = client.get(f"/archive/fixity/{archived['failed'].id}").get_data(as_text=True)
    assert archived["record"].archival_ref not in html
    assert "仅显示" in html and "不涉及您可查看的档案" in html
    teacher = app.test_client()
    login(teacher, accounts, "jy-teacher1")
    assert teacher.get("/archive/fixity").status_code == 403
    assert teacher.get(f"/archive/fixity/{archived['failed'].id}").status_code == 403
