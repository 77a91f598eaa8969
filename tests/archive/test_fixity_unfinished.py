"""A fixity run commits its start before it hashes, so a run that crashes half-way is still in
the trail: listed as unfinished (no end time, no result), never silently lost."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, OperationalError

from archive.errors import ArchiveIndexError, FixityInterruptedError
from archive.fixity import (
    SCHEDULED,
    fixity_failures,
    fixity_run,
    fixity_runs,
    record_fixity,
    run_fixity,
    unfinished_before,
)
from archive.service import archive_document

from .fakes import BeforeFirstRead, DyingDisk, on_statement


def crash_while_hashing(engine, store, run_by: str = SCHEDULED):
    """Run fixity on a disk that fails as it is read; return the run the error names."""
    with pytest.raises(FixityInterruptedError) as caught:
        run_fixity(engine, DyingDisk(store), run_by=run_by)
    assert isinstance(caught.value.__cause__, RuntimeError)
    assert caught.value.run.id in str(caught.value)
    return caught.value.run


def test_a_run_that_crashes_after_its_start_is_listed_unfinished(engine, store, make_input):
    record = archive_document(engine, store, make_input())
    crashed = crash_while_hashing(engine, store)
    [listed] = fixity_runs(engine)
    assert listed == crashed == fixity_run(engine, crashed.id)
    assert listed.ended_at is None and not listed.finished and not listed.ok
    assert listed.run_by == SCHEDULED and listed.scheduled
    assert (listed.records_checked, listed.files_checked, listed.failures) == (0, 0, 0)
    assert listed.to_dict()["ended_at"] is None and listed.to_dict()["finished"] is False
    assert fixity_failures(engine, crashed.id) == []
    trail = record_fixity(engine, record.id)  # an unfinished run checked nothing
    assert not trail.checked and trail.unfinished == (crashed,)


def test_a_normal_run_is_finished_and_names_the_unfinished_before_it(engine, store, make_input):
    record = archive_document(engine, store, make_input())
    first = run_fixity(engine, store, run_by="wang").run
    crashed = crash_while_hashing(engine, store)
    second = run_fixity(engine, store, run_by="wang").run
    assert first.finished and second.finished and second.ok and second.ended_at is not None
    assert [r.id for r in fixity_runs(engine)] == [second.id, crashed.id, first.id]
    assert [r.finished for r in fixity_runs(engine)] == [True, False, True]
    assert [r.id for r in fixity_runs(engine, limit=1, offset=1)] == [crashed.id]
    assert unfinished_before(engine, second) == [crashed]
    assert unfinished_before(engine, first) == []
    third = run_fixity(engine, store, run_by="wang").run
    assert unfinished_before(engine, third) == []  # a finished run came in between
    trail = record_fixity(engine, record.id)
    assert trail.last_run == third and trail.unfinished == ()


def test_the_record_page_data_names_runs_that_never_finished_after_its_last_check(
        engine, store, make_input):
    record = archive_document(engine, store, make_input())
    checked = run_fixity(engine, store, run_by="wang").run
    crashed = crash_while_hashing(engine, store)
    trail = record_fixity(engine, record.id)
    assert trail.last_run == checked and trail.ok and trail.unfinished == (crashed,)
    assert trail.to_dict()["unfinished"][0]["id"] == crashed.id
    later = archive_document(engine, store, make_input("LATER"))  # archived after the crash
    assert record_fixity(engine, later.id).unfinished == ()


def test_the_start_is_committed_before_anything_is_hashed(engine, store, make_input):
    archive_document(engine, store, make_input())
    seen = []

    def look() -> None:
        seen.extend(fixity_runs(engine))  # another connection: only committed rows

    run = run_fixity(engine, BeforeFirstRead(store, look), run_by="wang").run
    assert [(r.id, r.finished) for r in seen] == [(run.id, False)]
    assert fixity_run(engine, run.id) == run and run.finished


def test_a_crash_while_recording_the_end_leaves_the_run_unfinished(engine, store, make_input):
    record = archive_document(engine, store, make_input())

    def database_goes_away() -> None:
        raise OperationalError("INSERT INTO archive_fixity_runs", {},
                               Exception("the database went away"))

    with on_statement(engine, "INSERT INTO archive_fixity_runs", database_goes_away):
        with pytest.raises(FixityInterruptedError) as caught:
            run_fixity(engine, store, run_by="wang")
    assert isinstance(caught.value.__cause__, ArchiveIndexError)
    [run] = fixity_runs(engine)
    assert run.id == caught.value.run.id and not run.finished
    assert not record_fixity(engine, record.id).checked


def test_a_run_recorded_before_starts_were_counts_as_finished(engine):
    """A run from before revision 0006 has its runs row and no start row."""
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO archive_fixity_runs (id, started_at, ended_at, run_by, "
            "records_checked, files_checked, bytes_checked, failures, covers_through) "
            "VALUES ('old', '2026-01-01 00:00:00', '2026-01-01 00:01:00', 'scheduled', "
            "0, 0, 0, 0, 0)"))
    [run] = fixity_runs(engine)
    assert run == fixity_run(engine, "old")
    assert run.finished and run.ok and run.ended_at is not None


@pytest.mark.parametrize("statement", [
    "UPDATE archive_fixity_run_starts SET run_by = 'x'",
    "UPDATE archive_fixity_run_starts SET started_at = started_at",
    "DELETE FROM archive_fixity_run_starts",
])
def test_starts_cannot_be_updated_or_deleted(engine, store, make_input, statement):
    archive_document(engine, store, make_input())
    crashed = crash_while_hashing(engine, store)
    with pytest.raises(DBAPIError, match="write-once"):
        with engine.begin() as conn:
            conn.execute(text(statement))
    assert fixity_runs(engine) == [crashed]


def test_postgresql_refuses_truncating_the_starts(engine, store, make_input):
    if engine.dialect.name != "postgresql":
        pytest.skip("TRUNCATE exists only on PostgreSQL")
    archive_document(engine, store, make_input())
    crash_while_hashing(engine, store)
    with pytest.raises(DBAPIError, match="write-once"):
        with engine.begin() as conn:
            conn.execute(text("TRUNCATE archive_fixity_run_starts"))
