"""Every fixity run is recorded, write-once: when, by whom, what it checked, what failed."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives import hashes
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from archive.errors import ArchiveInputError
from archive.fixity import (
    SCHEDULED,
    FixityProblem,
    fixity_failures,
    fixity_run,
    fixity_runs,
    record_fixity,
    run_fixity,
)
from archive.model import FileRole
from archive.service import archive_document

from .conftest import flip_a_byte
from .fakes import BeforeFirstRead, fixed_clock, on_statement


def sm3(data: bytes) -> str:
    h = hashes.Hash(hashes.SM3())
    h.update(data)
    return h.finalize().hex()




def test_a_clean_run_is_recorded(engine, store, make_input):
    records = [archive_document(engine, store, make_input(f"D{i}")) for i in range(3)]
    before = datetime.now(UTC)
    report = run_fixity(engine, store, run_by="wang")
    assert report.ok and report.run is not None and report.failures == ()
    [run] = fixity_runs(engine)
    assert run == report.run == fixity_run(engine, run.id)
    assert run.run_by == "wang" and not run.scheduled and run.ok
    assert (run.records_checked, run.files_checked, run.failures) == (3, 6, 0)
    assert run.bytes_checked == report.bytes_read > 0
    assert before <= run.started_at <= run.ended_at <= datetime.now(UTC)
    for r in records:
        trail = record_fixity(engine, r.id)
        assert trail.checked and trail.ok and trail.last_run == run
        assert trail.first_run_id == run.id and trail.failures == ()
    assert fixity_failures(engine, run.id) == []


def test_a_flipped_byte_is_recorded_with_both_hashes(engine, store, make_input):
    r = archive_document(engine, store, make_input())
    other = archive_document(engine, store, make_input("OTHER"))
    data = flip_a_byte(store, r.sha256)
    report = run_fixity(engine, store, run_by=SCHEDULED)
    assert not report.ok and report.run.failures == 1 and report.run.scheduled
    [failure] = fixity_failures(engine, report.run.id)
    assert failure == report.failures[0]
    assert (failure.record_id, failure.archival_ref, failure.position, failure.role,
            failure.problem) == (r.id, r.archival_ref, 0, FileRole.FINAL_PDF,
                                 FixityProblem.CHANGED)
    assert (failure.expected_sha256, failure.expected_sm3, failure.expected_size) == (
        r.sha256, r.sm3, r.size)
    assert (failure.found_sha256, failure.found_sm3, failure.found_size) == (
        hashlib.sha256(data).hexdigest(), sm3(data), len(data))
    assert failure.found_sha256 != failure.expected_sha256
    assert failure.found_sm3 != failure.expected_sm3
    trail = record_fixity(engine, r.id)
    assert trail.last_run == report.run and not trail.ok and trail.failures == (failure,)
    assert record_fixity(engine, other.id).ok
    assert report.to_dict()["failures"][0]["found"]["sm3"] == sm3(data)


def test_a_missing_file_is_recorded_without_found_hashes(engine, store, make_input):
    r = archive_document(engine, store, make_input())
    chain = r.file(FileRole.CHAIN_JSON)
    store.path_of(chain.sha256).unlink()
    report = run_fixity(engine, store, run_by="wang")
    [failure] = fixity_failures(engine, report.run.id)
    assert (failure.position, failure.role, failure.problem) == (1, FileRole.CHAIN_JSON,
                                                                 FixityProblem.MISSING)
    assert (failure.expected_sha256, failure.expected_sm3) == (chain.sha256, chain.sm3)
    assert (failure.found_sha256, failure.found_sm3, failure.found_size) == (None, None, None)


def test_a_damaged_file_of_two_records_fails_both(engine, store, make_input):
    pdf = make_input("A").final_pdf
    a = archive_document(engine, store, make_input("A"))
    b = archive_document(engine, store, make_input("B", final_pdf=pdf))
    flip_a_byte(store, a.sha256)
    report = run_fixity(engine, store, run_by="wang")
    assert len(report.findings) == 1 and report.run.failures == 2
    assert sorted(f.record_id for f in fixity_failures(engine, report.run.id)) == sorted(
        [a.id, b.id])


def test_a_record_is_checked_only_by_runs_that_saw_it(engine, store, make_input):
    old = archive_document(engine, store, make_input("OLD"))
    first = run_fixity(engine, store, run_by="wang").run
    # archived after the run, although dated years before it (as a restore does)
    late = archive_document(engine, store, make_input("LATE"),
                            now=datetime(2020, 1, 1, tzinfo=UTC))
    assert not record_fixity(engine, late.id).checked
    second = run_fixity(engine, store, run_by=SCHEDULED).run
    assert record_fixity(engine, old.id).last_run == second
    assert record_fixity(engine, old.id).first_run_id == first.id
    assert record_fixity(engine, late.id).last_run == second
    assert [r.id for r in fixity_runs(engine)] == [second.id, first.id]


def test_an_overlapping_run_claims_only_what_it_checked(engine, store, make_input):
    a = archive_document(engine, store, make_input("A"), now=datetime(2024, 9, 1, tzinfo=UTC))
    made: dict[str, object] = {}

    def meanwhile() -> None:
        """B is archived after ``partial`` read the index, and a full run starts (by its
        clock: ``partial``'s says later) and finishes before ``partial`` does."""
        made["b"] = archive_document(engine, store, make_input("B"),
                                     now=datetime(2024, 9, 2, tzinfo=UTC))
        made["full"] = run_fixity(engine, store, run_by="wang",
                                  clock=fixed_clock(datetime(2024, 9, 3, tzinfo=UTC))).run

    partial = run_fixity(engine, BeforeFirstRead(store, meanwhile), run_by="wang",
                         clock=fixed_clock(datetime(2024, 9, 4, tzinfo=UTC))).run
    b, full = made["b"], made["full"]
    assert partial.records_checked == 1 and partial.started_at > full.started_at
    assert record_fixity(engine, a.id).last_run == partial
    assert record_fixity(engine, b.id).last_run == full


COVERAGE_READ = "SELECT archive_fixity_coverage.seq, archive_fixity_coverage.record_id"
"""How a run reads the first-check numbers before it records its end."""


def test_two_runs_finishing_at_once_both_record(engine, store, make_input):
    records = [archive_document(engine, store, make_input(f"D{i}")) for i in range(3)]
    whose = ["mine"]
    reads: list[str] = []  # whose run read the first-check numbers, in order
    other_ids: list[str] = []

    def another_run_finishes() -> None:
        # between this run's read of the numbers and its write, the other run commits
        whose[0] = "other"
        other_ids.append(run_fixity(engine, store, run_by="other").run.id)
        whose[0] = "mine"

    with on_statement(engine, COVERAGE_READ, lambda: reads.append(whose[0]), times=10), \
            on_statement(engine, "INSERT INTO archive_fixity_runs", another_run_finishes):
        mine = run_fixity(engine, store, run_by="wang").run
    [other] = other_ids
    assert reads == ["mine", "other", "mine"]  # mine read the numbers again
    assert {r.id for r in fixity_runs(engine)} == {mine.id, other}
    assert mine.covers_through == fixity_run(engine, other).covers_through == 3
    for r in records:  # both checked every record; the other run started last
        assert record_fixity(engine, r.id).first_run_id == other
        assert record_fixity(engine, r.id).last_run == fixity_run(engine, other)


def test_a_run_needs_someone_who_ran_it(engine, store):
    with pytest.raises(ArchiveInputError):
        run_fixity(engine, store, run_by="  ")
    assert fixity_runs(engine) == []


@pytest.mark.parametrize("statement", [
    "UPDATE archive_fixity_runs SET failures = 0",
    "UPDATE archive_fixity_runs SET run_by = 'x'",
    "DELETE FROM archive_fixity_runs",
    "UPDATE archive_fixity_failures SET found_sha256 = expected_sha256",
    "DELETE FROM archive_fixity_failures",
    "UPDATE archive_fixity_coverage SET seq = seq + 100",
    "DELETE FROM archive_fixity_coverage",
])
def test_the_trail_cannot_be_updated_or_deleted(engine, store, make_input, statement):
    r = archive_document(engine, store, make_input())
    flip_a_byte(store, r.sha256)
    run_fixity(engine, store, run_by="wang")
    with pytest.raises(DBAPIError, match="write-once"):
        with engine.begin() as conn:
            conn.execute(text(statement))
    [run] = fixity_runs(engine)
    assert run.failures == 1 and len(fixity_failures(engine, run.id)) == 1


@pytest.mark.parametrize("table", ["archive_fixity_runs", "archive_fixity_failures",
                                   "archive_fixity_coverage"])
def test_postgresql_refuses_truncating_the_trail(engine, store, make_input, table):
    if engine.dialect.name != "postgresql":
        pytest.skip("TRUNCATE exists only on PostgreSQL")
    archive_document(engine, store, make_input())
    run_fixity(engine, store, run_by="wang")
    with pytest.raises(DBAPIError, match="write-once"):
        with engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {table} CASCADE"))
