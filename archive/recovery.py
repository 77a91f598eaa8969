"""Start-up check: find anything an interrupted write or a damaged disk left half-done.

Reports, never repairs: a person decides what an orphan blob was. What it looks for:

* ``leftover_temp`` — a temporary file of a write that crashed before its rename;
* ``orphan_blob`` — a blob no archive record names: the crash came after the rename and
  before the index transaction committed (archiving the document again re-uses the blob);
* ``missing_file`` — an index row whose blob is gone;
* ``size_mismatch`` / ``hash_mismatch`` — a blob that changed (hashes only with ``deep``;
  :func:`archive.fixity.run_fixity` is the full check);
* ``record_without_final_pdf`` — an original or correction record with no final PDF row.

Run it before serving: a write in progress at the same moment looks like an orphan.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError

from .errors import ArchiveIndexError, BlobNotFoundError
from .index import files as files_table
from .index import records as rec
from .model import FileRole, RecordKind
from .store import ContentStore, verify_blob


class ProblemKind(StrEnum):
    """What the start-up check found (see the module docstring)."""

    LEFTOVER_TEMP = "leftover_temp"
    ORPHAN_BLOB = "orphan_blob"
    MISSING_FILE = "missing_file"
    SIZE_MISMATCH = "size_mismatch"
    HASH_MISMATCH = "hash_mismatch"
    RECORD_WITHOUT_FINAL_PDF = "record_without_final_pdf"


@dataclass(frozen=True)
class Problem:
    """One half-done or damaged thing; ``detail`` says what, in English, for the operator."""

    kind: ProblemKind
    detail: str
    sha256: str = ""
    record_id: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "detail": self.detail, "sha256": self.sha256,
                "record_id": self.record_id}


def startup_check(engine: Engine, store: ContentStore, *, deep: bool = False) -> list[Problem]:
    """Every half-done or damaged thing in the archive; empty when all is well."""
    problems: list[Problem] = [
        Problem(ProblemKind.LEFTOVER_TEMP, f"temporary file of an interrupted write: {lo.name} "
                                 f"({lo.size} bytes); not indexed, safe to inspect")
        for lo in store.leftovers()
    ]
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(files_table.c.record_id, files_table.c.role,
                                       files_table.c.sha256, files_table.c.size)).all()
            docs = conn.execute(select(rec.c.id, rec.c.archival_ref).where(
                rec.c.kind != RecordKind.VOID.value)).all()
    except SQLAlchemyError as e:
        raise ArchiveIndexError(f"cannot read the archive index: {e}") from e

    indexed: dict[str, int] = {}
    with_pdf = set()
    for r in rows:
        indexed[r.sha256] = r.size
        if r.role == FileRole.FINAL_PDF.value:
            with_pdf.add(r.record_id)
    for d in docs:
        if d.id not in with_pdf:
            problems.append(Problem(ProblemKind.RECORD_WITHOUT_FINAL_PDF,
                                    f"record {d.archival_ref} has no final PDF", "", d.id))

    by_sha = {r.sha256: r.record_id for r in rows}
    for sha, size in indexed.items():
        try:
            stored = store.size(sha)
        except BlobNotFoundError:
            problems.append(Problem(ProblemKind.MISSING_FILE, f"indexed file {sha} is not in the store",
                                    sha, by_sha[sha]))
            continue
        if stored != size:
            problems.append(Problem(ProblemKind.SIZE_MISMATCH, f"file {sha} has {stored} bytes, the "
                                    f"index says {size}", sha, by_sha[sha]))
        elif deep and not verify_blob(store, sha)[0]:
            problems.append(Problem(ProblemKind.HASH_MISMATCH, f"file {sha} no longer hashes to its name",
                                    sha, by_sha[sha]))

    for sha in store.iter_all():
        if sha not in indexed:
            problems.append(Problem(ProblemKind.ORPHAN_BLOB, f"blob {sha} ({store.size(sha)} bytes) is "
                                    "named by no archive record: an archiving was interrupted "
                                    "before its index commit; archiving again re-uses it", sha))
    return problems
