"""The archive office's pages show the fixity trail: the latest runs, each run's failures
(a college's staff only their college's), and on a record's page its last check; a run
whose end was never recorded is shown as unfinished."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest

from archive.errors import FixityInterruptedError
from archive.fixity import SCHEDULED, fixity_failures, fixity_runs, run_fixity
from archive.model import ArchiveInput, Retention
from archive.service import archive_document
from doc_service.services.archiving import archive_store
from tests.archive.conftest import make_chain, make_pdf
from tests.archive.fakes import DyingDisk
from tests.web.test_pages import login

OTHER_COLLEGE = "交通运输学院"


@pytest.fixture(scope="module")
def archived(runtime: Any) -> dict[str, Any]:  # noqa: F811
    """A record of another college than xx-issuer's, checked once (clean), then damaged and
    checked again by a person."""
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


@pytest.fixture(scope="module")
def interrupted(runtime: Any, archived: dict) -> Any:  # noqa: F811
    """A scheduled run that crashed while hashing, after the runs of ``archived``."""
    with pytest.raises(FixityInterruptedError) as caught:
        run_fixity(runtime.engine, DyingDisk(archive_store(runtime)), run_by=SCHEDULED)
    return caught.value.run


def row_of(html: str, run_id: str) -> str:
    """The table row of the runs list that links to ``run_id``."""
    at = html.index(f"/archive/fixity/{run_id}")
    return html[html.rindex("<tr>", 0, at):html.index("</tr>", at)]


def test_an_unfinished_run_is_listed_as_such(app: Any, accounts: dict, runtime: Any,  # noqa: F811
                                              archived: dict, interrupted: Any) -> None:
    assert not next(r for r in fixity_runs(runtime.engine) if r.id == interrupted.id).finished
    client = app.test_client()
    login(client, accounts, "archivist")
    for page in ("/archive/fixity", "/archive"):
        html = client.get(page).get_data(as_text=True)
        row = row_of(html, interrupted.id)
        assert "未完成（可能已中断）" in row and "定时任务" in row and "全部完好" not in row
        assert row.count("<td>—</td>") == 4  # time taken, records, files, data: unknown
        assert "未完成" not in row_of(html, archived["clean"].id)
        assert html.index(interrupted.id) < html.index(archived["failed"].id)  # newest first


def test_an_unfinished_run_has_a_page_without_an_end(app: Any, accounts: dict,  # noqa: F811
                                                     interrupted: Any) -> None:
    client = app.test_client()
    login(client, accounts, "archivist")
    r = client.get(f"/archive/fixity/{interrupted.id}")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert interrupted.id in html and "未完成（可能已中断）" in html
    assert "未记录结束" in html and "没有检查结果" in html and "定时任务" in html
    assert "发现的问题" not in html and "全部完好" not in html


def test_a_record_page_names_a_later_run_that_never_finished(app: Any,  # noqa: F811
                                                             accounts: dict,  # noqa: F811
                                                             archived: dict,
                                                             interrupted: Any) -> None:
    client = app.test_client()
    login(client, accounts, "archivist")
    record, failed = archived["record"], archived["failed"]
    html = client.get(f"/archive/records/{record.id}?why=核对固定性").get_data(as_text=True)
    section = html[html.index("定期固定性检查"):]
    assert f"/archive/fixity/{failed.id}" in section and "发现问题" in section  # last check
    assert "此后有 1 次固定性检查未完成（可能已中断）" in section
    assert f"/archive/fixity/{interrupted.id}" in section
