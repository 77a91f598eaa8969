"""Backup and restore carry the fixity audit trail: runs, failures and first-check numbers.

Restore treats the trail as it treats records: a run already in the archive must be there
exactly as in the backup (with the same failures and numbers), a difference is reported and
nothing is written; a backup made before the trail was backed up still restores.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from archive.backup import backup, restore
from archive.errors import PackageError
from archive.fixity import fixity_failures, fixity_runs, record_fixity, run_fixity
from archive.index import install
from archive.service import archive_document, search
from archive.store import FileContentStore
from doc_service.db import database_url, make_engine

TRAIL = ("archive_fixity_runs", "archive_fixity_failures", "archive_fixity_coverage")


def forge(backup_dir: Path, table: str, change) -> None:
    """Replace a table's rows by ``change(rows)`` and fix backup.json, as a forger would."""
    path = backup_dir / "index" / f"{table}.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    rows = change(rows)
    body = "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows)
    path.write_text(body, encoding="utf-8")
    manifest = json.loads((backup_dir / "backup.json").read_text(encoding="utf-8"))
    manifest["tables"][table].update(
        rows=len(rows), sha256=hashlib.sha256(body.encode("utf-8")).hexdigest())
    (backup_dir / "backup.json").write_text(json.dumps(manifest), encoding="utf-8")


def as_format_1(backup_dir: Path) -> None:
    """Make ``backup_dir`` what the version before the trail was backed up wrote."""
    manifest = json.loads((backup_dir / "backup.json").read_text(encoding="utf-8"))
    manifest["format"] = "doc-service-archive-backup/1"
    for table in TRAIL:
        (backup_dir / manifest["tables"].pop(table)["file"]).unlink()
    (backup_dir / "backup.json").write_text(json.dumps(manifest), encoding="utf-8")


def damage_then_repair(store: FileContentStore, sha: str, engine) -> Any:
    """A fixity run that finds ``sha`` changed; the file is put right afterwards (a backup
    refuses to copy a damaged file), so only the trail remembers the failure."""
    p = store.path_of(sha)
    p.chmod(0o644)
    good = p.read_bytes()
    p.write_bytes(good[:-1] + bytes([good[-1] ^ 1]))
    report = run_fixity(engine, store, run_by="wang")
    p.write_bytes(good)
    return report.run


def trail(engine, record_ids) -> tuple[Any, ...]:
    runs = fixity_runs(engine, limit=1000)
    return (runs, [fixity_failures(engine, r.id) for r in runs],
            [record_fixity(engine, rid) for rid in sorted(record_ids)])


@pytest.fixture
def checked(engine, store, make_input):
    """Two records, a run that found one damaged (since repaired), then a clean run, then a
    third record no run has checked."""
    a = archive_document(engine, store, make_input("DOC-1"))
    b = archive_document(engine, store, make_input("DOC-2"))
    failed = damage_then_repair(store, a.sha256, engine)
    clean = run_fixity(engine, store, run_by="scheduled").run
    c = archive_document(engine, store, make_input("DOC-3"))
    return (a, b, c), failed, clean


def test_backup_writes_the_trail_beside_the_index(engine, store, checked, tmp_path):
    (a, _, _), failed, clean = checked
    s = backup(engine, store, tmp_path / "bk")
    assert {t: s.rows[t] for t in TRAIL} == {"archive_fixity_runs": 2,
                                             "archive_fixity_failures": 1,
                                             "archive_fixity_coverage": 2}
    manifest = json.loads((tmp_path / "bk" / "backup.json").read_text(encoding="utf-8"))
    assert manifest["format"] == "doc-service-archive-backup/3"
    runs = [json.loads(line) for line in (tmp_path / "bk" / "index" /
                                          "archive_fixity_runs.jsonl").read_text().splitlines()]
    assert [r["id"] for r in runs] == [failed.id, clean.id]
    (failure,) = [json.loads(line) for line in (
        tmp_path / "bk" / "index" / "archive_fixity_failures.jsonl").read_text().splitlines()]
    assert (failure["run_id"], failure["record_id"], failure["expected_sha256"]) == (
        failed.id, a.id, a.sha256)
    assert failure["found_sha256"] != a.sha256


def test_restore_brings_the_trail_back_once(engine, make_engine, store, checked, tmp_path):
    records, failed, clean = checked
    ids = [r.id for r in records]
    backup(engine, store, tmp_path / "bk")
    fresh, fresh_store = make_engine(), FileContentStore(tmp_path / "fresh")
    first = restore(fresh, fresh_store, tmp_path / "bk")
    assert first.ok
    assert {t: first.inserted[t] for t in TRAIL} == {"archive_fixity_runs": 2,
                                                     "archive_fixity_failures": 1,
                                                     "archive_fixity_coverage": 2}
    assert trail(fresh, ids) == trail(engine, ids)
    assert record_fixity(fresh, records[0].id).earlier_failures[0].run_id == failed.id
    assert record_fixity(fresh, records[0].id).last_run == clean
    assert not record_fixity(fresh, records[2].id).checked

    again = restore(fresh, fresh_store, tmp_path / "bk")
    assert again.ok and sum(again.inserted.values()) == 0
    assert trail(fresh, ids) == trail(engine, ids)
    # the restored trail goes on: a new run numbers the unchecked record after the others
    later = run_fixity(fresh, fresh_store, run_by="wang").run
    assert later.covers_through == 3 and record_fixity(fresh, records[2].id).last_run == later


def test_restore_into_the_archive_it_came_from_after_more_runs(engine, store, make_input,
                                                               checked, tmp_path):
    backup(engine, store, tmp_path / "bk")
    run_fixity(engine, store, run_by="wang")
    archive_document(engine, store, make_input("DOC-4"))
    run_fixity(engine, store, run_by="wang")
    s = restore(engine, store, tmp_path / "bk")
    assert s.ok and s.findings == () and sum(s.inserted.values()) == 0
    assert len(fixity_runs(engine)) == 4


def test_a_run_changed_in_the_backup_is_reported_and_nothing_written(
        engine, make_engine, store, make_input, checked, tmp_path):
    _, failed, clean = checked
    backup(engine, store, tmp_path / "old")
    fresh, fresh_store = make_engine(), FileContentStore(tmp_path / "fresh")
    restore(fresh, fresh_store, tmp_path / "old")
    new = archive_document(engine, store, make_input("DOC-4"))
    later = run_fixity(engine, store, run_by="wang").run
    backup(engine, store, tmp_path / "new")
    for table in ("archive_fixity_runs", "archive_fixity_run_starts"):  # start and end alike
        forge(tmp_path / "new", table,
              lambda rows: [{**r, "run_by": "someone else"} if r["id"] == clean.id else r
                            for r in rows])

    s = restore(fresh, fresh_store, tmp_path / "new")
    assert not s.ok
    f, start = sorted(s.findings, key=lambda x: x.kind)
    assert (start.kind, start.run_id) == ("fixity_start_mismatch", clean.id)
    assert [(d.column, d.archive, d.backup) for d in start.differences] == [
        ("run_by", "scheduled", "someone else")]
    assert f.kind == "fixity_run_mismatch" and f.run_id == clean.id
    assert [(d.column, d.archive, d.backup) for d in f.differences] == [
        ("run_by", "scheduled", "someone else")]
    assert "someone else" in f.detail
    assert f.to_dict()["run_id"] == clean.id
    # nothing written: neither the new record nor the new run
    assert new.id not in {r.id for r in search(fresh, include_voids=True)}
    assert later.id not in {r.id for r in fixity_runs(fresh)}
    assert sum(s.inserted.values()) == 0


def test_a_failure_taken_out_of_the_backup_is_reported(engine, make_engine, store, checked,
                                                       tmp_path):
    (a, _, _), failed, _ = checked
    backup(engine, store, tmp_path / "bk")
    forge(tmp_path / "bk", "archive_fixity_failures", lambda rows: [])

    s = restore(engine, store, tmp_path / "bk")  # the archive still holds the failure
    kinds = sorted(f.kind for f in s.findings)
    assert kinds == ["backup_inconsistent", "fixity_failure_mismatch"]
    gone = next(f for f in s.findings if f.kind == "fixity_failure_mismatch")
    assert (gone.run_id, gone.record_id, gone.archival_ref, gone.position, gone.role) == (
        failed.id, a.id, a.archival_ref, 0, "final_pdf")
    assert "in the archive only" in gone.detail
    count = next(f for f in s.findings if f.kind == "backup_inconsistent")
    assert count.run_id == failed.id
    assert [(d.column, d.archive, d.backup) for d in count.differences] == [("failures", 0, 1)]

    fresh, fresh_store = make_engine(), FileContentStore(tmp_path / "fresh")
    s = restore(fresh, fresh_store, tmp_path / "bk")  # nothing to compare with but itself
    assert [f.kind for f in s.findings] == ["backup_inconsistent"]
    assert fixity_runs(fresh) == [] and search(fresh, include_voids=True) == []


def test_a_changed_failure_is_reported_with_both_values(engine, store, checked, tmp_path):
    (a, _, _), failed, _ = checked
    backup(engine, store, tmp_path / "bk")
    forge(tmp_path / "bk", "archive_fixity_failures",
          lambda rows: [{**r, "found_sha256": a.sha256} for r in rows])
    (f,) = restore(engine, store, tmp_path / "bk").findings
    assert f.kind == "fixity_failure_mismatch" and f.run_id == failed.id
    (d,) = f.differences
    assert d.column == "found_sha256" and d.backup == a.sha256 and d.archive != a.sha256


def test_first_checks_numbered_otherwise_are_reported(engine, make_engine, store, make_input,
                                                      tmp_path):
    """Two archives that went their own ways: each ran its own fixity check, so the same
    records carry other first-check numbers; merging would let runs claim foreign checks."""
    a = archive_document(engine, store, make_input("DOC-1"))
    backup(engine, store, tmp_path / "old")
    fresh, fresh_store = make_engine(), FileContentStore(tmp_path / "fresh")
    assert restore(fresh, fresh_store, tmp_path / "old").ok
    mine = run_fixity(fresh, fresh_store, run_by="wang").run
    theirs = run_fixity(engine, store, run_by="li").run
    backup(engine, store, tmp_path / "new")

    s = restore(fresh, fresh_store, tmp_path / "new")
    (f,) = s.findings
    assert f.kind == "fixity_coverage_mismatch" and (f.record_id, f.run_id) == (a.id, theirs.id)
    assert [(d.column, d.archive, d.backup) for d in f.differences] == [
        ("run_id", mine.id, theirs.id)]
    assert [r.id for r in fixity_runs(fresh)] == [mine.id]


def test_a_backup_from_before_the_trail_still_restores(engine, make_engine, store, checked,
                                                       tmp_path):
    records, _, _ = checked
    backup(engine, store, tmp_path / "bk")
    as_format_1(tmp_path / "bk")
    fresh, fresh_store = make_engine(), FileContentStore(tmp_path / "fresh")
    s = restore(fresh, fresh_store, tmp_path / "bk")
    assert s.ok and s.inserted["archive_records"] == 3
    assert {t: s.rows[t] for t in TRAIL} == dict.fromkeys(TRAIL, 0)
    assert {r.id for r in search(fresh, include_voids=True)} == {r.id for r in records}
    assert fixity_runs(fresh) == []
    assert restore(engine, store, tmp_path / "bk").ok  # and into an archive with a trail


def test_a_new_backup_without_its_trail_is_damaged(engine, make_engine, store, checked,
                                                   tmp_path):
    backup(engine, store, tmp_path / "bk")
    (tmp_path / "bk" / "index" / "archive_fixity_failures.jsonl").unlink()
    fresh, fresh_store = make_engine(), FileContentStore(tmp_path / "fresh")
    with pytest.raises(PackageError, match="archive_fixity_failures"):
        restore(fresh, fresh_store, tmp_path / "bk")
    manifest = json.loads((tmp_path / "bk" / "backup.json").read_text(encoding="utf-8"))
    del manifest["tables"]["archive_fixity_failures"]
    (tmp_path / "bk" / "backup.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(PackageError, match="archive_fixity_failures"):
        restore(fresh, fresh_store, tmp_path / "bk")
    assert search(fresh, include_voids=True) == []


# --------------------------------------------------------------------------- command line
def test_the_commands_carry_the_trail(cli, tmp_path, monkeypatch, make_input):
    monkeypatch.delenv("DATABASE_URL", raising=False)

    def instance(name: str):  # type: ignore[no-untyped-def]
        inst = tmp_path / name
        inst.mkdir()
        monkeypatch.setenv("DOC_SERVICE_INSTANCE", str(inst))
        engine = make_engine(database_url(inst))
        install(engine)
        return engine, FileContentStore(inst / "archive")

    engine, store = instance("old")
    archive_document(engine, store, make_input("CLI-1"))
    runner = CliRunner()
    assert runner.invoke(cli, ["archive", "fixity"]).exit_code == 0
    assert runner.invoke(cli, ["archive", "backup", "--out", str(tmp_path / "bk")]).exit_code == 0
    before = fixity_runs(engine)
    engine.dispose()

    engine, _ = instance("new")
    r = runner.invoke(cli, ["archive", "restore", str(tmp_path / "bk"), "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert data["inserted"]["archive_fixity_runs"] == 1
    assert fixity_runs(engine) == before
    engine.dispose()
