"""Backup of the whole archive: the index as JSON lines, plus every indexed blob.

The folder's layout and formats are in :mod:`archive.backup.format`; restoring one is
:mod:`archive.backup.restorer`.

Consistency without locking: the tables are append-only, so reading the fixity runs first,
then their starts, then the records, then the files and log lines of exactly those records,
then the failures and coverage rows of exactly those runs gives a closed snapshot (a run is
committed with its failures and coverage, after its start, and only ever names records
archived before it was committed; a start read without its run is a run that had not
finished then, and is restored as such); blobs are copied afterwards (each existed before
its record was committed) and re-hashed on the way. Usage::

    from archive.backup import backup, restore

    backup(engine, store, Path("/backups/archive-2024-09-01"))     # the folder must be new/empty
    restore(engine, store, Path("/backups/archive-2024-09-01"))    # index created beforehand

From the command line: ``doc-service archive backup --out DIR`` and ``... restore DIR``.
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Table, select
from sqlalchemy.exc import SQLAlchemyError

from ..errors import ArchiveIndexError, PackageError, StoreError
from ..index import (
    access_log,
    files,
    fixity_coverage,
    fixity_failures,
    fixity_run_starts,
    fixity_runs,
    records,
)
from ..store import ContentStore, FileContentStore
from .format import BACKUP_FORMAT, TABLES, BackupSummary, encode_value


def _rows(conn: Connection, table: Table, *order: Any) -> list[dict[str, Any]]:
    """A whole table in a stable order, so two backups of the same archive are identical."""
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
            body = "".join(json.dumps({k: encode_value(v) for k, v in r.items()},
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
