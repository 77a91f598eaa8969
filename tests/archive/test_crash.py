"""A crash at every step of a write leaves either no record or a complete one, and the
start-up check reports what was left half-done, with nothing lost."""

from __future__ import annotations

import os
import stat

import pytest
from sqlalchemy import func, select

from archive.fixity import run_fixity
from archive.index import records
from archive.recovery import startup_check
from archive.service import archive_document, get_record, search

from .fakes import on_statement


class Crash(BaseException):
    """Stands for the process dying: ordinary ``except Exception`` clean-up does not run."""


def crash_at(monkeypatch, step, n):
    """Make the ``n``-th (1-based) write step named ``step`` raise :class:`Crash`.

    Steps of one file's write: ``fsync_file`` (data made durable), ``rename`` (named),
    ``fsync_dir`` (the name made durable); directory fsyncs after a new shard folder is made
    are not counted.
    """
    real_fsync, real_rename = os.fsync, os.rename
    seen = {"fsync_file": 0, "rename": 0, "fsync_dir": 0, "last": ""}

    def hit(label):
        seen[label] += 1
        seen["last"] = label
        if label == step and seen[label] == n:
            raise Crash(f"{label} #{n}")

    def fsync(fd):
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            if seen["last"] == "rename":
                hit("fsync_dir")
        else:
            hit("fsync_file")
        return real_fsync(fd)

    def rename(a, b):
        hit("rename")
        return real_rename(a, b)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "rename", rename)


# the final PDF is written first, then chain.json
STEPS = [
    ("fsync_file", 1, {"leftover_temp"}),         # data written, not yet durable
    ("rename", 1, {"leftover_temp"}),             # durable temp file, not yet named
    ("fsync_dir", 1, {"orphan_blob"}),            # named, name not yet durable
    ("fsync_file", 2, {"leftover_temp", "orphan_blob"}),  # PDF stored, chain not
    ("rename", 2, {"leftover_temp", "orphan_blob"}),
    ("fsync_dir", 2, {"orphan_blob"}),            # both stored, index not written
]


@pytest.mark.parametrize(("name", "n", "expected"), STEPS)
def test_crash_during_file_writes_is_reported(engine, store, make_input, monkeypatch,
                                              name, n, expected):
    before = archive_document(engine, store, make_input("EARLIER"))
    inp = make_input("NEW")
    crash_at(monkeypatch, name, n)
    with pytest.raises(Crash):
        archive_document(engine, store, inp)
    monkeypatch.undo()

    found = startup_check(engine, store)
    assert {p.kind for p in found} == expected
    assert [r.id for r in search(engine, student_no=inp.student_no)] == [before.id]  # no half
    assert get_record(engine, before.id) == before and run_fixity(engine, store).ok

    # nothing lost: archiving again completes and the orphan is taken up
    again = archive_document(engine, store, inp)
    assert store.get(again.sha256) == inp.final_pdf
    assert {p.kind for p in startup_check(engine, store)} <= {"leftover_temp"}


def test_crash_before_the_index_commit_leaves_only_orphans(engine, store, make_input):
    inp = make_input("NEW")

    def dies() -> None:
        raise Crash("killed before the index transaction")

    with on_statement(engine, "INSERT INTO archive_records", dies), pytest.raises(Crash):
        archive_document(engine, store, inp)
    problems = startup_check(engine, store)
    assert [p.kind for p in problems] == ["orphan_blob", "orphan_blob"]
    assert {p.sha256 for p in problems} == set(store.iter_all())
    with engine.connect() as c:
        assert c.execute(select(func.count()).select_from(records)).scalar() == 0
    archive_document(engine, store, inp)
    assert startup_check(engine, store) == []


def test_crash_inside_the_transaction_rolls_back_everything(engine, store, make_input):
    inp = make_input("NEW")

    def dies() -> None:
        raise Crash("killed mid-transaction")

    # after the record's and its files' rows were inserted, before the commit
    with on_statement(engine, "INSERT INTO archive_files", dies, after=True), \
            pytest.raises(Crash):
        archive_document(engine, store, inp)
    with engine.connect() as c:
        assert c.execute(select(func.count()).select_from(records)).scalar() == 0
    assert {p.kind for p in startup_check(engine, store)} == {"orphan_blob"}


def test_missing_and_changed_files_are_reported_at_start_up(engine, store, make_input):
    r = archive_document(engine, store, make_input())
    p = store.path_of(r.sha256)
    os.chmod(p, 0o644)
    p.write_bytes(p.read_bytes()[:-1])
    chain = store.path_of(r.files[1].sha256)
    os.chmod(chain, 0o644)
    chain.unlink()
    kinds = {(x.kind, x.record_id) for x in startup_check(engine, store)}
    assert kinds == {("size_mismatch", r.id), ("missing_file", r.id)}
