"""A record of the backup whose 档号 (or document version) the archive gave another record is
a reported difference, like every other: restore compares the rest, names both records and
writes nothing, instead of failing on the database's UNIQUE constraint."""

from __future__ import annotations

import hashlib
import json

from click.testing import CliRunner

from archive.backup import backup, restore
from archive.index import install
from archive.service import archive_document
from archive.store import FileContentStore
from doc_service.db import database_url, make_engine

from .conftest import flip_a_byte, record_ids


def test_a_clash_on_the_archival_ref_is_reported_with_the_rest(engine, make_engine, store,
                                                               make_input, tmp_path):
    first = archive_document(engine, store, make_input("DOC-1"))
    backup(engine, store, tmp_path / "old")
    other, other_store = make_engine(), FileContentStore(tmp_path / "other")
    assert restore(other, other_store, tmp_path / "old").ok
    # both archives go on numbering on their own: each gives 档号 ...-00002 to another record
    theirs = archive_document(other, other_store, make_input("DOC-OTHER"))
    mine = archive_document(engine, store, make_input("DOC-2"))
    assert mine.archival_ref == theirs.archival_ref and mine.id != theirs.id
    backup(engine, store, tmp_path / "new")
    flip_a_byte(other_store, first.sha256)  # a second, unrelated difference

    s = restore(other, other_store, tmp_path / "new")  # no exception
    assert not s.ok
    assert sorted(f.kind for f in s.findings) == ["archival_ref_clash", "stored_copy_mismatch"]
    (clash,) = [f for f in s.findings if f.kind == "archival_ref_clash"]
    assert (clash.record_id, clash.archival_ref) == (mine.id, mine.archival_ref)
    assert clash.record_ids == (mine.id, theirs.id)
    assert clash.archival_refs == (mine.archival_ref, theirs.archival_ref)
    assert [(d.column, d.archive, d.backup) for d in clash.differences] == [
        ("id", theirs.id, mine.id)]
    assert mine.archival_ref in clash.detail and mine.id in clash.detail \
        and theirs.id in clash.detail
    assert clash.to_dict()["record_ids"] == [mine.id, theirs.id]
    # nothing written: not the clashing record, not its file
    assert record_ids(other) == {first.id, theirs.id}
    assert not other_store.exists(mine.sha256)
    assert sum(s.inserted.values()) == 0


def test_a_clash_alone_still_writes_nothing(engine, make_engine, store, make_input,
                                            tmp_path):
    mine = archive_document(engine, store, make_input("DOC-1"))
    other, other_store = make_engine(), FileContentStore(tmp_path / "other")
    theirs = archive_document(other, other_store, make_input("DOC-OTHER"))
    backup(engine, store, tmp_path / "bk")
    (f,) = restore(other, other_store, tmp_path / "bk").findings
    assert f.kind == "archival_ref_clash" and f.record_ids == (mine.id, theirs.id)
    assert record_ids(other) == {theirs.id}


def test_the_same_document_version_under_another_id_is_reported(engine, make_engine, store,
                                                                make_input, tmp_path):
    mine = archive_document(engine, store, make_input("DOC-1"))
    other, other_store = make_engine(), FileContentStore(tmp_path / "other")
    # another school code: another 档号, but the same document version
    theirs = archive_document(other, other_store, make_input("DOC-1", school_code="24680"))
    backup(engine, store, tmp_path / "bk")
    (f,) = restore(other, other_store, tmp_path / "bk").findings
    assert f.kind == "dedupe_key_clash"
    assert f.record_ids == (mine.id, theirs.id)
    assert f.archival_refs == (mine.archival_ref, theirs.archival_ref)
    assert record_ids(other) == {theirs.id}


def test_two_records_of_the_backup_sharing_an_archival_ref_are_reported(
        engine, make_engine, store, make_input, tmp_path):
    a = archive_document(engine, store, make_input("DOC-1"))
    b = archive_document(engine, store, make_input("DOC-2"))
    backup(engine, store, tmp_path / "bk")
    path = tmp_path / "bk" / "index" / "archive_records.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    rows = [{**r, "archival_ref": a.archival_ref} for r in rows]
    body = "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows)
    path.write_text(body, encoding="utf-8")
    manifest = json.loads((tmp_path / "bk" / "backup.json").read_text(encoding="utf-8"))
    manifest["tables"]["archive_records"]["sha256"] = hashlib.sha256(
        body.encode("utf-8")).hexdigest()
    (tmp_path / "bk" / "backup.json").write_text(json.dumps(manifest), encoding="utf-8")

    fresh, fresh_store = make_engine(), FileContentStore(tmp_path / "fresh")
    (f,) = restore(fresh, fresh_store, tmp_path / "bk").findings
    assert f.kind == "backup_inconsistent" and f.record_ids == (b.id, a.id)
    assert record_ids(fresh) == set()


# --------------------------------------------------------------------------- command line
def test_the_command_names_the_archival_ref_and_both_records(cli, tmp_path, monkeypatch,
                                                            make_input):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    made = {}
    for name in ("here", "there"):
        inst = tmp_path / name
        inst.mkdir()
        engine = make_engine(database_url(inst))
        install(engine)
        made[name] = archive_document(engine, FileContentStore(inst / "archive"),
                                      make_input(f"DOC-{name}"))
        engine.dispose()
    mine, theirs = made["here"], made["there"]
    runner = CliRunner()
    monkeypatch.setenv("DOC_SERVICE_INSTANCE", str(tmp_path / "here"))
    assert runner.invoke(cli, ["archive", "backup", "--out", str(tmp_path / "bk")]).exit_code == 0

    monkeypatch.setenv("DOC_SERVICE_INSTANCE", str(tmp_path / "there"))
    r = runner.invoke(cli, ["archive", "restore", str(tmp_path / "bk")])
    assert r.exit_code == 1, r.output
    assert "未恢复" in r.output
    assert mine.archival_ref in r.output and mine.id in r.output and theirs.id in r.output
    data = json.loads(runner.invoke(cli, ["archive", "restore", str(tmp_path / "bk"),
                                          "--json"]).output)
    assert not data["ok"]
    assert [(f["kind"], f["archival_ref"], f["record_ids"]) for f in data["findings"]] == [
        ("archival_ref_clash", mine.archival_ref, [mine.id, theirs.id])]
