"""Backup and restore of the whole archive: the index as JSON lines, plus every indexed blob.

A backup folder (``doc-service-archive-backup/3``)::

    backup.json                 format, time, per table: file, row count, SHA-256 of the file
    index/archive_records.jsonl       one JSON object per row, dates in ISO 8601
    index/archive_files.jsonl
    index/archive_access_log.jsonl
    index/archive_fixity_run_starts.jsonl the fixity audit trail (:mod:`archive.fixity`)
    index/archive_fixity_runs.jsonl
    index/archive_fixity_failures.jsonl
    index/archive_fixity_coverage.jsonl
    blobs/ab/cd/<sha256>        a FileContentStore holding every file the index names

Format 1 (before the fixity trail was backed up) had only the first three tables; such a
backup still restores, without a trail. Format 2 added the runs, failures and coverage, but
not the runs' starts (recorded since revision 0006); it restores without them (its runs are
finished runs). Format 3 names all seven. A backup lacking a table its format names is
damaged: a trail that silently disappears from a backup would hide failures.

Consistency without locking: the tables are append-only, so reading the fixity runs first,
then their starts, then the records, then the files and log lines of exactly those records,
then the failures and coverage rows of exactly those runs gives a closed snapshot (a run is
committed with its failures and coverage, after its start, and only ever names records
archived before it was committed; a start read without its run is a run that had not
finished then, and is restored as such); blobs are copied afterwards (each existed before
its record was committed) and re-hashed on the way. Usage::

    backup(engine, store, Path("/backups/archive-2024-09-01"))     # the folder must be new/empty
    restore(engine, store, Path("/backups/archive-2024-09-01"))    # index created beforehand

``restore`` checks the JSON files against ``backup.json`` and every blob against its name
before writing anything. It then compares the backup with what the archive already holds:
a row whose id is present (record, file, log entry, fixity run with its start, failures
and coverage) must be identical, a new record must not take a 档号 (or a document version) the
archive has given another record, and a blob already in the store must have the backup's
SHA-256, SM3 and size. A disagreement is a
:class:`RestoreFinding` and nothing is written (the archive is write-once; never overwrite).
Otherwise it puts the missing blobs and inserts the new rows in one transaction, leaving the
identical ones as they are (``RestoreSummary.unchanged``), so an interrupted restore can be
run again. From the command line: ``doc-service archive backup --out DIR`` and
``... restore DIR``.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Date, DateTime, Engine, Table, insert, select
from sqlalchemy.exc import SQLAlchemyError

from .errors import ArchiveIndexError, PackageError, StoreError
from .hashing import both_hex
from .index import (
    access_log,
    files,
    fixity_coverage,
    fixity_failures,
    fixity_run_starts,
    fixity_runs,
    records,
)
from .model import as_utc
from .store import CHUNK, ContentStore, FileContentStore

BACKUP_FORMAT = "doc-service-archive-backup/3"
RECORD_TABLES: tuple[Table, ...] = (records, files, access_log)
"""The archive index proper: what format 1 held."""
RUN_TABLES: tuple[Table, ...] = (fixity_runs, fixity_failures, fixity_coverage)
"""The finished runs of the fixity audit trail, added in format 2."""
TRAIL_TABLES: tuple[Table, ...] = (fixity_run_starts, *RUN_TABLES)
"""The whole fixity audit trail: format 3 added the runs' starts."""
TABLES: tuple[Table, ...] = RECORD_TABLES + TRAIL_TABLES
"""Every table a backup holds, in an order that inserts referenced rows first."""
FORMATS: dict[str, tuple[Table, ...]] = {
    "doc-service-archive-backup/1": RECORD_TABLES,
    "doc-service-archive-backup/2": RECORD_TABLES + RUN_TABLES,
    BACKUP_FORMAT: TABLES,
}
"""The formats :func:`restore` reads, with the tables each must hold."""


@dataclass(frozen=True)
class BackupSummary:
    path: Path
    rows: dict[str, int]
    blobs: int


def _encode(v: Any) -> Any:
    if isinstance(v, datetime):
        return as_utc(v).isoformat()
    if isinstance(v, date):
        return v.isoformat()
    return v


def _decode(table: Table, row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    for col in table.columns:
        v = out.get(col.name)
        if v is None:
            continue
        if isinstance(col.type, DateTime):
            out[col.name] = datetime.fromisoformat(v)
        elif isinstance(col.type, Date):
            out[col.name] = date.fromisoformat(v)
    return out


def _rows(conn: Connection, table: Table, *order: Any) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in conn.execute(select(table).order_by(*order))]


def _read_snapshot(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    """Every table's rows, as a closed snapshot (see the module docstring for the order).

    Rows committed while this reads (a record archived, a run finishing) are left out
    whole: their files, log lines, failures and coverage are filtered away with them.
    """
    try:
        with engine.connect() as conn:
            run_rows = _rows(conn, fixity_runs, fixity_runs.c.started_at, fixity_runs.c.id)
            start_rows = _rows(conn, fixity_run_starts, fixity_run_starts.c.started_at,
                               fixity_run_starts.c.id)
            rec_rows = _rows(conn, records, records.c.created_at, records.c.id)
            ids = {r["id"] for r in rec_rows}
            runs = {r["id"] for r in run_rows}
            file_rows = [r for r in _rows(conn, files, files.c.record_id, files.c.position)
                         if r["record_id"] in ids]
            log_rows = [r for r in _rows(conn, access_log, access_log.c.at, access_log.c.id)
                        if r["record_id"] is None or r["record_id"] in ids]
            failure_rows = [r for r in _rows(conn, fixity_failures, fixity_failures.c.run_id,
                                             fixity_failures.c.archival_ref,
                                             fixity_failures.c.position,
                                             fixity_failures.c.record_id)
                            if r["run_id"] in runs and r["record_id"] in ids]
            coverage_rows = [r for r in _rows(conn, fixity_coverage, fixity_coverage.c.seq)
                             if r["run_id"] in runs and r["record_id"] in ids]
    except SQLAlchemyError as e:
        raise ArchiveIndexError(f"cannot read the archive index: {e}") from e
    return {records.name: rec_rows, files.name: file_rows, access_log.name: log_rows,
            fixity_run_starts.name: start_rows, fixity_runs.name: run_rows,
            fixity_failures.name: failure_rows,
            fixity_coverage.name: coverage_rows}


def backup(engine: Engine, store: ContentStore, out_dir: str | os.PathLike[str]) -> BackupSummary:
    """Write a complete, self-checking copy of the archive into the new folder ``out_dir``."""
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()):
        raise PackageError(f"backup folder {out} is not empty")
    snapshot = _read_snapshot(engine)
    file_rows = snapshot[files.name]

    try:
        (out / "index").mkdir(parents=True, exist_ok=True)
        target = FileContentStore(out / "blobs")
        shas = sorted({f["sha256"] for f in file_rows})
        for sha in shas:
            with store.open(sha) as src:
                if target.put_stream(src) != sha:
                    raise PackageError(f"blob {sha} is damaged in the archive (run fixity)")
        manifest: dict[str, Any] = {"format": BACKUP_FORMAT,
                                    "created_at": datetime.now(UTC).isoformat(),
                                    "tables": {}, "blobs": len(shas)}
        for table in TABLES:
            rows = snapshot[table.name]
            body = "".join(json.dumps({k: _encode(v) for k, v in r.items()},
                                      ensure_ascii=False, sort_keys=True) + "\n" for r in rows)
            name = f"index/{table.name}.jsonl"
            (out / name).write_text(body, encoding="utf-8")
            manifest["tables"][table.name] = {
                "file": name, "rows": len(rows),
                "sha256": hashlib.sha256(body.encode("utf-8")).hexdigest()}
        (out / "backup.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    except (OSError, StoreError) as e:
        raise PackageError(f"cannot write backup to {out}: {e}") from e
    return BackupSummary(out, {t: m["rows"] for t, m in manifest["tables"].items()}, len(shas))


def _read_backup(src: Path) -> dict[str, list[dict[str, Any]]]:
    """Every table's rows, checked against ``backup.json``.

    The tables an older format did not hold are empty: format 1 has no trail, format 2
    no starts.
    """
    try:
        manifest = json.loads((src / "backup.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise PackageError(f"{src} is not an archive backup: {e}") from e
    held = FORMATS.get(manifest.get("format"))
    if held is None:
        raise PackageError(f"unknown backup format {manifest.get('format')!r}")
    out: dict[str, list[dict[str, Any]]] = {t.name: [] for t in TABLES}
    for table in held:
        meta = manifest.get("tables", {}).get(table.name)
        if meta is None:
            raise PackageError(f"backup.json names no file for {table.name}")
        try:
            raw = (src / meta["file"]).read_bytes()
        except OSError as e:
            raise PackageError(f"backup lacks {meta['file']}: {e}") from e
        if hashlib.sha256(raw).hexdigest() != meta["sha256"]:
            raise PackageError(f"{meta['file']} was changed since the backup")
        rows = [json.loads(line) for line in raw.decode("utf-8").splitlines() if line]
        if len(rows) != meta["rows"]:
            raise PackageError(f"{meta['file']} has {len(rows)} rows, expected {meta['rows']}")
        out[table.name] = [_decode(table, r) for r in rows]
    return out


# ----------------------------------------------------------------------------- restore

CONTENT_COLUMNS = ("sha256", "sm3", "size", "chain_sha256")
"""The columns that fix a record's or a file's content; listed first among differences."""


@dataclass(frozen=True)
class Difference:
    """One column (or a file's digest) whose value in the archive differs from the backup's."""

    column: str
    archive: Any
    """As the archive holds it (dates in ISO 8601); None when the archive lacks it."""
    backup: Any
    """As the backup holds it; None when the backup lacks it."""

    def to_dict(self) -> dict[str, Any]:
        return {"column": self.column, "archive": self.archive, "backup": self.backup}


@dataclass(frozen=True)
class RestoreFinding:
    """Something the backup says differently from what the archive already holds.

    A finding stops the restore before anything is written (the archive is write-once: the
    stored version is never replaced); which side is wrong is for a person to find out.

    * ``record_mismatch`` — a record with that id is in the archive with other values
      (its SHA-256 / SM3 / size / chain hash, or another column);
    * ``file_mismatch`` — a file row of an existing record differs, or is only on one side;
    * ``log_mismatch`` — an access-log entry with that id differs;
    * ``archival_ref_clash`` — a record of the backup that the archive lacks has a 档号
      (archival reference, or the school code, year, retention and number it is made of)
      the archive has already given another record; ``record_ids`` and ``archival_refs``
      are the backup's record, then the archive's;
    * ``dedupe_key_clash`` — likewise for the document version (or the voided record) the
      new record archives: the archive holds it under another record id;
    * ``fixity_run_mismatch`` — a fixity run with that id is in the archive with other
      values (when, by whom, how much it checked, how many failures, coverage);
    * ``fixity_start_mismatch`` — the start of a fixity run says otherwise in the archive
      when the run started or who ran it (the archive's start of that run, or, lacking
      one, its finished run; a finished run of the backup is compared likewise with the
      archive's start when the backup holds none);
    * ``fixity_failure_mismatch`` — a failure of such a run differs, or is only on one side;
    * ``fixity_coverage_mismatch`` — the archive numbers the records' first checks
      otherwise (``archive_fixity_coverage``: the same number for another record or run,
      or the same record under another number), so the backup's runs would claim checks
      they never made;
    * ``stored_copy_mismatch`` — a blob the backup names is in the archive's store, but its
      bytes do not have the backup's SHA-256, SM3 and size (changed or damaged on disk);
    * ``stored_copy_unreadable`` — such a blob cannot be read;
    * ``backup_inconsistent`` — a blob in the backup has another SM3 or size than the
      backup's own index says, or a record's digests are not those of its file rows, or
      two of its records share a 档号, or its fixity trail names runs, records or files it
      does not hold (or a run's failure count is not its failure rows', or a run's start
      and its end disagree on when it started or who ran it); here a
      difference's ``archive`` is the actual value (the bytes, the file row, the rows
      counted) and ``backup`` the value the backup's index records.
    """

    kind: str
    detail: str
    """English, for logs; the command line words it in Chinese from the fields below."""
    record_id: str = ""
    archival_ref: str = ""
    sha256: str = ""
    position: int | None = None
    """The file's position in its record (file findings)."""
    role: str = ""
    differences: tuple[Difference, ...] = ()
    record_ids: tuple[str, ...] = ()
    """Every record naming the blob (blob findings), or the one record."""
    archival_refs: tuple[str, ...] = ()
    """The archival references (档号) of ``record_ids``."""
    run_id: str = ""
    """The fixity run (fixity findings)."""
    check: str = ""
    """Which variant of ``kind`` this is, so it can be worded without parsing ``detail``:
    ``differs`` / ``archive_only`` / ``backup_only`` (a file row or a failure: on both sides
    and different, or on one side only; a first-check number: ``differs`` or
    ``archive_only``); the key two records share (``archival_ref``,
    ``archival_ref_parts``, ``dedupe_key``); for a start, what it was compared with
    (``start``: a start; ``start_vs_run``: the backup's start with a finished run;
    ``run_vs_start``: the backup's finished run with a start); and for
    ``backup_inconsistent``: ``blob``, ``record_files``, ``failure_without_run``,
    ``failure_without_file``, ``coverage_without_run``, ``coverage_without_record``,
    ``failure_count`` or ``start_vs_run``, besides the shared keys above."""

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "detail": self.detail, "record_id": self.record_id,
                "archival_ref": self.archival_ref, "sha256": self.sha256,
                "position": self.position, "role": self.role,
                "differences": [d.to_dict() for d in self.differences],
                "record_ids": list(self.record_ids), "archival_refs": list(self.archival_refs),
                "run_id": self.run_id, "check": self.check}


@dataclass(frozen=True)
class RestoreSummary(BackupSummary):
    """What :func:`restore` found and did; with findings, it wrote nothing."""

    inserted: dict[str, int] = field(default_factory=dict)
    """Rows added per table."""
    unchanged: tuple[str, ...] = ()
    """Ids of records already in the archive exactly as in the backup (row, files and
    stored copies compared): left as they are."""
    findings: tuple[RestoreFinding, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.findings

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "path": str(self.path), "rows": self.rows, "blobs": self.blobs,
                "inserted": self.inserted, "unchanged": list(self.unchanged),
                "findings": [f.to_dict() for f in self.findings]}


def _differences(table: Table, have: dict[str, Any], want: dict[str, Any]
                 ) -> tuple[Difference, ...]:
    diffs = [Difference(c.name, _encode(have.get(c.name)), _encode(want.get(c.name)))
             for c in table.columns
             if _encode(have.get(c.name)) != _encode(want.get(c.name))]
    return tuple(sorted(diffs, key=lambda d: d.column not in CONTENT_COLUMNS))


def _what_differs(diffs: tuple[Difference, ...],
                  shown: tuple[str, ...] | None = CONTENT_COLUMNS) -> str:
    """The differing columns, with both values for those in ``shown`` (``None``: all)."""
    return ", ".join(f"{d.column}: archive {d.archive!r}, backup {d.backup!r}"
                     if shown is None or d.column in shown else d.column for d in diffs)


def _pk(table: Table, row: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(row[c.name] for c in table.primary_key.columns)


def _present_rows(engine: Engine) -> dict[str, dict[tuple[Any, ...], dict[str, Any]]]:
    try:
        with engine.connect() as conn:
            return {t.name: {_pk(t, m): m for m in (dict(r._mapping)
                                                    for r in conn.execute(select(t)))}
                    for t in TABLES}
    except SQLAlchemyError as e:
        raise ArchiveIndexError(f"cannot read the archive index: {e}") from e


def _compare_index(tables: dict[str, list[dict[str, Any]]],
                   present: dict[str, dict[tuple[Any, ...], dict[str, Any]]]
                   ) -> tuple[list[RestoreFinding], set[str]]:
    """Findings for rows the archive holds otherwise; and the ids of records that differ."""
    findings: list[RestoreFinding] = []
    differing: set[str] = set()
    have_records = present[records.name]
    refs = {r["id"]: r["archival_ref"] for r in tables[records.name]}
    refs.update({k[0]: r["archival_ref"] for k, r in have_records.items()})

    for row in tables[records.name]:
        have = have_records.get((row["id"],))
        if have is None:
            continue
        diffs = _differences(records, have, row)
        if diffs:
            differing.add(row["id"])
            what = ("content hashes differ" if diffs[0].column in CONTENT_COLUMNS
                    else "metadata differs")
            findings.append(RestoreFinding(
                "record_mismatch", f"record {have['archival_ref']} ({row['id']}) is already "
                f"in the archive and {what} from the backup: {_what_differs(diffs)}",
                record_id=row["id"], archival_ref=have["archival_ref"],
                sha256=have["sha256"], differences=diffs, record_ids=(row["id"],),
                archival_refs=(have["archival_ref"],)))

    have_files: dict[str, dict[int, dict[str, Any]]] = {}
    for (rid, pos), f in present[files.name].items():
        have_files.setdefault(rid, {})[pos] = f
    want_files: dict[str, dict[int, dict[str, Any]]] = {}
    for f in tables[files.name]:
        want_files.setdefault(f["record_id"], {})[f["position"]] = f
    for rid in sorted(set(want_files) | {r["id"] for r in tables[records.name]}):
        if (rid,) not in have_records and rid not in have_files:
            continue  # a record new to this archive
        have_by_pos, want_by_pos = have_files.get(rid, {}), want_files.get(rid, {})
        for pos in sorted(set(have_by_pos) | set(want_by_pos)):
            have, want = have_by_pos.get(pos), want_by_pos.get(pos)
            ref = refs.get(rid, "")
            if have is not None and want is not None:
                diffs = _differences(files, have, want)
                if not diffs:
                    continue
                one, detail = have, (f"file {pos} ({have['role']}) of record {ref} ({rid}) "
                                     f"differs from the backup: {_what_differs(diffs)}")
                check = "differs"
            elif have is not None:
                diffs, one = (Difference("sha256", have["sha256"], None),), have
                detail = f"file {pos} of record {ref} ({rid}) is in the archive only"
                check = "archive_only"
            elif want is not None:
                diffs, one = (Difference("sha256", None, want["sha256"]),), want
                detail = f"file {pos} of record {ref} ({rid}) is in the backup only"
                check = "backup_only"
            else:  # pragma: no cover - pos comes from one of the two
                continue
            differing.add(rid)
            findings.append(RestoreFinding(
                "file_mismatch", detail, record_id=rid, archival_ref=ref,
                sha256=one["sha256"], position=pos, role=one["role"], differences=diffs,
                record_ids=(rid,), archival_refs=(ref,), check=check))

    for row in tables[access_log.name]:
        have = present[access_log.name].get((row["id"],))
        if have is None:
            continue
        diffs = _differences(access_log, have, row)
        if diffs:
            rid = have.get("record_id") or ""
            findings.append(RestoreFinding(
                "log_mismatch", f"access-log entry {row['id']} differs from the backup: "
                f"{_what_differs(diffs)}", record_id=rid, archival_ref=refs.get(rid, ""),
                differences=diffs))
    return findings, differing


_Rows = dict[str, list[dict[str, Any]]]
_Present = dict[str, dict[tuple[Any, ...], dict[str, Any]]]

_RECORD_KEYS: tuple[tuple[str, str, tuple[str, ...], str], ...] = (
    ("archival_ref_clash", "archival_ref", ("archival_ref",), "archival reference (档号)"),
    ("archival_ref_clash", "archival_ref_parts", ("school_code", "ref_year", "retention", "seq"),
     "school code, year, retention and number (the parts of the 档号)"),
    ("dedupe_key_clash", "dedupe_key", ("dedupe_key",), "document version (dedupe key)"),
)
"""The UNIQUE keys of ``archive_records`` besides its id: (finding kind, its ``check``,
columns, name)."""


def _key(row: dict[str, Any], cols: tuple[str, ...]) -> tuple[Any, ...]:
    return tuple(row[c] for c in cols)


def _record_clashes(tables: _Rows, present: _Present) -> list[RestoreFinding]:
    """Findings for new records whose 档号 or document version belongs to another record.

    Such a record cannot be inserted (a UNIQUE constraint refuses it), and which of the two
    is right is for a person to find out: so it is reported like any other difference
    (one finding per record and kind) instead of failing the restore half-way.
    """
    have_records = present[records.name]
    new = [r for r in tables[records.name] if (r["id"],) not in have_records]
    findings: list[RestoreFinding] = []
    reported: set[tuple[str, str, str]] = set()
    for kind, check, cols, what in _RECORD_KEYS:
        owners = {_key(r, cols): r for r in have_records.values()}
        in_backup: dict[tuple[Any, ...], dict[str, Any]] = {}
        for row in new:
            key = _key(row, cols)
            other = owners.get(key)
            where = "the archive's"
            if other is None:
                other, where = in_backup.get(key), "the backup's"
            in_backup.setdefault(key, row)
            if other is None or (kind, row["id"], other["id"]) in reported:
                continue
            reported.add((kind, row["id"], other["id"]))
            findings.append(RestoreFinding(
                kind if where == "the archive's" else "backup_inconsistent",
                f"record {row['archival_ref']} ({row['id']}) of the backup is not in the "
                f"archive, but {where} record {other['archival_ref']} ({other['id']}) has "
                f"the same {what}: {', '.join(map(str, _key(row, cols)))}",
                record_id=row["id"], archival_ref=row["archival_ref"], sha256=row["sha256"],
                differences=(Difference("id", other["id"], row["id"]),),
                record_ids=(row["id"], other["id"]),
                archival_refs=(row["archival_ref"], other["archival_ref"]), check=check))
    return findings


def _failure_finding(kind: str, detail: str, row: dict[str, Any],
                     diffs: tuple[Difference, ...] = (), check: str = "") -> RestoreFinding:
    """A finding about one failure row: its run, record (with 档号) and file."""
    return RestoreFinding(
        kind, detail, record_id=row["record_id"], archival_ref=row["archival_ref"],
        sha256=row["expected_sha256"], position=row["position"], role=row["role"],
        differences=diffs, record_ids=(row["record_id"],),
        archival_refs=(row["archival_ref"],), run_id=row["run_id"], check=check)


def _by_run(rows: Any, runs: set[str]) -> dict[str, dict[tuple[str, int], dict[str, Any]]]:
    """Failure rows of ``runs``: run id -> (record id, position) -> row."""
    out: dict[str, dict[tuple[str, int], dict[str, Any]]] = {}
    for f in rows:
        if f["run_id"] in runs:
            out.setdefault(f["run_id"], {})[(f["record_id"], f["position"])] = f
    return out


def _compare_runs(tables: _Rows, present: _Present) -> tuple[list[RestoreFinding], set[str]]:
    """Findings for fixity runs the archive holds otherwise; and the ids of runs it holds."""
    findings: list[RestoreFinding] = []
    shared: set[str] = set()
    for row in tables[fixity_runs.name]:
        have = present[fixity_runs.name].get((row["id"],))
        if have is None:
            continue
        shared.add(row["id"])
        diffs = _differences(fixity_runs, have, row)
        if diffs:
            findings.append(RestoreFinding(
                "fixity_run_mismatch", f"fixity run {row['id']} is already in the archive "
                f"and differs from the backup: {_what_differs(diffs, None)}",
                differences=diffs, run_id=row["id"]))
    return findings, shared


def _compare_failures(tables: _Rows, present: _Present, shared: set[str]
                      ) -> list[RestoreFinding]:
    """Findings for the failures of runs on both sides that differ or are on one side only.

    A run is recorded with all its failures at once, so the same run must have the same
    failures on both sides: one missing from the backup would hide a damaged file.
    """
    have_by_run = _by_run(present[fixity_failures.name].values(), shared)
    want_by_run = _by_run(tables[fixity_failures.name], shared)
    findings: list[RestoreFinding] = []
    for run_id in sorted(shared):
        have_all, want_all = have_by_run.get(run_id, {}), want_by_run.get(run_id, {})
        for key in sorted(set(have_all) | set(want_all)):
            have, want = have_all.get(key), want_all.get(key)
            one = have if have is not None else want
            assert one is not None  # the key comes from one of the two
            what = (f"the failure of file {key[1]} of record {one['archival_ref']} "
                    f"({key[0]}) in fixity run {run_id}")
            if have is not None and want is not None:
                diffs = _differences(fixity_failures, have, want)
                if not diffs:
                    continue
                detail = f"{what} differs from the backup: {_what_differs(diffs, None)}"
                check = "differs"
            elif have is not None:
                diffs = (Difference("problem", have["problem"], None),)
                detail, check = f"{what} is in the archive only", "archive_only"
            else:
                diffs = (Difference("problem", None, one["problem"]),)
                detail, check = f"{what} is in the backup only", "backup_only"
            findings.append(_failure_finding("fixity_failure_mismatch", detail, one, diffs,
                                             check))
    return findings


def _compare_coverage(tables: _Rows, present: _Present, shared: set[str],
                      refs: dict[str, str]) -> list[RestoreFinding]:
    """Findings where the archive numbers the records' first checks otherwise.

    A run's ``covers_through`` counts in these numbers, so the backup's runs can join the
    archive's only if both number every record they share alike (see :mod:`archive.fixity`).
    """
    have_by_seq = {k[0]: r for k, r in present[fixity_coverage.name].items()}
    have_by_record = {r["record_id"]: r for r in have_by_seq.values()}
    findings: list[RestoreFinding] = []

    def finding(detail: str, row: dict[str, Any], diffs: tuple[Difference, ...],
                check: str) -> None:
        rid = row["record_id"]
        findings.append(RestoreFinding(
            "fixity_coverage_mismatch", detail, record_id=rid, archival_ref=refs.get(rid, ""),
            differences=diffs, record_ids=(rid,), archival_refs=(refs.get(rid, ""),),
            run_id=row["run_id"], check=check))

    for row in tables[fixity_coverage.name]:
        have = have_by_seq.get(row["seq"]) or have_by_record.get(row["record_id"])
        if have is None:
            continue
        diffs = _differences(fixity_coverage, have, row)
        if diffs:
            finding(f"first check number {row['seq']} of record {refs.get(row['record_id'])} "
                    f"({row['record_id']}) by fixity run {row['run_id']} in the backup "
                    f"differs from the archive's: {_what_differs(diffs, None)}", row, diffs,
                    "differs")
    want_seqs = {r["seq"] for r in tables[fixity_coverage.name]}
    for seq, have in sorted(have_by_seq.items()):
        if have["run_id"] in shared and seq not in want_seqs:
            finding(f"first check number {seq} of record {refs.get(have['record_id'])} "
                    f"({have['record_id']}) by fixity run {have['run_id']} is in the archive "
                    "only", have, (Difference("seq", seq, None),), "archive_only")
    return findings


START_COLUMNS = ("started_at", "run_by")
"""What a run's start and its end both say: when it started and who ran it."""


def _start_differences(have: dict[str, Any], want: dict[str, Any]) -> tuple[Difference, ...]:
    """Where two rows (a start or a finished run, either side) tell a run's start otherwise."""
    return tuple(Difference(c, _encode(have[c]), _encode(want[c])) for c in START_COLUMNS
                 if _encode(have[c]) != _encode(want[c]))


def _start_finding(run_id: str, detail: str, diffs: tuple[Difference, ...],
                   check: str) -> RestoreFinding:
    """A finding that a run's start (when, who) is told otherwise by the two sides."""
    return RestoreFinding("fixity_start_mismatch", f"{detail}: {_what_differs(diffs, None)}",
                          differences=diffs, run_id=run_id, check=check)


def _compare_starts(tables: _Rows, present: _Present) -> list[RestoreFinding]:
    """Findings for runs whose start the archive records otherwise than the backup.

    A start is write-once like the rest of the trail: the backup's start of a run must be
    the archive's (or agree with the archive's finished run, if the archive has no start
    of it), and a finished run of the backup without its start must agree with the
    archive's start. One finding per run; a run whose end differs is ``fixity_run_mismatch``.
    """
    have_starts = present[fixity_run_starts.name]
    have_runs = present[fixity_runs.name]
    findings: list[RestoreFinding] = []
    started = set()
    for row in tables[fixity_run_starts.name]:
        started.add(row["id"])
        have = have_starts.get((row["id"],))
        what = "start" if have is not None else "finished run"
        have = have if have is not None else have_runs.get((row["id"],))
        diffs = _start_differences(have, row) if have is not None else ()
        if diffs:
            findings.append(_start_finding(
                row["id"], f"the start of fixity run {row['id']} in the backup differs from "
                f"the archive's {what}", diffs,
                "start" if what == "start" else "start_vs_run"))
    for row in tables[fixity_runs.name]:
        have = have_starts.get((row["id"],))
        if row["id"] in started or have is None:
            continue
        diffs = _start_differences(have, row)
        if diffs:
            findings.append(_start_finding(
                row["id"], f"fixity run {row['id']} in the backup differs from the archive's "
                "start of it", diffs, "run_vs_start"))
    return findings


def _compare_trail(tables: _Rows, present: _Present, refs: dict[str, str]
                   ) -> list[RestoreFinding]:
    """Findings for the fixity trail: starts, runs, their failures, the first-check numbers."""
    findings, shared = _compare_runs(tables, present)
    return (_compare_starts(tables, present) + findings
            + _compare_failures(tables, present, shared)
            + _compare_coverage(tables, present, shared, refs))


def _trail_self_check(tables: _Rows) -> list[RestoreFinding]:
    """The backup's trail must hold what it names, and each run all its failures.

    A backup is a closed snapshot (see the module docstring): a failure or coverage row
    naming a run, record or file the backup lacks, a run whose failure count is not its
    failure rows, or a run whose start says another time or person than its end, means
    the trail was edited (a failure taken out hides a damaged file).
    """
    runs = {r["id"]: r for r in tables[fixity_runs.name]}
    refs = {r["id"]: r["archival_ref"] for r in tables[records.name]}
    held = {(f["record_id"], f["position"]) for f in tables[files.name]}
    findings: list[RestoreFinding] = []
    counted: dict[str, int] = {}
    for f in tables[fixity_failures.name]:
        counted[f["run_id"]] = counted.get(f["run_id"], 0) + 1
        lacks = ("run" if f["run_id"] not in runs else
                 "file" if (f["record_id"], f["position"]) not in held else "")
        if lacks:
            findings.append(_failure_finding(
                "backup_inconsistent", f"the failure of file {f['position']} of record "
                f"{f['archival_ref']} ({f['record_id']}) in fixity run {f['run_id']} names a "
                f"{lacks} the backup does not hold", f, check=f"failure_without_{lacks}"))
    for c in tables[fixity_coverage.name]:
        lacks = ("run" if c["run_id"] not in runs else
                 "record" if c["record_id"] not in refs else "")
        if lacks:
            findings.append(RestoreFinding(
                "backup_inconsistent", f"first check number {c['seq']} of record "
                f"{c['record_id']} by fixity run {c['run_id']} names a {lacks} the backup "
                "does not hold", record_id=c["record_id"],
                archival_ref=refs.get(c["record_id"], ""), run_id=c["run_id"],
                check=f"coverage_without_{lacks}"))
    for start in tables[fixity_run_starts.name]:
        run = runs.get(start["id"])
        diffs = _start_differences(start, run) if run is not None else ()
        if diffs:
            findings.append(RestoreFinding(
                "backup_inconsistent", f"fixity run {start['id']} in the backup does not "
                f"match its own start: {_what_differs(diffs, None)} (start vs run)",
                differences=diffs, run_id=start["id"], check="start_vs_run"))
    for run_id, run in runs.items():
        n = counted.get(run_id, 0)
        if n != run["failures"]:
            findings.append(RestoreFinding(
                "backup_inconsistent", f"fixity run {run_id} in the backup records "
                f"{run['failures']} failures, but the backup holds {n} failure rows of it",
                differences=(Difference("failures", n, run["failures"]),), run_id=run_id,
                check="failure_count"))
    return findings


def _self_check(tables: dict[str, list[dict[str, Any]]]) -> list[RestoreFinding]:
    """A record's own digests (its first file's) must agree with its file rows in the backup."""
    by_record: dict[str, list[dict[str, Any]]] = {}
    for f in tables[files.name]:
        by_record.setdefault(f["record_id"], []).append(f)
    findings = []
    for r in tables[records.name]:
        if not r["sha256"]:
            continue  # a void without a signed void chain names no file
        same = [f for f in by_record.get(r["id"], []) if f["sha256"] == r["sha256"]]
        diffs: tuple[Difference, ...] = ()
        if not same:
            diffs = (Difference("sha256", None, r["sha256"]),)
        elif (same[0]["sm3"], same[0]["size"]) != (r["sm3"], r["size"]):
            diffs = tuple(Difference(c, same[0][c], r[c]) for c in ("sm3", "size")
                          if same[0][c] != r[c])
        if diffs:
            findings.append(RestoreFinding(
                "backup_inconsistent", f"record {r['archival_ref']} ({r['id']}) in the backup "
                f"does not match its own file rows: {_what_differs(diffs)} (file row vs "
                "record row)", record_id=r["id"], archival_ref=r["archival_ref"],
                sha256=r["sha256"], differences=diffs, record_ids=(r["id"],),
                archival_refs=(r["archival_ref"],), check="record_files"))
    return findings


def _expected_blobs(file_rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    by_sha: dict[str, list[dict[str, Any]]] = {}
    for f in file_rows:
        by_sha.setdefault(f["sha256"], []).append(f)
    return dict(sorted(by_sha.items()))


def _digest(store: ContentStore, sha: str) -> tuple[str, str, int]:
    with store.open(sha) as f:
        try:
            return both_hex(iter(lambda: f.read(CHUNK), b""))
        except OSError as e:
            raise StoreError(f"cannot read blob {sha}: {e}") from e


def _blob_differences(rows: list[dict[str, Any]], got: tuple[str, str, int]
                      ) -> tuple[Difference, ...]:
    """Where a blob's bytes disagree with the file rows naming it (first row that does)."""
    sha, sm3, size = got
    for f in rows:
        diffs = tuple(Difference(col, have, f[col]) for col, have in
                      (("sha256", sha), ("sm3", sm3), ("size", size)) if have != f[col])
        if diffs:
            return diffs
    return ()


def _check_blobs(tables: dict[str, list[dict[str, Any]]], backup_blobs: ContentStore,
                 store: ContentStore, refs: dict[str, str]
                 ) -> tuple[list[RestoreFinding], set[str], list[str]]:
    """Hash every blob the backup names, in the backup and (if there) in the archive.

    Returns the findings, the record ids they touch and the blobs the archive lacks.
    Raises :class:`PackageError` when the backup lacks a blob or one does not hash to its
    name (the backup is damaged).
    """
    findings: list[RestoreFinding] = []
    touched: set[str] = set()
    missing: list[str] = []
    for sha, rows in _expected_blobs(tables[files.name]).items():
        ids = tuple(sorted({f["record_id"] for f in rows}))
        names = tuple(refs.get(i, i) for i in ids)
        ref_list = ", ".join(names)
        if not backup_blobs.exists(sha):
            raise PackageError(f"backup lacks blob {sha}")
        try:
            got = _digest(backup_blobs, sha)
        except StoreError as e:
            raise PackageError(f"cannot read blob {sha} in the backup: {e}") from e
        if got[0] != sha:
            raise PackageError(f"blob {sha} in the backup is damaged")
        diffs = _blob_differences(rows, got)
        if diffs:
            touched.update(ids)
            findings.append(RestoreFinding(
                "backup_inconsistent", f"blob {sha} in the backup does not match the "
                f"backup's own index (records {ref_list}): {_what_differs(diffs)}",
                sha256=sha, differences=diffs, record_ids=ids, archival_refs=names,
                check="blob"))
        if not store.exists(sha):
            missing.append(sha)
            continue
        try:
            stored = _digest(store, sha)
        except StoreError as e:
            touched.update(ids)
            findings.append(RestoreFinding(
                "stored_copy_unreadable", f"the archive's copy of blob {sha} (records "
                f"{ref_list}) cannot be read: {e}", sha256=sha, record_ids=ids,
                archival_refs=names))
            continue
        diffs = tuple(Difference(col, have, want) for col, have, want in zip(
            ("sha256", "sm3", "size"), stored, got, strict=True) if have != want)
        if diffs:
            touched.update(ids)
            findings.append(RestoreFinding(
                "stored_copy_mismatch", f"the archive's copy of blob {sha} (records "
                f"{ref_list}) no longer matches the backup: {_what_differs(diffs)}",
                sha256=sha, differences=diffs, record_ids=ids, archival_refs=names))
    return findings, touched, missing


def restore(engine: Engine, store: ContentStore,
            backup_dir: str | os.PathLike[str]) -> RestoreSummary:
    """Put a backup made by :func:`backup` into ``store`` and the index behind ``engine``.

    Compares before writing: a record, file, log entry or fixity run (with its start,
    failures and first-check numbers) already in the archive must be exactly as in the backup, a
    new record must not take a 档号 or document version the archive gave another record,
    and a blob already in the store must have the backup's SHA-256, SM3 and size. Any
    disagreement is a finding, every one is reported, and nothing is written; otherwise
    the missing blobs and rows are added and identical rows are left as they are.
    Raises :class:`PackageError` when the backup itself is incomplete or damaged.
    """
    src = Path(backup_dir)
    tables = _read_backup(src)
    rows_in_backup = {t: len(v) for t, v in tables.items()}
    backup_blobs = FileContentStore(src / "blobs")
    present = _present_rows(engine)
    findings, differing = _compare_index(tables, present)
    own = _self_check(tables)
    findings += own
    differing.update(f.record_id for f in own)
    findings += _record_clashes(tables, present)
    refs = {r["id"]: r["archival_ref"] for r in tables[records.name]}
    findings += _compare_trail(tables, present, refs) + _trail_self_check(tables)
    try:
        blob_findings, touched, missing = _check_blobs(tables, backup_blobs, store, refs)
    except StoreError as e:
        raise PackageError(f"cannot check blobs: {e}") from e
    findings += blob_findings
    shas = len(_expected_blobs(tables[files.name]))
    existing = [r["id"] for r in tables[records.name] if (r["id"],) in present[records.name]]
    unchanged = tuple(i for i in existing if i not in differing and i not in touched)
    if findings:
        return RestoreSummary(src, rows_in_backup, shas, {t.name: 0 for t in TABLES},
                              unchanged, tuple(findings))

    try:
        for sha in missing:
            with backup_blobs.open(sha) as f:
                if store.put_stream(f) != sha:
                    raise PackageError(f"blob {sha} in the backup is damaged")
    except StoreError as e:
        raise PackageError(f"cannot restore blobs: {e}") from e

    rec_rows = tables[records.name]
    # a void or correction points at an earlier record: insert the targets first
    order = {r["id"]: i for i, r in enumerate(sorted(rec_rows, key=lambda r: r["created_at"]))}
    by_id = {r["id"]: r for r in rec_rows}

    def depth(r: dict[str, Any]) -> int:
        n = 0
        while r.get("points_to") in by_id and n < len(by_id):
            r, n = by_id[r["points_to"]], n + 1
        return n

    rec_rows = sorted(rec_rows, key=lambda r: (depth(r), order[r["id"]]))
    inserted: dict[str, int] = {}
    try:
        with engine.begin() as conn:
            for table in TABLES:
                now = {tuple(r) for r in conn.execute(select(*table.primary_key.columns))}
                if now - set(present[table.name]):
                    raise PackageError("the archive changed while the backup was being "
                                       "compared with it: run the restore again")
                rows = rec_rows if table is records else tables[table.name]
                new = [r for r in rows if _pk(table, r) not in now]
                if new:
                    conn.execute(insert(table), new)
                inserted[table.name] = len(new)
    except SQLAlchemyError as e:
        raise ArchiveIndexError(f"cannot restore the archive index: {e}") from e
    return RestoreSummary(src, rows_in_backup, shas, inserted, unchanged)
