"""The backup folder's format: which tables each format holds, and reading one back, checked.

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

Shared by the writer (:mod:`archive.backup.writer`) and the reader
(:mod:`archive.backup.restorer`), so the two cannot disagree on what a format holds or how a
value is written.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Date, DateTime, Table

from ..errors import PackageError
from ..index import (
    access_log,
    files,
    fixity_coverage,
    fixity_failures,
    fixity_run_starts,
    fixity_runs,
    records,
)
from ..model import as_utc

Rows = dict[str, list[dict[str, Any]]]
"""Table name -> its rows (column name -> value), as a backup holds them."""

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
    """Where a backup was written, how many rows per table and how many blobs it holds."""

    path: Path
    rows: dict[str, int]
    blobs: int


def encode_value(v: Any) -> Any:
    """A column value as JSON holds it: times in UTC ISO 8601, dates ISO, the rest as is.

    Also what restore compares, so a time read back from SQLite (naive) or PostgreSQL
    (aware) compares equal to the same time in a backup.
    """
    if isinstance(v, datetime):
        return as_utc(v).isoformat()
    if isinstance(v, date):
        return v.isoformat()
    return v


def decode_row(table: Table, row: dict[str, Any]) -> dict[str, Any]:
    """A row read from JSON with its times and dates typed again, ready to insert."""
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


def read_backup(src: Path) -> Rows:
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
        out[table.name] = [decode_row(table, r) for r in rows]
    return out
