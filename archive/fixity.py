"""Fixity: re-hash every archived file and report what went missing or changed.

SHA-256 is the fixity hash (and the blob's name, so the expected value needs no lookup).
Files stream through hashlib in 1 MiB chunks; hashlib releases the GIL on large updates, so a
small thread pool over files hashes on every core and overlaps reading with hashing.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError

from .errors import ArchiveIndexError, BlobNotFoundError, StoreError
from .index import files as files_table
from .store import ContentStore, verify_blob


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

    @property
    def ok(self) -> bool:
        return not self.findings

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
                "bytes_read": self.bytes_read, "seconds": round(self.seconds, 3),
                "mb_per_s": round(self.mb_per_s, 1),
                "findings": [f.to_dict() for f in self.findings]}


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


def run_fixity(engine: Engine, store: ContentStore, *, workers: int | None = None) -> FixityReport:
    """Re-hash every file the index names (each distinct blob once)."""
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(files_table.c.sha256, files_table.c.record_id)).all()
    except SQLAlchemyError as e:
        raise ArchiveIndexError(f"cannot read the archive index: {e}") from e
    owners: dict[str, list[str]] = {}
    for sha, record_id in rows:
        owners.setdefault(sha, []).append(record_id)
    start = time.perf_counter()
    bad, count, total = check_blobs(store, sorted(owners), workers=workers)
    seconds = time.perf_counter() - start
    findings = tuple(FixityFinding(sha, problem, tuple(owners[sha]), detail)
                     for sha, problem, detail in bad)
    return FixityReport(count, total, seconds, findings)
