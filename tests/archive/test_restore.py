"""Restore compares before it writes: what the archive already holds must be what the backup
says (SHA-256 and SM3 included), and a disagreement is reported, never overwritten."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import archive.backup as backup_face
import archive.package as package_face
from archive.backup import backup, findings, restore, restorer, writer
from archive.backup import format as backup_format
from archive.hashing import sha256_hex, sm3_hex
from archive.index import install
from archive.service import archive_document, log_access, void_record
from archive.store import FileContentStore
from doc_service.db import database_url, make_engine

from .conftest import flip_a_byte, make_pdf, record_ids


@pytest.fixture
def archived(engine, store, make_input):
    """Two documents, one of them voided, and one access-log entry."""
    a = archive_document(engine, store, make_input("DOC-1", student_no="2024001"))
    b = archive_document(engine, store, make_input("DOC-2", student_no="2024002"))
    void_record(engine, store, b.id, reason="学生已离校", by="赵六", school_code="13579",
                void_chain_json=b'{"format": "void"}')
    log_access(engine, "archivist", "retrieve", "核对", a.id)
    return a, b


NO_TRAIL = {"archive_fixity_run_starts": 0, "archive_fixity_runs": 0,
            "archive_fixity_failures": 0, "archive_fixity_coverage": 0}
"""What a restore adds to the fixity trail when neither side has run a fixity check."""




def rewrite(backup_dir: Path, table: str, change) -> None:
    """Change a table of a backup and fix its checksum in backup.json, as a forger would."""
    path = backup_dir / "index" / f"{table}.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    rows = [change(dict(r)) for r in rows]
    body = "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows)
    path.write_text(body, encoding="utf-8")
    manifest = json.loads((backup_dir / "backup.json").read_text(encoding="utf-8"))
    manifest["tables"][table]["sha256"] = hashlib.sha256(body.encode("utf-8")).hexdigest()
    (backup_dir / "backup.json").write_text(json.dumps(manifest), encoding="utf-8")




def test_identical_records_are_reported_present_and_unchanged(engine, make_engine, store,
                                                              archived, tmp_path):
    backup(engine, store, tmp_path / "bk")
    everything = record_ids(engine)
    same = restore(engine, store, tmp_path / "bk")
    assert same.ok and same.findings == ()
    assert set(same.unchanged) == everything and len(everything) == 3
    assert same.inserted == {"archive_records": 0, "archive_files": 0,
                             "archive_access_log": 0, **NO_TRAIL}

    fresh, fresh_store = make_engine(), FileContentStore(tmp_path / "fresh")
    first = restore(fresh, fresh_store, tmp_path / "bk")
    assert first.ok and first.unchanged == ()
    assert first.inserted == {"archive_records": 3, "archive_files": 5, "archive_access_log": 1,
                              **NO_TRAIL}
    again = restore(fresh, fresh_store, tmp_path / "bk")
    assert again.ok and set(again.unchanged) == everything
    assert sum(again.inserted.values()) == 0


def test_only_missing_records_are_added(engine, make_engine, store, make_input, archived,
                                        tmp_path):
    backup(engine, store, tmp_path / "old")
    fresh, fresh_store = make_engine(), FileContentStore(tmp_path / "fresh")
    restore(fresh, fresh_store, tmp_path / "old")
    new = archive_document(engine, store, make_input("DOC-3"))
    backup(engine, store, tmp_path / "new")
    s = restore(fresh, fresh_store, tmp_path / "new")
    assert s.ok and s.inserted["archive_records"] == 1 and new.id not in s.unchanged
    assert len(s.unchanged) == 3 and record_ids(fresh) == record_ids(engine)


def test_sm3_changed_in_the_backup_is_a_finding_and_nothing_is_written(
        engine, make_engine, store, make_input, archived, tmp_path):
    doc1, _ = archived
    backup(engine, store, tmp_path / "old")
    fresh, fresh_store = make_engine(), FileContentStore(tmp_path / "fresh")
    restore(fresh, fresh_store, tmp_path / "old")
    doc3 = archive_document(engine, store, make_input("DOC-3"))
    backup(engine, store, tmp_path / "new")
    forged = "0" * 64
    rewrite(tmp_path / "new", "archive_records",
            lambda r: {**r, "sm3": forged} if r["id"] == doc1.id else r)

    s = restore(fresh, fresh_store, tmp_path / "new")
    assert not s.ok
    mismatch = [f for f in s.findings if f.kind == "record_mismatch"]
    assert len(mismatch) == 1
    (f,) = mismatch
    assert (f.record_id, f.archival_ref) == (doc1.id, doc1.archival_ref)
    assert [(d.column, d.archive, d.backup) for d in f.differences] == [
        ("sm3", doc1.sm3, forged)]
    assert "content hashes differ" in f.detail
    # the forged record row no longer agrees with its own file row either
    assert any(f.kind == "backup_inconsistent" and f.record_id == doc1.id for f in s.findings)
    # nothing written: DOC-3 is neither indexed nor stored, DOC-1 is not "unchanged"
    assert doc3.id not in record_ids(fresh) and not fresh_store.exists(doc3.sha256)
    assert doc1.id not in s.unchanged
    assert s.inserted == {"archive_records": 0, "archive_files": 0, "archive_access_log": 0,
                          **NO_TRAIL}


def test_backup_pointing_a_record_at_another_pdf_is_reported(engine, store, archived,
                                                             tmp_path):
    doc1, _ = archived
    backup(engine, store, tmp_path / "bk")
    other = make_pdf("a forged certificate")
    FileContentStore(tmp_path / "bk" / "blobs").put(other)
    new = {"sha256": sha256_hex(other), "sm3": sm3_hex(other), "size": len(other)}
    rewrite(tmp_path / "bk", "archive_records",
            lambda r: {**r, **new} if r["id"] == doc1.id else r)
    rewrite(tmp_path / "bk", "archive_files",
            lambda f: {**f, **new} if f["sha256"] == doc1.sha256 else f)

    s = restore(engine, store, tmp_path / "bk")
    assert not s.ok and {f.kind for f in s.findings} == {"record_mismatch", "file_mismatch"}
    rec = next(f for f in s.findings if f.kind == "record_mismatch")
    assert [d.column for d in rec.differences] == ["sha256", "sm3", "size"]
    assert rec.differences[0].archive == doc1.sha256 and rec.differences[0].backup == new[
        "sha256"]
    file = next(f for f in s.findings if f.kind == "file_mismatch")
    assert (file.record_id, file.position, file.role) == (doc1.id, 0, "final_pdf")
    assert not store.exists(new["sha256"])  # the forged PDF was not put in the archive


def test_stored_copy_changed_on_disk_is_reported_and_left_alone(engine, store, archived,
                                                                tmp_path):
    doc1, doc2 = archived
    backup(engine, store, tmp_path / "bk")
    damaged = flip_a_byte(store, doc1.sha256)  # same size: only the hashes can tell

    s = restore(engine, store, tmp_path / "bk")
    assert not s.ok
    (f,) = s.findings
    assert f.kind == "stored_copy_mismatch" and f.sha256 == doc1.sha256
    assert f.record_ids == (doc1.id,) and f.archival_refs == (doc1.archival_ref,)
    assert {d.column: (d.archive, d.backup) for d in f.differences} == {
        "sha256": (sha256_hex(damaged), doc1.sha256), "sm3": (sm3_hex(damaged), doc1.sm3)}
    assert store.path_of(doc1.sha256).read_bytes() == damaged  # never overwritten
    assert doc1.id not in s.unchanged and doc2.id in s.unchanged


def test_stored_copy_of_another_size_is_a_finding_not_an_error(engine, store, archived,
                                                               tmp_path):
    doc1, _ = archived
    backup(engine, store, tmp_path / "bk")
    p = store.path_of(doc1.sha256)
    p.chmod(0o644)
    p.write_bytes(p.read_bytes() + b"\n%%appended")
    (f,) = restore(engine, store, tmp_path / "bk").findings
    assert f.kind == "stored_copy_mismatch"
    assert [d.column for d in f.differences] == ["sha256", "sm3", "size"]


def test_blob_in_the_backup_disagreeing_with_its_sm3_is_reported(engine, make_engine, store,
                                                                 archived, tmp_path):
    doc1, _ = archived
    backup(engine, store, tmp_path / "bk")
    forged = "f" * 64
    rewrite(tmp_path / "bk", "archive_records",
            lambda r: {**r, "sm3": forged} if r["id"] == doc1.id else r)
    rewrite(tmp_path / "bk", "archive_files",
            lambda f: {**f, "sm3": forged} if f["sha256"] == doc1.sha256 else f)
    fresh, fresh_store = make_engine(), FileContentStore(tmp_path / "fresh")
    s = restore(fresh, fresh_store, tmp_path / "bk")  # nothing to compare with but itself
    (f,) = s.findings
    assert f.kind == "backup_inconsistent" and f.sha256 == doc1.sha256
    assert [(d.column, d.archive, d.backup) for d in f.differences] == [
        ("sm3", doc1.sm3, forged)]
    assert record_ids(fresh) == set()


def test_changed_access_log_entry_is_reported(engine, store, archived, tmp_path):
    backup(engine, store, tmp_path / "bk")
    rewrite(tmp_path / "bk", "archive_access_log", lambda e: {**e, "why": "改过的事由"})
    (f,) = restore(engine, store, tmp_path / "bk").findings
    assert f.kind == "log_mismatch" and [d.column for d in f.differences] == ["why"]
    assert f.record_id == archived[0].id


# --------------------------------------------------------------------------- command line
@pytest.fixture
def instance(tmp_path, monkeypatch, make_input):
    inst = tmp_path / "instance"
    inst.mkdir()
    monkeypatch.setenv("DOC_SERVICE_INSTANCE", str(inst))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    engine = make_engine(database_url(inst))
    install(engine)
    record = archive_document(engine, FileContentStore(inst / "archive"),
                              make_input("CLI-1"))
    engine.dispose()
    return inst, record


def run(cli, *args):
    return CliRunner().invoke(cli, ["archive", *args], catch_exceptions=False)


def test_cli_prints_findings_in_chinese_and_fails(cli, instance, tmp_path):
    inst, record = instance
    assert run(cli, "backup", "--out", str(tmp_path / "bk")).exit_code == 0
    r = run(cli, "restore", str(tmp_path / "bk"))
    assert r.exit_code == 0, r.output
    assert "1 条档案记录已存在，哈希（SHA-256、SM3）与备份一致，未改动" in r.output

    damaged = flip_a_byte(FileContentStore(inst / "archive"), record.sha256)
    r = run(cli, "restore", str(tmp_path / "bk"))
    assert r.exit_code == 1
    assert "未恢复：备份与档案库中已有的内容不一致，共 1 处" in r.output
    assert f"档案库中保存的文件 {record.sha256} 已被改动或损坏（档案记录 {record.archival_ref}）" \
        in r.output
    assert f"SM3：档案库为 {sm3_hex(damaged)}，备份为 {record.sm3}" in r.output
    data = json.loads(run(cli, "restore", str(tmp_path / "bk"), "--json").output)
    assert not data["ok"] and data["findings"][0]["kind"] == "stored_copy_mismatch"


def test_cli_names_the_record_whose_hashes_differ(cli, instance, tmp_path):
    _, record = instance
    run(cli, "backup", "--out", str(tmp_path / "bk"))
    rewrite(tmp_path / "bk", "archive_records", lambda r: {**r, "sm3": "0" * 64})
    r = run(cli, "restore", str(tmp_path / "bk"))
    assert r.exit_code == 1
    assert (f"档案记录 {record.archival_ref} 已在档案库中，但与备份不一致："
            f"SM3：档案库为 {record.sm3}，备份为 {'0' * 64}") in r.output
    assert "备份自身不一致" in r.output


def test_backup_and_restore_are_offered_by_their_face_and_nowhere_else():
    """Backup writing, its format and restore live in ``archive.backup``'s modules; callers
    import them from the face, and no other module re-exports them."""
    assert sorted(backup_face.__all__) == sorted(set(backup_face.__all__))
    homes = {"restore": restorer, "RestoreSummary": restorer, "RestoreFinding": findings,
             "Difference": findings, "CONTENT_COLUMNS": findings, "FindingKind": findings,
             "FindingCheck": findings, "backup": writer, "BackupSummary": backup_format,
             "BACKUP_FORMAT": backup_format, "FORMATS": backup_format}
    for name, home in homes.items():
        assert name in backup_face.__all__ and getattr(backup_face, name) is getattr(home, name)
    for name in backup_face.__all__:
        assert hasattr(backup_face, name)
    for name in ("backup", "restore", "BackupSummary"):  # the old re-exports are gone
        assert not hasattr(package_face, name)
    assert backup_face.BACKUP_FORMAT == "doc-service-archive-backup/3"
    assert set(backup_face.FORMATS) == {f"doc-service-archive-backup/{n}" for n in (1, 2, 3)}
