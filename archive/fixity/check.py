"""Fixity: re-hash every archived file, report what went missing or changed, and record the run.

SHA-256 is the fixity hash (and the blob's name, so the expected value needs no lookup).
Files stream through hashlib in 1 MiB chunks; hashlib releases the GIL on large updates, so a
small thread pool over files hashes on every core and overlaps reading with hashing. SM3 is
three times slower than SHA-256 here, so it is computed only for a file that failed, to record
what was found beside what was expected.

The audit trail. Every run is recorded, append-only, in the index's fixity tables
(:mod:`archive.index`). Before it hashes anything, a run commits its start in a transaction
of its own: one ``archive_fixity_run_starts`` row (id, start, who ran it). At its end it
writes, in one transaction, one ``archive_fixity_runs`` row under the same id (start, end,
who ran it, records, files and bytes checked) and one ``archive_fixity_failures`` row per
failed (record, file) with the expected and found SHA-256 and SM3. A start without a runs
row is an *unfinished* run (crashed, killed, or still going): the readers below list it,
with no end time, so an interrupted run is never silently lost. Runs recorded before starts
were (revision 0006) have a runs row only, and are finished.

Which records a run checked, without a row per record and run: records are never deleted, so
a run checks every record an earlier run checked, plus new ones. ``archive_fixity_coverage``
numbers each record once, when a run checks it for the first time (``seq`` = 1, 2, ...), and a
run records ``covers_through``: the largest ``n`` such that it checked every record numbered
``<= n``. A record's last check is then the latest run whose ``covers_through`` reaches the
record's number. Two overlapping runs can see different records; a run then claims only the
numbers it really checked (``covers_through`` stops before the first record it did not see),
never more. The numbers are assigned by the run (max + 1, ...), so two runs finishing at the
same moment collide on them and the later one reads the table again.

Reading the trail (``fixity_runs``, ``fixity_run``, ``fixity_failures``, ``record_fixity``,
``unfinished_before``) is in :mod:`archive.fixity.trail`; callers take both from
:mod:`archive.fixity`.
"""

from __future__ import annotations

import getpass
import os
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from ..errors import (
    ArchiveIndexError,
    ArchiveInputError,
    BlobNotFoundError,
    FixityInterruptedError,
    StoreError,
)
from ..hashing import both_hex
from ..index import files as files_table
from ..index import fixity_coverage as coverage_table
from ..index import fixity_failures as failures_table
from ..index import fixity_run_starts as starts_table
from ..index import fixity_runs as runs_table
from ..index import records as records_table
from ..model import FileRole, as_utc
from ..store import CHUNK, ContentStore, verify_blob
from .model import FixityFailure, FixityProblem, FixityRun

_RETRIES = 8
"""Attempts at recording a run when another run finished at the same moment."""

Clock = Callable[[], datetime]
"""Where a run takes its start and end times from (aware datetimes)."""


def utc_now() -> datetime:
    """The default :data:`Clock`: now, in UTC."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class FixityFinding:
    sha256: str
    problem: FixityProblem
    record_ids: tuple[str, ...]
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"sha256": self.sha256, "problem": self.problem.value,
                "record_ids": list(self.record_ids), "detail": self.detail}


@dataclass(frozen=True)
class FixityReport:
    """What was checked and what failed; ``ok`` only when every file hashed to its name."""

    files_checked: int
    bytes_read: int
    seconds: float
    findings: tuple[FixityFinding, ...] = field(default=())
    """One per failed file (blob), naming every record that holds it."""
    run: FixityRun | None = None
    """The run as recorded in the audit trail."""
    failures: tuple[FixityFailure, ...] = field(default=())
    """One per failed (record, file), as recorded, with expected and found hashes."""

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def records_checked(self) -> int:
        return self.run.records_checked if self.run else 0

    @property
    def missing(self) -> list[FixityFinding]:
        return [f for f in self.findings if f.problem == FixityProblem.MISSING]

    @property
    def changed(self) -> list[FixityFinding]:
        return [f for f in self.findings if f.problem != FixityProblem.MISSING]

    @property
    def mb_per_s(self) -> float:
        return self.bytes_read / 1e6 / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "files_checked": self.files_checked,
                "records_checked": self.records_checked,
                "bytes_read": self.bytes_read, "seconds": round(self.seconds, 3),
                "mb_per_s": round(self.mb_per_s, 1),
                "findings": [f.to_dict() for f in self.findings],
                "run": self.run.to_dict() if self.run else None,
                "failures": [f.to_dict() for f in self.failures]}


BadBlob = tuple[str, FixityProblem, str]
"""A blob that failed its check: (SHA-256, problem, detail)."""


def _check_one(store: ContentStore, sha: str) -> tuple[str, FixityProblem | None, int, str]:
    try:
        same, n = verify_blob(store, sha)
    except BlobNotFoundError:
        return sha, FixityProblem.MISSING, 0, ""
    except StoreError as e:
        return sha, FixityProblem.UNREADABLE, 0, str(e)
    return sha, None if same else FixityProblem.CHANGED, n, ""


def check_blobs(store: ContentStore, shas: Iterable[str], *,
                workers: int | None = None) -> tuple[list[BadBlob], int, int]:
    """Re-hash ``shas``; return ([(sha, problem, detail)], files checked, bytes read)."""
    bad: list[BadBlob] = []
    total = count = 0
    workers = workers or min(8, (os.cpu_count() or 1) + 1)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for sha, problem, n, detail in pool.map(lambda s: _check_one(store, s), shas,
                                                chunksize=16):
            count += 1
            total += n
            if problem:
                bad.append((sha, problem, detail))
    return bad, count, total


@dataclass(frozen=True)
class _Snapshot:
    """The index as a run read it: who holds each file, and when each record was archived."""

    owners: dict[str, list[str]]
    """SHA-256 -> ids of the records holding that file."""
    archived_at: dict[str, datetime]
    """Record id -> when it was archived, for every record with files."""


def _snapshot(engine: Engine) -> _Snapshot:
    """Every file the index names (only what the check needs: a run reads them all)."""
    f, r = files_table, records_table
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(f.c.sha256, f.c.record_id, r.c.created_at)
                                .join(r, r.c.id == f.c.record_id)).all()
    except SQLAlchemyError as e:
        raise ArchiveIndexError(f"cannot read the archive index: {e}") from e
    owners: dict[str, dict[str, None]] = {}  # dicts as ordered sets
    archived_at: dict[str, datetime] = {}
    for sha, record_id, created_at in rows:
        owners.setdefault(sha, {})[record_id] = None
        if record_id not in archived_at:
            archived_at[record_id] = as_utc(created_at)
    return _Snapshot({sha: list(held) for sha, held in owners.items()}, archived_at)


def _found(store: ContentStore, sha: str) -> tuple[str | None, str | None, int | None, str]:
    """SHA-256, SM3 and size of what the store holds under ``sha`` now (``None`` if none)."""
    try:
        with store.open(sha) as f:
            s, m, n = both_hex(iter(lambda: f.read(CHUNK), b""))
    except BlobNotFoundError:
        return None, None, None, ""
    except (StoreError, OSError) as e:
        return None, None, None, str(e)
    return s, m, n, ""


def _failures(engine: Engine, store: ContentStore, run_id: str, snap: _Snapshot,
              bad: Sequence[BadBlob]) -> list[FixityFailure]:
    """One failure per (record, file) holding a bad blob, with expected and found hashes."""
    if not bad:
        return []
    f, r = files_table, records_table
    entries: dict[str, list[Any]] = {}
    shas = [sha for sha, _, _ in bad]
    try:
        with engine.connect() as conn:
            for i in range(0, len(shas), 500):
                for row in conn.execute(
                        select(f.c.sha256, f.c.record_id, r.c.archival_ref, f.c.position,
                               f.c.role, f.c.sm3, f.c.size)
                        .join(r, r.c.id == f.c.record_id)
                        .where(f.c.sha256.in_(shas[i:i + 500]))):
                    entries.setdefault(row.sha256, []).append(row)
    except SQLAlchemyError as e:
        raise ArchiveIndexError(f"cannot read the archive index: {e}") from e
    out = []
    for sha, problem, detail in bad:
        found_sha = found_sm3 = None
        found_size = None
        if problem != FixityProblem.MISSING:
            found_sha, found_sm3, found_size, again = _found(store, sha)
            detail = detail or again
        for held in entries.get(sha, ()):
            if held.record_id not in snap.archived_at:
                continue  # archived after this run read the index: not checked by it
            out.append(FixityFailure(
                run_id=run_id, record_id=held.record_id, archival_ref=held.archival_ref,
                position=held.position, role=FileRole(held.role), problem=problem,
                expected_sha256=sha, expected_sm3=held.sm3, expected_size=held.size,
                found_sha256=found_sha, found_sm3=found_sm3, found_size=found_size,
                detail=detail))
    out.sort(key=lambda x: (x.archival_ref, x.position))
    return out


def _coverage_rows(conn: Connection, run_id: str,
                   checked: dict[str, datetime]) -> tuple[int, list[dict[str, Any]]]:
    """(``covers_through``, coverage rows to add) for a run that checked ``checked``.

    ``checked`` maps each record checked to when it was archived: new records are numbered
    in that order, so a run that missed the newest records still claims the older ones.
    """
    top = through = 0
    gap = False
    known: set[str] = set()
    for seq, record_id in conn.execute(select(coverage_table.c.seq, coverage_table.c.record_id)
                                       .order_by(coverage_table.c.seq)):
        known.add(record_id)
        top = seq
        if not gap and record_id in checked:
            through = seq
        else:
            gap = True  # an overlapping run saw a record this one did not: claim no further
    new = sorted(checked.keys() - known, key=lambda rid: (checked[rid], rid))
    rows = [{"seq": top + 1 + i, "record_id": rid, "run_id": run_id}
            for i, rid in enumerate(new)]
    return (through if gap else top + len(new)), rows


def _record_run(engine: Engine, run: FixityRun, failures: Sequence[FixityFailure],
                checked: dict[str, datetime]) -> FixityRun:
    """Insert the run, its coverage and its failures in one transaction; return the run."""
    last: Exception | None = None
    for _ in range(_RETRIES):
        try:
            with engine.begin() as conn:
                covers, new_rows = _coverage_rows(conn, run.id, checked)
                stored = replace(run, covers_through=covers)
                conn.execute(insert(runs_table).values(
                    id=stored.id, started_at=stored.started_at, ended_at=stored.ended_at,
                    run_by=stored.run_by, records_checked=stored.records_checked,
                    files_checked=stored.files_checked, bytes_checked=stored.bytes_checked,
                    failures=stored.failures, covers_through=stored.covers_through))
                if new_rows:
                    conn.execute(insert(coverage_table), new_rows)
                if failures:
                    conn.execute(insert(failures_table), [_failure_row(f) for f in failures])
            return stored
        except IntegrityError as e:
            last = e  # another run took the same coverage numbers: read them again
        except SQLAlchemyError as e:
            raise ArchiveIndexError(f"cannot record the fixity run: {e}") from e
    raise ArchiveIndexError(f"cannot record the fixity run: {last}") from last


def _failure_row(f: FixityFailure) -> dict[str, Any]:
    return {"run_id": f.run_id, "record_id": f.record_id, "archival_ref": f.archival_ref,
            "position": f.position, "role": f.role.value, "problem": f.problem.value,
            "expected_sha256": f.expected_sha256, "expected_sm3": f.expected_sm3,
            "expected_size": f.expected_size, "found_sha256": f.found_sha256,
            "found_sm3": f.found_sm3, "found_size": f.found_size, "detail": f.detail}


def _default_runner() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return f"uid {os.getuid()}" if hasattr(os, "getuid") else "unknown"


def _record_start(engine: Engine, run: FixityRun) -> None:
    """Commit the run's start on its own, so the trail keeps the run even if it never ends."""
    try:
        with engine.begin() as conn:
            conn.execute(insert(starts_table).values(
                id=run.id, started_at=run.started_at, run_by=run.run_by))
    except SQLAlchemyError as e:
        raise ArchiveIndexError(f"cannot record the start of the fixity run: {e}") from e


def run_fixity(engine: Engine, store: ContentStore, *, run_by: str | None = None,
               workers: int | None = None, clock: Clock = utc_now) -> FixityReport:
    """Re-hash every file the index names (each distinct blob once) and record the run.

    ``run_by`` is who ran it: the user at the command line, or
    :data:`~archive.fixity.model.SCHEDULED`; by default the operating-system user of this
    process. ``clock`` gives the run's start and end times. The start is committed before
    anything is hashed. Raises :class:`ArchiveIndexError` if the start cannot be recorded;
    any failure after that is raised as :class:`FixityInterruptedError` naming the run,
    which the trail shows unfinished.
    """
    who = (_default_runner() if run_by is None else run_by).strip()
    if not who:
        raise ArchiveInputError("a fixity run needs the name of who ran it")
    begun = FixityRun(id=uuid.uuid4().hex, started_at=clock(), ended_at=None,
                      run_by=who[:100], records_checked=0, files_checked=0, bytes_checked=0,
                      failures=0, covers_through=0)
    _record_start(engine, begun)
    try:
        return _check_and_record(engine, store, begun, workers, clock)
    except Exception as e:
        raise FixityInterruptedError(
            f"fixity run {begun.id} did not finish (its start is recorded, its end is "
            f"not): {type(e).__name__}: {e}", begun) from e


def _check_and_record(engine: Engine, store: ContentStore, begun: FixityRun,
                      workers: int | None, clock: Clock) -> FixityReport:
    """The run proper, after its start is recorded: read the index, hash, record the end."""
    run_id, started, who = begun.id, begun.started_at, begun.run_by
    snap = _snapshot(engine)
    start = time.perf_counter()
    bad, count, total = check_blobs(store, sorted(snap.owners), workers=workers)
    seconds = time.perf_counter() - start
    findings = tuple(FixityFinding(sha, problem, tuple(snap.owners[sha]), detail)
                     for sha, problem, detail in bad)
    failures = _failures(engine, store, run_id, snap, bad)
    run = FixityRun(id=run_id, started_at=started, ended_at=clock(),
                    run_by=who, records_checked=len(snap.archived_at), files_checked=count,
                    bytes_checked=total, failures=len(failures), covers_through=0)
    run = _record_run(engine, run, failures, snap.archived_at)
    return FixityReport(count, total, seconds, findings, run, tuple(failures))
