"""Backups carry the fixity runs' starts (format 3), so an unfinished run survives a restore;
restore compares them like the rest of the trail, and formats 1 and 2 still restore."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from archive.backup import backup, restore
from archive.errors import FixityInterruptedError, PackageError
from archive.fixity import fixity_runs, run_fixity
from archive.service import archive_document, search
from archive.store import FileContentStore

from .fakes import BeforeFirstRead, DyingDisk
from .test_backup_fixity import as_format_1, forge

STARTS = "archive_fixity_run_starts"


def crash(engine, store):
    """A scheduled run whose hashing fails after its start is recorded."""
    with pytest.raises(FixityInterruptedError) as caught:
        run_fixity(engine, DyingDisk(store), run_by="scheduled")
    return caught.value.run


def rows(backup_dir: Path, table: str) -> list[dict]:
    path = backup_dir / "index" / f"{table}.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def as_format_2(backup_dir: Path) -> None:
    """Make ``backup_dir`` what the version before starts were backed up wrote."""
    manifest = json.loads((backup_dir / "backup.json").read_text(encoding="utf-8"))
    manifest["format"] = "doc-service-archive-backup/2"
    (backup_dir / manifest["tables"].pop(STARTS)["file"]).unlink()
    (backup_dir / "backup.json").write_text(json.dumps(manifest), encoding="utf-8")


@pytest.fixture
def runs(engine, store, make_input):
    """A record, a finished run, then a run that crashed."""
    archive_document(engine, store, make_input("DOC-1"))
    finished = run_fixity(engine, store, run_by="wang").run
    return finished, crash(engine, store)


def test_backup_writes_every_start(engine, store, runs, tmp_path):
    finished, crashed = runs
    s = backup(engine, store, tmp_path / "bk")
    manifest = json.loads((tmp_path / "bk" / "backup.json").read_text(encoding="utf-8"))
    assert manifest["format"] == "doc-service-archive-backup/3"
    assert s.rows[STARTS] == 2 and s.rows["archive_fixity_runs"] == 1
    assert [(r["id"], r["run_by"]) for r in rows(tmp_path / "bk", STARTS)] == [
        (finished.id, "wang"), (crashed.id, "scheduled")]


def test_restore_brings_back_the_unfinished_run_once(engine, make_engine, store, runs,
                                                     tmp_path):
    backup(engine, store, tmp_path / "bk")
    fresh, fresh_store = make_engine(), FileContentStore(tmp_path / "fresh")
    first = restore(fresh, fresh_store, tmp_path / "bk")
    assert first.ok and first.inserted[STARTS] == 2
    assert fixity_runs(fresh) == fixity_runs(engine)
    assert [r.finished for r in fixity_runs(fresh)] == [False, True]
    again = restore(fresh, fresh_store, tmp_path / "bk")
    assert again.ok and sum(again.inserted.values()) == 0
    assert restore(engine, store, tmp_path / "bk").ok  # and into the archive it came from


def test_a_run_in_progress_during_the_backup_is_restored_unfinished_then_finished(
        engine, make_engine, store, make_input, tmp_path):
    archive_document(engine, store, make_input("DOC-1"))
    meanwhile = BeforeFirstRead(store, lambda: backup(engine, store, tmp_path / "during"))
    run = run_fixity(engine, meanwhile, run_by="wang").run
    backup(engine, store, tmp_path / "after")
    fresh, fresh_store = make_engine(), FileContentStore(tmp_path / "fresh")
    assert restore(fresh, fresh_store, tmp_path / "during").ok
    [during] = fixity_runs(fresh)
    assert during.id == run.id and not during.finished
    s = restore(fresh, fresh_store, tmp_path / "after")  # adds the end, rewrites nothing
    assert s.ok and s.inserted["archive_fixity_runs"] == 1 and s.inserted[STARTS] == 0
    assert fixity_runs(fresh) == [run]


def test_a_start_changed_in_the_backup_is_reported_and_nothing_written(
        engine, make_engine, store, make_input, runs, tmp_path):
    _, crashed = runs
    backup(engine, store, tmp_path / "old")
    fresh, fresh_store = make_engine(), FileContentStore(tmp_path / "fresh")
    assert restore(fresh, fresh_store, tmp_path / "old").ok
    new = archive_document(engine, store, make_input("DOC-2"))
    backup(engine, store, tmp_path / "new")
    forge(tmp_path / "new", STARTS,
          lambda rs: [{**r, "run_by": "someone else"} if r["id"] == crashed.id else r
                      for r in rs])
    s = restore(fresh, fresh_store, tmp_path / "new")
    (f,) = s.findings
    assert (f.kind, f.run_id) == ("fixity_start_mismatch", crashed.id)
    assert [(d.column, d.archive, d.backup) for d in f.differences] == [
        ("run_by", "scheduled", "someone else")]
    assert crashed.id in f.detail and "someone else" in f.detail
    assert sum(s.inserted.values()) == 0
    assert new.id not in {r.id for r in search(fresh, include_voids=True)}


def test_a_backup_start_is_compared_with_the_archives_finished_run(engine, make_engine,
                                                                   store, runs, tmp_path):
    """An archive restored from a format-2 backup holds the run but not its start."""
    finished, _ = runs
    backup(engine, store, tmp_path / "two")
    as_format_2(tmp_path / "two")
    fresh, fresh_store = make_engine(), FileContentStore(tmp_path / "fresh")
    assert restore(fresh, fresh_store, tmp_path / "two").ok
    assert [r.id for r in fixity_runs(fresh)] == [finished.id]  # format 2: no unfinished run
    backup(engine, store, tmp_path / "three")
    forge(tmp_path / "three", STARTS,
          lambda rs: [{**r, "started_at": "2020-01-01T00:00:00+00:00"}
                      if r["id"] == finished.id else r for r in rs])
    kinds = sorted(f.kind for f in restore(fresh, fresh_store, tmp_path / "three").findings)
    # against the archive's finished run, and against the backup's own end of the run
    assert kinds == ["backup_inconsistent", "fixity_start_mismatch"]
    assert len(fixity_runs(fresh)) == 1


def test_a_run_whose_start_and_end_disagree_in_the_backup_is_inconsistent(
        engine, make_engine, store, runs, tmp_path):
    finished, _ = runs
    backup(engine, store, tmp_path / "bk")
    forge(tmp_path / "bk", "archive_fixity_runs",
          lambda rs: [{**r, "run_by": "someone else"} for r in rs])
    fresh, fresh_store = make_engine(), FileContentStore(tmp_path / "fresh")
    (f,) = restore(fresh, fresh_store, tmp_path / "bk").findings
    assert (f.kind, f.run_id) == ("backup_inconsistent", finished.id)
    assert [(d.column, d.archive, d.backup) for d in f.differences] == [
        ("run_by", "wang", "someone else")]
    assert fixity_runs(fresh) == []


def test_formats_1_and_2_still_restore(engine, make_engine, store, runs, tmp_path):
    finished, _ = runs
    backup(engine, store, tmp_path / "bk")
    as_format_2(tmp_path / "bk")
    fresh, fresh_store = make_engine(), FileContentStore(tmp_path / "fresh")
    s = restore(fresh, fresh_store, tmp_path / "bk")
    assert s.ok and s.rows[STARTS] == 0 and s.inserted[STARTS] == 0
    assert fixity_runs(fresh) == [finished] and finished.finished
    assert restore(engine, store, tmp_path / "bk").ok  # and into an archive with starts

    backup(engine, store, tmp_path / "one")
    manifest = json.loads((tmp_path / "one" / "backup.json").read_text(encoding="utf-8"))
    (tmp_path / "one" / manifest["tables"].pop(STARTS)["file"]).unlink()
    (tmp_path / "one" / "backup.json").write_text(json.dumps(manifest), encoding="utf-8")
    as_format_1(tmp_path / "one")
    other, other_store = make_engine(), FileContentStore(tmp_path / "other")
    s = restore(other, other_store, tmp_path / "one")
    assert s.ok and s.inserted["archive_records"] == 1 and fixity_runs(other) == []


def test_a_format_3_backup_without_its_starts_is_damaged(engine, make_engine, store, runs,
                                                         tmp_path):
    backup(engine, store, tmp_path / "bk")
    (tmp_path / "bk" / "index" / f"{STARTS}.jsonl").unlink()
    fresh, fresh_store = make_engine(), FileContentStore(tmp_path / "fresh")
    with pytest.raises(PackageError, match=STARTS):
        restore(fresh, fresh_store, tmp_path / "bk")
    assert fixity_runs(fresh) == [] and search(fresh, include_voids=True) == []
