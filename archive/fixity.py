"""Fixity: re-hash every archived file, report what went missing or changed, and record the run.

SHA-256 is the fixity hash (and the blob's name, so the expected value needs no lookup).
Files stream through hashlib in 1 MiB chunks; hashlib releases the GIL on large updates, so a
small thread pool over files hashes on every core and overlaps reading with hashing. SM3 is
three times slower than SHA-256 here, so it is computed only for a file that failed, to record
what was found beside what was expected.

The audit trail. Every run is recorded, append-only, in the index's fixity tables
(:mod:`archive.index`): one ``archive_fixity_runs`` row (start, end, who ran it, records,
files and bytes checked), one ``archive_fixity_failures`` row per failed (record, file) with
the expected and found SHA-256 and SM3, written in one transaction at the end of the run.

Which records a run checked, without a row per record and run: records are never deleted, so
a run checks every record an earlier run checked, plus new ones. ``archive_fixity_coverage``
numbers each record once, when a run checks it for the first time (``seq`` = 1, 2, ...), and a
run records ``covers_through``: the largest ``n`` such that it checked every record numbered
``<= n``. A record's last check is then the latest run whose ``covers_through`` reaches the
record's number. Two overlapping runs can see different records; a run then claims only the
numbers it really checked (``covers_through`` stops before the first record it did not see),
never more. The numbers are assigned by the run (max + 1, ...), so two runs finishing at the
same moment collide on them and the later one reads the table again.
"""

from __future__ import annotations

import getpass
import os
import time
import uuid
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from .errors import ArchiveIndexError, ArchiveInputError, BlobNotFoundError, StoreError
from .hashing import both_hex
from .index import files as files_table
from .index import fixity_coverage as coverage_table
from .index import fixity_failures as failures_table
from .index import fixity_runs as runs_table
from .index import records as records_table
from .model import (
    FileRole,
    FixityFailure,
    FixityProblem,
    FixityRun,
    RecordFixity,
    as_utc,
)
from .store import CHUNK, ContentStore, verify_blob

_RETRIES = 8
"""Attempts at recording a run when another run finished at the same moment."""


@dataclass(frozen=True)
class FixityFinding:
    sha256: str
    problem: str
    """``missing``, ``changed`` or ``unreadable``."""
    record_ids: tuple[str, ...]
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"sha256": self.sha256, "problem": self.problem,
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
        return [f for f in self.findings if f.problem == "missing"]

    @property
    def changed(self) -> list[FixityFinding]:
        return [f for f in self.findings if f.problem != "missing"]

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


def _check_one(store: ContentStore, sha: str) -> tuple[str, str | None, int, str]:
    try:
        same, n = verify_blob(store, sha)
    except BlobNotFoundError:
        return sha, "missing", 0, ""
    except StoreError as e:
        return sha, "unreadable", 0, str(e)
    return sha, None if same else "changed", n, ""


def check_blobs(store: ContentStore, shas: Iterable[str], *,
                workers: int | None = None) -> tuple[list[tuple[str, str, str]], int, int]:
    """Re-hash ``shas``; return ([(sha, problem, detail)], files checked, bytes read)."""
    bad: list[tuple[str, str, str]] = []
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
              bad: Sequence[tuple[str, str, str]]) -> list[FixityFailure]:
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
                position=held.position, role=FileRole(held.role), problem=FixityProblem(problem),
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


def run_fixity(engine: Engine, store: ContentStore, *, run_by: str | None = None,
               workers: int | None = None) -> FixityReport:
    """Re-hash every file the index names (each distinct blob once) and record the run.

    ``run_by`` is who ran it: the user at the command line, or
    :data:`archive.model.SCHEDULED`; by default the operating-system user of this process.
    Raises :class:`ArchiveIndexError` if the index cannot be read or the run not recorded.
    """
    who = (_default_runner() if run_by is None else run_by).strip()
    if not who:
        raise ArchiveInputError("a fixity run needs the name of who ran it")
    run_id = uuid.uuid4().hex
    started = datetime.now(UTC)
    snap = _snapshot(engine)
    start = time.perf_counter()
    bad, count, total = check_blobs(store, sorted(snap.owners), workers=workers)
    seconds = time.perf_counter() - start
    findings = tuple(FixityFinding(sha, problem, tuple(snap.owners[sha]), detail)
                     for sha, problem, detail in bad)
    failures = _failures(engine, store, run_id, snap, bad)
    run = FixityRun(id=run_id, started_at=started, ended_at=datetime.now(UTC),
                    run_by=who[:100], records_checked=len(snap.archived_at), files_checked=count,
                    bytes_checked=total, failures=len(failures), covers_through=0)
    run = _record_run(engine, run, failures, snap.archived_at)
    return FixityReport(count, total, seconds, findings, run, tuple(failures))


# ====================================================================== reading the trail
def _to_run(row: Any) -> FixityRun:
    m = row._mapping
    return FixityRun(id=m["id"], started_at=as_utc(m["started_at"]),
                     ended_at=as_utc(m["ended_at"]), run_by=m["run_by"],
                     records_checked=m["records_checked"], files_checked=m["files_checked"],
                     bytes_checked=m["bytes_checked"], failures=m["failures"],
                     covers_through=m["covers_through"])


def _to_failure(row: Any) -> FixityFailure:
    m = row._mapping
    return FixityFailure(
        run_id=m["run_id"], record_id=m["record_id"], archival_ref=m["archival_ref"],
        position=m["position"], role=FileRole(m["role"]), problem=FixityProblem(m["problem"]),
        expected_sha256=m["expected_sha256"], expected_sm3=m["expected_sm3"],
        expected_size=m["expected_size"], found_sha256=m["found_sha256"],
        found_sm3=m["found_sm3"], found_size=m["found_size"], detail=m["detail"])


def fixity_runs(engine: Engine, *, limit: int = 20, offset: int = 0) -> list[FixityRun]:
    """The recorded runs, newest first."""
    q = (select(runs_table).order_by(runs_table.c.started_at.desc(), runs_table.c.id)
         .limit(max(1, min(int(limit), 1000))).offset(max(0, int(offset))))
    try:
        with engine.connect() as conn:
            return [_to_run(r) for r in conn.execute(q)]
    except SQLAlchemyError as e:
        raise ArchiveIndexError(f"cannot read the fixity runs: {e}") from e


def fixity_run(engine: Engine, run_id: str) -> FixityRun | None:
    """One recorded run, or ``None``."""
    try:
        with engine.connect() as conn:
            row = conn.execute(select(runs_table).where(runs_table.c.id == run_id)).first()
    except SQLAlchemyError as e:
        raise ArchiveIndexError(f"cannot read the fixity runs: {e}") from e
    return _to_run(row) if row is not None else None


def fixity_failures(engine: Engine, run_id: str, *,
                    college: str | None = None) -> list[FixityFailure]:
    """A run's failures by 档号 and file; only those of ``college``'s records if given."""
    t = failures_table
    q = select(t).where(t.c.run_id == run_id)
    if college is not None:
        q = q.join(records_table, records_table.c.id == t.c.record_id).where(
            records_table.c.college == college)
    try:
        with engine.connect() as conn:
            return [_to_failure(r) for r in conn.execute(
                q.order_by(t.c.archival_ref, t.c.position))]
    except SQLAlchemyError as e:
        raise ArchiveIndexError(f"cannot read the fixity failures: {e}") from e


def record_fixity(engine: Engine, record_id: str, *, history: int = 20) -> RecordFixity:
    """When the record's files were last checked by a recorded run, and the result then.

    Also the record's failures in earlier runs (up to ``history``, newest first), so a file
    found damaged once and restored later still shows it.
    """
    c, r, f = coverage_table, runs_table, failures_table
    try:
        with engine.connect() as conn:
            cov = conn.execute(select(c.c.seq, c.c.run_id)
                               .where(c.c.record_id == record_id)).first()
            if cov is None:
                return RecordFixity(record_id, None)
            row = conn.execute(select(r).where(r.c.covers_through >= cov.seq)
                               .order_by(r.c.started_at.desc(), r.c.id).limit(1)).first()
            rows = conn.execute(
                select(f, r).join(r, r.c.id == f.c.run_id).where(f.c.record_id == record_id)
                .order_by(r.c.started_at.desc(), r.c.id, f.c.position)).all()
    except SQLAlchemyError as e:
        raise ArchiveIndexError(f"cannot read the fixity runs: {e}") from e
    last = _to_run(row) if row is not None else None
    if rows:
        # a run that found this record's file damaged checked it, whatever its coverage says
        # (an overlapping run may claim less than it checked)
        failed = _to_run(rows[0])
        if last is None or failed.started_at > last.started_at:
            last = failed
    found = [_to_failure(x) for x in rows]
    now = tuple(x for x in found if last is not None and x.run_id == last.id)
    earlier = tuple(x for x in found if last is None or x.run_id != last.id)[:history]
    return RecordFixity(record_id, last, now, cov.run_id, earlier)
