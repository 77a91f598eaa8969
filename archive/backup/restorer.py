"""Restore of a backup made by :func:`~archive.backup.writer.backup`: compare first, then only add.

``restore`` checks the JSON files against ``backup.json`` and every blob against its name
before writing anything. It then compares the backup with what the archive already holds:
a row whose id is present (record, file, log entry, fixity run with its start, failures
and coverage) must be identical, a new record must not take a 档号 (or a document version)
the archive has given another record, and a blob already in the store must have the
backup's SHA-256, SM3 and size (:mod:`archive.backup.index_check`,
:mod:`archive.backup.trail_check`).
A disagreement is a :class:`RestoreFinding` and nothing is written (the archive is
write-once; never overwrite). Otherwise it puts the missing blobs and inserts the new rows
in one transaction, leaving the identical ones as they are (``RestoreSummary.unchanged``),
so an interrupted restore can be run again.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import SQLAlchemyError

from ..errors import ArchiveIndexError, PackageError, StoreError
from ..hashing import both_hex
from ..index import files, records
from ..store import CHUNK, ContentStore, FileContentStore
from .findings import (
    Difference,
    FindingCheck,
    FindingKind,
    Present,
    RestoreFinding,
    primary_key,
    what_differs,
)
from .format import TABLES, BackupSummary, Rows, read_backup
from .index_check import compare_index, record_clashes, record_self_check
from .trail_check import compare_trail, trail_self_check


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
        """Nothing disagreed: the backup's new rows and blobs were added."""
        return not self.findings

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "path": str(self.path), "rows": self.rows, "blobs": self.blobs,
                "inserted": self.inserted, "unchanged": list(self.unchanged),
                "findings": [f.to_dict() for f in self.findings]}


def _present_rows(engine: Engine) -> Present:
    """Everything the archive holds now, by table and primary key, to compare the backup with.

    Read once, before comparing: the insert checks against it that nothing was added since.
    """
    try:
        with engine.connect() as conn:
            return {t.name: {primary_key(t, m): m for m in (dict(r._mapping)
                                                            for r in conn.execute(select(t)))}
                    for t in TABLES}
    except SQLAlchemyError as e:
        raise ArchiveIndexError(f"cannot read the archive index: {e}") from e


def _expected_blobs(file_rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The file rows naming each blob, by SHA-256 (a blob two records share is read once)."""
    by_sha: dict[str, list[dict[str, Any]]] = {}
    for f in file_rows:
        by_sha.setdefault(f["sha256"], []).append(f)
    return dict(sorted(by_sha.items()))


def _digest(store: ContentStore, sha: str) -> tuple[str, str, int]:
    """SHA-256, SM3 and size of the blob's bytes as stored (not as its name says)."""
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


def _backup_copy(backup_blobs: ContentStore, sha: str) -> tuple[str, str, int]:
    """The digests of the backup's copy of a blob, which must exist and hash to its name.

    Raises :class:`PackageError` otherwise: the backup itself is damaged, and nothing in
    it can be trusted enough to compare.
    """
    if not backup_blobs.exists(sha):
        raise PackageError(f"backup lacks blob {sha}")
    try:
        got = _digest(backup_blobs, sha)
    except StoreError as e:
        raise PackageError(f"cannot read blob {sha} in the backup: {e}") from e
    if got[0] != sha:
        raise PackageError(f"blob {sha} in the backup is damaged")
    return got


def _stored_copy(store: ContentStore, sha: str, got: tuple[str, str, int],
                 ids: tuple[str, ...], names: tuple[str, ...]) -> RestoreFinding | None:
    """A finding if the archive's copy of a blob cannot be read or differs from the backup's."""
    ref_list = ", ".join(names)
    try:
        stored = _digest(store, sha)
    except StoreError as e:
        return RestoreFinding(
            FindingKind.STORED_COPY_UNREADABLE, f"the archive's copy of blob {sha} (records "
            f"{ref_list}) cannot be read: {e}", sha256=sha, record_ids=ids, archival_refs=names)
    diffs = tuple(Difference(col, have, want) for col, have, want in zip(
        ("sha256", "sm3", "size"), stored, got, strict=True) if have != want)
    if not diffs:
        return None
    return RestoreFinding(
        FindingKind.STORED_COPY_MISMATCH, f"the archive's copy of blob {sha} (records "
        f"{ref_list}) no longer matches the backup: {what_differs(diffs)}", sha256=sha,
        differences=diffs, record_ids=ids, archival_refs=names)


def _check_blobs(tables: Rows, backup_blobs: ContentStore, store: ContentStore,
                 refs: dict[str, str]) -> tuple[list[RestoreFinding], set[str], list[str]]:
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
        got = _backup_copy(backup_blobs, sha)
        diffs = _blob_differences(rows, got)
        if diffs:
            touched.update(ids)
            findings.append(RestoreFinding(
                FindingKind.BACKUP_INCONSISTENT, f"blob {sha} in the backup does not match the "
                f"backup's own index (records {', '.join(names)}): {what_differs(diffs)}",
                sha256=sha, differences=diffs, record_ids=ids, archival_refs=names,
                check=FindingCheck.BLOB))
        if not store.exists(sha):
            missing.append(sha)
            continue
        stored = _stored_copy(store, sha, got, ids, names)
        if stored is not None:
            touched.update(ids)
            findings.append(stored)
    return findings, touched, missing


def _put_blobs(store: ContentStore, backup_blobs: ContentStore, missing: list[str]) -> None:
    """Copy the blobs the archive lacks, re-hashed on the way (before any row names them)."""
    try:
        for sha in missing:
            with backup_blobs.open(sha) as f:
                if store.put_stream(f) != sha:
                    raise PackageError(f"blob {sha} in the backup is damaged")
    except StoreError as e:
        raise PackageError(f"cannot restore blobs: {e}") from e


def _records_in_order(rec_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Records ordered so that a void or correction follows the record it points at.

    The foreign key ``points_to`` needs its target inserted first; by archiving time
    otherwise, as the archive numbered them.
    """
    order = {r["id"]: i for i, r in enumerate(sorted(rec_rows, key=lambda r: r["created_at"]))}
    by_id = {r["id"]: r for r in rec_rows}

    def depth(r: dict[str, Any]) -> int:
        n = 0
        while r.get("points_to") in by_id and n < len(by_id):
            r, n = by_id[r["points_to"]], n + 1
        return n

    return sorted(rec_rows, key=lambda r: (depth(r), order[r["id"]]))


def _insert_rows(engine: Engine, tables: Rows, present: Present) -> dict[str, int]:
    """Insert the rows the archive lacks, all in one transaction; return how many per table.

    Refuses if a row appeared since the comparison: it was compared with nothing.
    """
    rec_rows = _records_in_order(tables[records.name])
    inserted: dict[str, int] = {}
    try:
        with engine.begin() as conn:
            for table in TABLES:
                now = {tuple(r) for r in conn.execute(select(*table.primary_key.columns))}
                if now - set(present[table.name]):
                    raise PackageError("the archive changed while the backup was being "
                                       "compared with it: run the restore again")
                rows = rec_rows if table is records else tables[table.name]
                new = [r for r in rows if primary_key(table, r) not in now]
                if new:
                    conn.execute(insert(table), new)
                inserted[table.name] = len(new)
    except SQLAlchemyError as e:
        raise ArchiveIndexError(f"cannot restore the archive index: {e}") from e
    return inserted


def _compare(tables: Rows, present: Present) -> tuple[list[RestoreFinding], set[str]]:
    """Every finding of the index and the trail (not the blobs); and the records differing."""
    findings, differing = compare_index(tables, present)
    own = record_self_check(tables)
    findings += own
    differing.update(f.record_id for f in own)
    findings += record_clashes(tables, present)
    refs = {r["id"]: r["archival_ref"] for r in tables[records.name]}
    findings += compare_trail(tables, present, refs) + trail_self_check(tables)
    return findings, differing


def restore(engine: Engine, store: ContentStore,
            backup_dir: str | os.PathLike[str]) -> RestoreSummary:
    """Put a backup made by :func:`~archive.backup.writer.backup` into ``store`` and the index.

    Compares before writing: a record, file, log entry or fixity run (with its start,
    failures and first-check numbers) already in the archive must be exactly as in the
    backup, a new record must not take a 档号 or document version the archive gave another
    record, and a blob already in the store must have the backup's SHA-256, SM3 and size.
    Any disagreement is a finding, every one is reported, and nothing is written; otherwise
    the missing blobs and rows are added and identical rows are left as they are.
    Raises :class:`PackageError` when the backup itself is incomplete or damaged.
    """
    src = Path(backup_dir)
    tables = read_backup(src)
    rows_in_backup = {t: len(v) for t, v in tables.items()}
    backup_blobs = FileContentStore(src / "blobs")
    present = _present_rows(engine)
    findings, differing = _compare(tables, present)
    refs = {r["id"]: r["archival_ref"] for r in tables[records.name]}
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
    _put_blobs(store, backup_blobs, missing)
    return RestoreSummary(src, rows_in_backup, shas, _insert_rows(engine, tables, present),
                          unchanged)
