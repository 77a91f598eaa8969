"""``doc-service archive fixity`` records the run and prints its summary in Chinese."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import hashes

from archive.fixity import FixityReport, FixityRun, fixity_failures, fixity_runs
from archive.index import install
from archive.service import archive_document
from archive.store import FileContentStore
from doc_service.commands.archive import ArchiveAt, fixity_lines
from doc_service.db import database_url, make_engine

from .fakes import DyingDisk


@pytest.fixture
def instance(tmp_path, monkeypatch, make_input):
    """An instance folder whose archive holds two records, as the CLI sees it."""
    inst = tmp_path / "instance"
    inst.mkdir()
    monkeypatch.setenv("DOC_SERVICE_INSTANCE", str(inst))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    engine = make_engine(database_url(inst))
    install(engine)
    store = FileContentStore(inst / "archive")
    records = [archive_document(engine, store, make_input(f"CLI-{i}")) for i in range(2)]
    yield inst, engine, store, records
    engine.dispose()


def run(cli, *args, obj=None):
    return CliRunner().invoke(cli, ["archive", "fixity", *args], obj=obj,
                              catch_exceptions=False)


def test_a_clean_run_prints_its_summary_and_is_recorded(cli, instance):
    _, engine, _, _ = instance
    r = run(cli)
    assert r.exit_code == 0, r.output
    [recorded] = fixity_runs(engine)
    assert f"固定性检查 {recorded.id}" in r.output and "（北京时间）" in r.output
    assert "已检查 2 条档案记录、4 个文件" in r.output
    assert "固定性检查通过。" in r.output and "已记入固定性检查记录" in r.output
    assert recorded.run_by != "scheduled" and f"用户 {recorded.run_by}" in r.output
    r = run(cli, "--scheduled", "--json")
    data = json.loads(r.output)
    assert r.exit_code == 0 and data["ok"] and data["records_checked"] == 2
    assert data["run"]["run_by"] == "scheduled" and data["failures"] == []
    assert [x.run_by for x in fixity_runs(engine)][0] == "scheduled"
    assert "定时任务" in run(cli, "--scheduled").output


def test_a_failed_run_exits_non_zero_and_names_both_hashes(cli, instance):
    _, engine, store, records = instance
    damaged = records[1]
    p = store.path_of(damaged.sha256)
    p.chmod(0o644)
    data = bytearray(p.read_bytes())
    data[100] ^= 0x01
    p.write_bytes(bytes(data))
    sm3 = hashes.Hash(hashes.SM3())
    sm3.update(bytes(data))
    found_sm3 = sm3.finalize().hex()
    r = run(cli, "--scheduled")
    assert r.exit_code == 1
    assert f"档案 {damaged.archival_ref}（记录 {damaged.id}）第 1 个文件（最终 PDF）：已被改动" \
        in r.output
    assert f"SHA-256 应为 {damaged.sha256}，实为 {hashlib.sha256(data).hexdigest()}" in r.output
    assert f"应为 {damaged.sm3}，实为 {found_sm3}" in r.output
    assert "发现 1 个文件有问题，涉及 1 条档案记录。" in r.output
    [recorded] = fixity_runs(engine)
    assert recorded.failures == 1 and recorded.run_by == "scheduled"
    assert [f.found_sm3 for f in fixity_failures(engine, recorded.id)] == [found_sm3]
    out = json.loads(run(cli, "--json").output)
    assert not out["ok"] and out["failures"][0]["found"]["sm3"] == found_sm3
    assert len(fixity_runs(engine)) == 2


def dying_disk(instance) -> ArchiveAt:
    """The instance's archive on a disk that fails as it is read, after a run's start is
    recorded."""
    _, engine, store, _ = instance
    return ArchiveAt(engine, DyingDisk(store))


def test_a_run_that_crashes_is_named_unfinished(cli, instance):
    _, engine, _, _ = instance
    r = run(cli, "--scheduled", obj=dying_disk(instance))
    assert r.exit_code == 2
    [crashed] = fixity_runs(engine)
    assert not crashed.finished
    assert f"固定性检查 {crashed.id}：定时任务，" in r.output
    assert "（北京时间）开始，未完成（已中断）。" in r.output
    assert "错误：RuntimeError: the disk went away" in r.output
    assert "在记录中显示为“未完成”" in r.output
    r = run(cli, "--json", obj=dying_disk(instance))
    data = json.loads(r.output)
    assert r.exit_code == 2 and not data["ok"] and data["error"] == "FixityInterruptedError"
    assert data["run"]["finished"] is False and data["run"]["ended_at"] is None
    assert [x.finished for x in fixity_runs(engine)] == [False, False]


def test_the_next_run_names_the_runs_that_did_not_finish(cli, instance):
    _, engine, _, _ = instance
    run(cli, "--scheduled", obj=dying_disk(instance))
    [crashed] = fixity_runs(engine)
    r = run(cli)
    assert r.exit_code == 0 and "固定性检查通过。" in r.output
    assert "注意：此前有 1 次固定性检查未完成（可能已中断）：" in r.output
    assert f"  固定性检查 {crashed.id}：定时任务，" in r.output
    assert "开始，未完成（可能已中断），没有检查结果。" in r.output
    data = json.loads(run(cli, "--json").output)  # a finished run came in between
    assert data["ok"] and data["earlier_unfinished"] == []
    assert data["run"]["finished"] is True
    assert "此前有" not in run(cli).output


def test_fixity_lines_name_an_unfinished_run_without_an_end(instance):
    unfinished = FixityRun(id="r1", started_at=datetime(2026, 1, 1, tzinfo=UTC), ended_at=None,
                           run_by="wang", records_checked=0, files_checked=0, bytes_checked=0,
                           failures=0, covers_through=0)
    lines = fixity_lines(FixityReport(0, 0, 0.0, (), unfinished), [unfinished])
    assert lines[0] == ("固定性检查 r1：用户 wang，2026-01-01 08:00:00（北京时间）开始，"
                        "未完成（可能已中断），没有检查结果。")
    assert lines[-1] == f"  {lines[0]}"
