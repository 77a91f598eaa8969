"""``doc-service archive restore`` words every kind of finding in Chinese, naming the records
(id and 档号), files and fixity runs involved; the findings here are real ones, from
``restore`` on backups that differ from the archive or from themselves."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from archive import wording
from archive.backup import Difference, FindingCheck, FindingKind, RestoreFinding, backup, restore
from archive.errors import FixityInterruptedError
from archive.fixity import FixityProblem, run_fixity
from archive.index import install
from archive.model import FileRole
from archive.package import SignatureCheck, TrustRootSource
from archive.service import archive_document
from archive.store import FileContentStore
from doc_service.db import database_url, make_engine

from .fakes import DyingDisk
from .test_backup_fixity import damage_then_repair, forge


def words(summary) -> list[str]:  # type: ignore[no-untyped-def]
    """Every line the command prints for the findings of ``summary``."""
    assert not summary.ok
    return [line for f in summary.findings for line in wording.restore_finding(f)]


def fresh(make_engine, tmp_path: Path, name: str = "fresh"):  # type: ignore[no-untyped-def]
    return make_engine(), FileContentStore(tmp_path / name)


@pytest.fixture
def failed(engine, store, make_input):
    """A record and a fixity run that found its PDF changed (repaired since)."""
    record = archive_document(engine, store, make_input("DOC-1"))
    return record, damage_then_repair(store, record.sha256, engine)


def test_a_run_and_its_start_told_otherwise(engine, store, failed, tmp_path):
    _, run = failed
    backup(engine, store, tmp_path / "bk")
    for table in ("archive_fixity_runs", "archive_fixity_run_starts"):
        forge(tmp_path / "bk", table, lambda rows: [{**r, "run_by": "li"} for r in rows])
    lines = words(restore(engine, store, tmp_path / "bk"))
    assert sorted(lines) == sorted([
        f"固定性检查 {run.id} 已在档案库中，但与备份不一致：执行者：档案库为 用户 wang，"
        "备份为 用户 li",
        f"固定性检查 {run.id}：开始记录与档案库中的不一致：执行者：档案库为 用户 wang，"
        "备份为 用户 li"])


def test_a_start_compared_with_the_archives_finished_run(engine, make_engine, store, failed,
                                                         tmp_path):
    _, run = failed
    backup(engine, store, tmp_path / "two")
    manifest = json.loads((tmp_path / "two" / "backup.json").read_text(encoding="utf-8"))
    manifest["format"] = "doc-service-archive-backup/2"  # no starts: the run alone
    (tmp_path / "two" / manifest["tables"].pop("archive_fixity_run_starts")["file"]).unlink()
    (tmp_path / "two" / "backup.json").write_text(json.dumps(manifest), encoding="utf-8")
    other, other_store = fresh(make_engine, tmp_path)
    assert restore(other, other_store, tmp_path / "two").ok
    backup(engine, store, tmp_path / "three")
    forge(tmp_path / "three", "archive_fixity_run_starts",
          lambda rows: [{**r, "started_at": "2020-01-01T00:00:00+00:00"} for r in rows])
    lines = words(restore(other, other_store, tmp_path / "three"))
    assert (f"固定性检查 {run.id}：备份中的开始记录与档案库中该次检查的完成记录不一致：开始时间："
            "档案库为 ") in lines[0] and "备份为 2020-01-01 08:00:00（北京时间）" in lines[0]
    assert lines[1].startswith(f"备份自身不一致：固定性检查 {run.id} 的开始记录与完成记录不符："
                               "开始时间：开始记录为 2020-01-01 08:00:00（北京时间），完成记录为 ")


def test_a_failure_on_one_side_only_and_the_count_that_betrays_it(engine, store, failed,
                                                                  tmp_path):
    record, run = failed
    backup(engine, store, tmp_path / "bk")
    forge(tmp_path / "bk", "archive_fixity_failures", lambda rows: [])
    assert sorted(words(restore(engine, store, tmp_path / "bk"))) == sorted([
        f"固定性检查 {run.id} 对档案 {record.archival_ref}（记录 {record.id}）第 1 个文件"
        "（最终 PDF）记录的问题（已被改动）只在档案库中，备份中没有",
        f"备份自身不一致：固定性检查 {run.id} 记录了 1 处问题，但备份中只有它的 0 条问题记录"
        "（可能有问题记录被删去）"])


def test_a_failure_told_otherwise(engine, store, failed, tmp_path):
    record, run = failed
    backup(engine, store, tmp_path / "bk")
    forge(tmp_path / "bk", "archive_fixity_failures",
          lambda rows: [{**r, "found_sha256": record.sha256} for r in rows])
    (line,) = words(restore(engine, store, tmp_path / "bk"))
    assert line.startswith(f"固定性检查 {run.id} 对档案 {record.archival_ref}（记录 {record.id}）"
                           "第 1 个文件（最终 PDF）记录的问题与备份不一致：实际 SHA-256：档案库为 ")
    assert line.endswith(f"备份为 {record.sha256}")


def test_trail_rows_naming_what_the_backup_lacks(engine, make_engine, store, failed, tmp_path):
    record, run = failed
    backup(engine, store, tmp_path / "bk")
    forge(tmp_path / "bk", "archive_fixity_failures",
          lambda rows: [{**r, "position": 7} for r in rows])
    forge(tmp_path / "bk", "archive_fixity_coverage",
          lambda rows: [{**r, "record_id": "nosuchrecord"} for r in rows])
    other, other_store = fresh(make_engine, tmp_path)
    assert sorted(words(restore(other, other_store, tmp_path / "bk"))) == sorted([
        f"备份自身不一致：固定性检查 {run.id} 对档案 {record.archival_ref}（记录 {record.id}）"
        "第 8 个文件（最终 PDF）记录了问题，但备份中没有这个文件",
        f"备份自身不一致：固定性检查 {run.id} 记有档案记录 nosuchrecord 的首次检查，"
        "但备份中没有这条档案记录"])
    forge(tmp_path / "bk", "archive_fixity_runs",
          lambda rows: [{**r, "id": "nosuchrun"} for r in rows])
    lines = words(restore(other, other_store, tmp_path / "bk"))
    assert (f"备份自身不一致：固定性检查 {run.id} 对档案 {record.archival_ref}（记录 {record.id}）"
            "第 8 个文件（最终 PDF）记录了问题，但备份中没有这次检查") in lines
    assert (f"备份自身不一致：档案记录 nosuchrecord 的首次检查记为 固定性检查 {run.id}，"
            "但备份中没有这次检查") in lines


def test_first_check_numbers_told_otherwise(engine, make_engine, store, make_input, tmp_path):
    a = archive_document(engine, store, make_input("DOC-1"))
    backup(engine, store, tmp_path / "old")
    other, other_store = fresh(make_engine, tmp_path)
    assert restore(other, other_store, tmp_path / "old").ok
    mine = run_fixity(other, other_store, run_by="wang").run
    theirs = run_fixity(engine, store, run_by="li").run
    backup(engine, store, tmp_path / "new")
    assert words(restore(other, other_store, tmp_path / "new")) == [
        f"档案 {a.archival_ref}（记录 {a.id}）的首次检查编号与档案库不一致（备份中记为 "
        f"固定性检查 {theirs.id}）：固定性检查：档案库为 {mine.id}，备份为 {theirs.id}"]
    backup(engine, store, tmp_path / "bk")
    forge(tmp_path / "bk", "archive_fixity_coverage", lambda rows: [])
    assert words(restore(engine, store, tmp_path / "bk")) == [
        f"档案库中 固定性检查 {theirs.id} 给档案 {a.archival_ref}（记录 {a.id}）的首次检查编号 1 "
        "在备份中没有"]


def test_archival_ref_and_document_version_clashes(engine, make_engine, store, make_input,
                                                   tmp_path):
    mine = archive_document(engine, store, make_input("DOC-1"))
    backup(engine, store, tmp_path / "bk")
    other, other_store = fresh(make_engine, tmp_path)
    theirs = archive_document(other, other_store, make_input("DOC-OTHER"))
    assert words(restore(other, other_store, tmp_path / "bk")) == [
        f"档号 {mine.archival_ref} 冲突：备份中的档案记录 {mine.id} 不在档案库中，档案库已将"
        f"该档号给了档案记录 {theirs.id}"]
    third, third_store = fresh(make_engine, tmp_path, "third")
    same = archive_document(third, third_store, make_input("DOC-1", school_code="24680"))
    assert words(restore(third, third_store, tmp_path / "bk")) == [
        f"文书版本重复：备份中的档案记录 {mine.id}（档号 {mine.archival_ref}）不在档案库中，但"
        f"档案库已将同一文书的同一版本（或同一作废）归档为档案记录 {same.id}（档号 "
        f"{same.archival_ref}）"]


def test_two_records_of_the_backup_under_one_archival_ref(engine, make_engine, store,
                                                          make_input, tmp_path):
    a = archive_document(engine, store, make_input("DOC-1"))
    b = archive_document(engine, store, make_input("DOC-2"))
    backup(engine, store, tmp_path / "bk")
    forge(tmp_path / "bk", "archive_records",
          lambda rows: [{**r, "archival_ref": a.archival_ref} for r in rows])
    other, other_store = fresh(make_engine, tmp_path)
    assert words(restore(other, other_store, tmp_path / "bk")) == [
        f"备份自身不一致：备份中的档案记录 {b.id}（档号 {a.archival_ref}）与档案记录 {a.id}"
        f"（档号 {a.archival_ref}）使用同一档号 {a.archival_ref}"]


def test_a_file_row_told_otherwise_names_its_ordinal_and_the_blob(engine, store, make_input,
                                                                  tmp_path):
    record = archive_document(engine, store, make_input("DOC-1"))
    chain = record.files[1]
    backup(engine, store, tmp_path / "bk")
    forge(tmp_path / "bk", "archive_files",
          lambda rows: [{**r, "sm3": "0" * 64} if r["position"] == 1 else r for r in rows])
    assert sorted(words(restore(engine, store, tmp_path / "bk"))) == sorted([
        f"档案 {record.archival_ref}（记录 {record.id}）第 2 个文件（签批链）与备份不一致："
        f"SM3：档案库为 {chain.sm3}，备份为 {'0' * 64}",
        f"备份自身不一致：备份中的文件 {chain.sha256}（档案记录 {record.archival_ref}）与备份索引"
        f"不符：SM3：实际为 {chain.sm3}，备份索引记录为 {'0' * 64}"])


def test_the_command_prints_the_trail_findings(cli, tmp_path, monkeypatch, make_input):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    inst = tmp_path / "instance"
    inst.mkdir()
    monkeypatch.setenv("DOC_SERVICE_INSTANCE", str(inst))
    engine = make_engine(database_url(inst))
    install(engine)
    store = FileContentStore(inst / "archive")
    archive_document(engine, store, make_input("CLI-1"))
    with pytest.raises(FixityInterruptedError) as caught:
        run_fixity(engine, DyingDisk(store), run_by="wang")
    engine.dispose()
    crashed = caught.value.run
    runner = CliRunner()
    assert runner.invoke(cli, ["archive", "backup", "--out", str(tmp_path / "bk")]).exit_code == 0
    forge(tmp_path / "bk", "archive_fixity_run_starts",
          lambda rows: [{**r, "run_by": "scheduled"} for r in rows])
    r = runner.invoke(cli, ["archive", "restore", str(tmp_path / "bk")])
    assert r.exit_code == 1
    assert "未恢复：备份与档案库中已有的内容不一致，共 1 处。" in r.output
    assert (f"  固定性检查 {crashed.id}：开始记录与档案库中的不一致：执行者：档案库为 用户 wang，"
            "备份为 定时任务") in r.output


def test_a_failure_added_to_the_backup(engine, make_engine, store, failed, tmp_path):
    _, run = failed
    backup(engine, store, tmp_path / "bk")
    forge(tmp_path / "bk", "archive_fixity_failures",
          lambda rows: rows + [{**rows[0], "position": 1, "role": "chain_json"}])
    other, other_store = fresh(make_engine, tmp_path)
    assert words(restore(other, other_store, tmp_path / "bk")) == [
        f"备份自身不一致：固定性检查 {run.id} 记录了 1 处问题，但备份中却有它的 2 条问题记录"
        "（可能有问题记录被添加）"]


def test_every_member_of_the_archive_vocabularies_has_its_words():
    assert set(wording.FILE_ROLES) == set(FileRole)
    assert set(wording.FIXITY_PROBLEMS) == set(FixityProblem)
    assert set(wording.SIGNATURE_CHECKS) == set(SignatureCheck)
    assert set(wording.TRUST_ROOT_SOURCES) == set(TrustRootSource)
    assert wording.file_role("not_a_role") == "not_a_role"  # a forged backup row: as it is
    assert wording.fixity_problem("gone") == "gone"


@pytest.mark.parametrize("kind", list(FindingKind))
@pytest.mark.parametrize("check", [None, *FindingCheck])
def test_every_finding_is_worded_in_chinese_never_by_its_english_detail(kind, check):
    finding = RestoreFinding(kind, "the English detail", record_id="r1", archival_ref="A-1",
                             sha256="a" * 64, position=0, role="final_pdf", run_id="run1",
                             differences=(Difference("failures", 1, 2),),
                             record_ids=("r1", "r2"), archival_refs=("A-1", "A-2"),
                             check=check)
    lines = wording.restore_finding(finding)
    assert lines and all(line.strip() for line in lines)
    assert not any("English" in line for line in lines)
