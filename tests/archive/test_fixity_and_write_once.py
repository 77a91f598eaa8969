"""Fixity finds changed and missing files; the database refuses to rewrite history."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from archive.fixity import run_fixity
from archive.recovery import startup_check
from archive.service import archive_document, log_access


def test_fixity_of_an_intact_archive(engine, store, make_input):
    for i in range(3):
        archive_document(engine, store, make_input(f"D{i}"))
    report = run_fixity(engine, store)
    assert report.ok and report.files_checked == 6 and report.bytes_read > 0


def test_flipped_byte_is_reported_by_fixity(engine, store, make_input):
    r = archive_document(engine, store, make_input())
    other = archive_document(engine, store, make_input("OTHER"))
    p = store.path_of(r.sha256)
    os.chmod(p, 0o644)
    data = bytearray(p.read_bytes())
    data[len(data) // 2] ^= 0x01
    p.write_bytes(bytes(data))
    report = run_fixity(engine, store)
    assert not report.ok
    assert [(f.sha256, f.problem, f.record_ids) for f in report.findings] == [
        (r.sha256, "changed", (r.id,))]
    assert report.changed and not report.missing
    assert other.sha256 not in {f.sha256 for f in report.findings}
    assert [p.kind for p in startup_check(engine, store, deep=True)] == ["hash_mismatch"]


def test_missing_file_is_reported_by_fixity(engine, store, make_input):
    r = archive_document(engine, store, make_input())
    store.path_of(r.sha256).unlink()
    report = run_fixity(engine, store)
    assert [(f.sha256, f.problem) for f in report.findings] == [(r.sha256, "missing")]


@pytest.mark.parametrize("statement", [
    "UPDATE archive_records SET student_name = 'x'",
    "DELETE FROM archive_records",
    "UPDATE archive_files SET sha256 = 'x'",
    "DELETE FROM archive_files",
    "UPDATE archive_access_log SET why = 'x'",
    "DELETE FROM archive_access_log",
])
def test_database_refuses_update_and_delete(engine, store, make_input, statement):
    r = archive_document(engine, store, make_input())
    log_access(engine, "a", "retrieve", "b", r.id)
    with pytest.raises(DBAPIError, match="write-once"):
        with engine.begin() as conn:
            conn.execute(text(statement))


def test_postgresql_refuses_truncate(engine, store, make_input):
    if engine.dialect.name != "postgresql":
        pytest.skip("TRUNCATE exists only on PostgreSQL")
    archive_document(engine, store, make_input())
    with pytest.raises(DBAPIError, match="write-once"):
        with engine.begin() as conn:
            conn.execute(text("TRUNCATE archive_access_log"))
