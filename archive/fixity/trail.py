"""Reading the fixity audit trail: the runs (finished or not), their failures, and when each
record's files were last checked.

The tables and how runs write them are described in :mod:`archive.fixity.check`. In short:
a run's start (``archive_fixity_run_starts``) is committed before it hashes, its end
(``archive_fixity_runs``, same id) with its failures and coverage when it finishes; a start
without an end is an unfinished run, listed here with ``ended_at=None``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    DateTime,
    Engine,
    Select,
    cast,
    exists,
    literal_column,
    null,
    select,
    union_all,
)
from sqlalchemy.exc import SQLAlchemyError

from ..errors import ArchiveIndexError
from ..index import fixity_coverage as coverage_table
from ..index import fixity_failures as failures_table
from ..index import fixity_run_starts as starts_table
from ..index import fixity_runs as runs_table
from ..index import records as records_table
from ..model import FileRole, as_utc
from .model import FixityFailure, FixityProblem, FixityRun, RecordFixity


def _to_run(row: Any) -> FixityRun:
    """A runs row (or an unfinished start shaped like one) as the model's run."""
    m = row._mapping
    ended = m["ended_at"]
    return FixityRun(id=m["id"], started_at=as_utc(m["started_at"]),
                     ended_at=as_utc(ended) if ended is not None else None, run_by=m["run_by"],
                     records_checked=m["records_checked"], files_checked=m["files_checked"],
                     bytes_checked=m["bytes_checked"], failures=m["failures"],
                     covers_through=m["covers_through"])


_RUN_COLUMNS = ("id", "started_at", "ended_at", "run_by", "records_checked", "files_checked",
                "bytes_checked", "failures", "covers_through")


def _unfinished() -> Select[Any]:
    """Start rows without a finished run, shaped like runs rows (no end, nothing counted)."""
    s, r = starts_table, runs_table
    zeros = (literal_column("0", BigInteger).label(name) for name in _RUN_COLUMNS[4:])
    return select(s.c.id, s.c.started_at, cast(null(), DateTime(timezone=True)).label(
        "ended_at"), s.c.run_by, *zeros).where(~exists().where(r.c.id == s.c.id))


def _all_runs() -> Any:
    """Finished and unfinished runs as one subquery with the runs table's columns.

    A finished run is its runs row (its start row, if any, says nothing more), so each run
    appears once whether or not it was started after revision 0006.
    """
    finished = select(*(runs_table.c[name] for name in _RUN_COLUMNS))
    return union_all(finished, _unfinished()).subquery("fixity_all_runs")


def _to_failure(row: Any) -> FixityFailure:
    """A failures row as the model's failure."""
    m = row._mapping
    return FixityFailure(
        run_id=m["run_id"], record_id=m["record_id"], archival_ref=m["archival_ref"],
        position=m["position"], role=FileRole(m["role"]), problem=FixityProblem(m["problem"]),
        expected_sha256=m["expected_sha256"], expected_sm3=m["expected_sm3"],
        expected_size=m["expected_size"], found_sha256=m["found_sha256"],
        found_sm3=m["found_sm3"], found_size=m["found_size"], detail=m["detail"])


def fixity_runs(engine: Engine, *, limit: int = 20, offset: int = 0) -> list[FixityRun]:
    """The recorded runs, finished or not, newest first."""
    u = _all_runs()
    q = (select(u).order_by(u.c.started_at.desc(), u.c.id)
         .limit(max(1, min(int(limit), 1000))).offset(max(0, int(offset))))
    try:
        with engine.connect() as conn:
            return [_to_run(r) for r in conn.execute(q)]
    except SQLAlchemyError as e:
        raise ArchiveIndexError(f"cannot read the fixity runs: {e}") from e


def fixity_run(engine: Engine, run_id: str) -> FixityRun | None:
    """One recorded run (unfinished if only its start is recorded), or ``None``."""
    u = _all_runs()
    try:
        with engine.connect() as conn:
            row = conn.execute(select(u).where(u.c.id == run_id)).first()
    except SQLAlchemyError as e:
        raise ArchiveIndexError(f"cannot read the fixity runs: {e}") from e
    return _to_run(row) if row is not None else None


def unfinished_before(engine: Engine, run: FixityRun, *, limit: int = 20) -> list[FixityRun]:
    """Unfinished runs started before ``run`` and after the last finished run before it.

    What a new run should report as "the runs since the last good one did not finish", so
    a run killed every night does not go unnoticed; newest first.
    """
    r, u = runs_table, _unfinished().subquery()
    last = (select(r.c.started_at).where(r.c.started_at < run.started_at, r.c.id != run.id)
            .order_by(r.c.started_at.desc()).limit(1).scalar_subquery())
    q = (select(u).where(u.c.started_at < run.started_at, u.c.id != run.id,
                         (u.c.started_at > last) | (last.is_(None)))
         .order_by(u.c.started_at.desc(), u.c.id).limit(max(1, min(int(limit), 1000))))
    try:
        with engine.connect() as conn:
            return [_to_run(x) for x in conn.execute(q)]
    except SQLAlchemyError as e:
        raise ArchiveIndexError(f"cannot read the fixity runs: {e}") from e


def _unfinished_after(conn: Connection, record_id: str,
                      last: FixityRun | None) -> tuple[FixityRun, ...]:
    """Unfinished runs that started after ``last`` (after the record was archived, if none).

    Such a run should have checked the record but recorded nothing: the record's page says
    so beside its last check.
    """
    since = last.started_at if last is not None else conn.execute(
        select(records_table.c.created_at).where(records_table.c.id == record_id)).scalar()
    if since is None:
        return ()
    u = _unfinished().subquery()
    return tuple(_to_run(x) for x in conn.execute(
        select(u).where(u.c.started_at > since).order_by(u.c.started_at.desc(), u.c.id)
        .limit(20)))


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
                return RecordFixity(record_id, None,
                                    unfinished=_unfinished_after(conn, record_id, None))
            row = conn.execute(select(r).where(r.c.covers_through >= cov.seq)
                               .order_by(r.c.started_at.desc(), r.c.id).limit(1)).first()
            rows = conn.execute(
                select(f, r).join(r, r.c.id == f.c.run_id).where(f.c.record_id == record_id)
                .order_by(r.c.started_at.desc(), r.c.id, f.c.position)).all()
            last = _to_run(row) if row is not None else None
            if rows:
                # a run that found this record's file damaged checked it, whatever its
                # coverage says (an overlapping run may claim less than it checked)
                failed = _to_run(rows[0])
                if last is None or failed.started_at > last.started_at:
                    last = failed
            unfinished = _unfinished_after(conn, record_id, last)
    except SQLAlchemyError as e:
        raise ArchiveIndexError(f"cannot read the fixity runs: {e}") from e
    found = [_to_failure(x) for x in rows]
    now = tuple(x for x in found if last is not None and x.run_id == last.id)
    earlier = tuple(x for x in found if last is None or x.run_id != last.id)[:history]
    return RecordFixity(record_id, last, now, cov.run_id, earlier, unfinished)
