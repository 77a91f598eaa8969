"""Backup and restore of the whole archive: the index as JSON lines, plus every indexed blob.

A backup folder (``doc-service-archive-backup/1``)::

    backup.json                 format, time, per table: file, row count, SHA-256 of the file
    index/archive_records.jsonl       one JSON object per row, dates in ISO 8601
    index/archive_files.jsonl
    index/archive_access_log.jsonl
    blobs/ab/cd/<sha256>        a FileContentStore holding every file the index names

Consistency without locking: the tables are append-only, so reading records first, then the
files of exactly those records, then the log lines of those records gives a closed snapshot;
blobs are copied afterwards (each existed before its record was committed) and re-hashed on
the way. Usage::

    backup(engine, store, Path("/backups/archive-2024-09-01"))     # the folder must be new/empty
    restore(engine, store, Path("/backups/archive-2024-09-01"))    # index created beforehand

``restore`` checks the JSON files against ``backup.json`` and every blob against its name
before writing anything, puts the blobs (idempotent), then inserts all rows in one
transaction, skipping rows whose id is already present, so an interrupted restore can be run
again. From the command line: ``doc-service archive backup --out DIR`` and ``... restore DIR``.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Date, DateTime, Engine, Table, insert, select
from sqlalchemy.exc import SQLAlchemyError

from .errors import ArchiveIndexError, PackageError, StoreError
from .index import access_log, files, records
from .model import as_utc
from .store import ContentStore, FileContentStore

BACKUP_FORMAT = "doc-service-archive-backup/1"
TABLES: tuple[Table, ...] = (records, files, access_log)


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


def backup(engine: Engine, store: ContentStore, out_dir: str | os.PathLike[str]) -> BackupSummary:
    """Write a complete, self-checking copy of the archive into the new folder ``out_dir``."""
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()):
        raise PackageError(f"backup folder {out} is not empty")
    try:
        with engine.connect() as conn:
            rec_rows = [dict(r._mapping) for r in conn.execute(
                select(records).order_by(records.c.created_at, records.c.id))]
            ids = {r["id"] for r in rec_rows}
            file_rows = [dict(r._mapping) for r in conn.execute(
                select(files).order_by(files.c.record_id, files.c.position))
                if r.record_id in ids]
            log_rows = [dict(r._mapping) for r in conn.execute(
                select(access_log).order_by(access_log.c.at, access_log.c.id))
                if r.record_id is None or r.record_id in ids]
    except SQLAlchemyError as e:
        raise ArchiveIndexError(f"cannot read the archive index: {e}") from e

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
        for table, rows in zip(TABLES, (rec_rows, file_rows, log_rows), strict=True):
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
    try:
        manifest = json.loads((src / "backup.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise PackageError(f"{src} is not an archive backup: {e}") from e
    if manifest.get("format") != BACKUP_FORMAT:
        raise PackageError(f"unknown backup format {manifest.get('format')!r}")
    out: dict[str, list[dict[str, Any]]] = {}
    for table in TABLES:
        meta = manifest["tables"][table.name]
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


def restore(engine: Engine, store: ContentStore,
            backup_dir: str | os.PathLike[str]) -> BackupSummary:
    """Put a backup made by :func:`backup` into ``store`` and the index behind ``engine``."""
    src = Path(backup_dir)
    tables = _read_backup(src)
    blobs = FileContentStore(src / "blobs")
    shas = sorted({f["sha256"] for f in tables["archive_files"]})
    try:
        for sha in shas:
            if not blobs.exists(sha):
                raise PackageError(f"backup lacks blob {sha}")
            with blobs.open(sha) as f:
                if store.put_stream(f) != sha:
                    raise PackageError(f"blob {sha} in the backup is damaged")
    except StoreError as e:
        raise PackageError(f"cannot restore blobs: {e}") from e

    rec_rows = tables["archive_records"]
    # a void or correction points at an earlier record: insert the targets first
    order = {r["id"]: i for i, r in enumerate(sorted(rec_rows, key=lambda r: r["created_at"]))}
    by_id = {r["id"]: r for r in rec_rows}

    def depth(r: dict[str, Any]) -> int:
        n = 0
        while r.get("points_to") in by_id and n < len(by_id):
            r, n = by_id[r["points_to"]], n + 1
        return n

    rec_rows = sorted(rec_rows, key=lambda r: (depth(r), order[r["id"]]))
    try:
        with engine.begin() as conn:
            present = {t.name: {tuple(r) for r in conn.execute(
                select(*t.primary_key.columns))}
                       for t in TABLES}
            for table in TABLES:
                rows = rec_rows if table is records else tables[table.name]
                pk = [c.name for c in table.primary_key.columns]
                new = [r for r in rows if tuple(r[c] for c in pk) not in present[table.name]]
                if new:
                    conn.execute(insert(table), new)
    except SQLAlchemyError as e:
        raise ArchiveIndexError(f"cannot restore the archive index: {e}") from e
    return BackupSummary(src, {t: len(v) for t, v in tables.items()}, len(shas))
