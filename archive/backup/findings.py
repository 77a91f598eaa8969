"""What a restore reports: each difference between a backup and the archive, or within the
backup, as a :class:`RestoreFinding` of a :class:`FindingKind` (and, where a kind has
variants, a :class:`FindingCheck`); and the helpers that find the differing columns.

Used by the comparisons (:mod:`archive.backup.index_check`, :mod:`archive.backup.trail_check`)
and by :mod:`archive.backup.restorer`, which gathers them. The kinds and checks are the
contract with whoever words a finding for people (:func:`archive.wording.restore_finding`):
nothing parses ``detail``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import Table

from .format import encode_value

Present = dict[str, dict[tuple[Any, ...], dict[str, Any]]]
"""Table name -> primary key -> row, of what the archive holds when the restore starts."""

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


class FindingKind(StrEnum):
    """What a :class:`RestoreFinding` is about."""

    RECORD_MISMATCH = "record_mismatch"
    """A record with that id is in the archive with other values (its SHA-256 / SM3 / size /
    chain hash, or another column)."""
    FILE_MISMATCH = "file_mismatch"
    """A file row of an existing record differs, or is only on one side."""
    LOG_MISMATCH = "log_mismatch"
    """An access-log entry with that id differs."""
    ARCHIVAL_REF_CLASH = "archival_ref_clash"
    """A record of the backup that the archive lacks has a 档号 (archival reference, or the
    school code, year, retention and number it is made of) the archive has already given
    another record; ``record_ids`` and ``archival_refs`` are the backup's record, then the
    archive's."""
    DEDUPE_KEY_CLASH = "dedupe_key_clash"
    """Likewise for the document version (or the voided record) the new record archives: the
    archive holds it under another record id."""
    FIXITY_RUN_MISMATCH = "fixity_run_mismatch"
    """A fixity run with that id is in the archive with other values (when, by whom, how much
    it checked, how many failures, coverage)."""
    FIXITY_START_MISMATCH = "fixity_start_mismatch"
    """The start of a fixity run says otherwise in the archive when the run started or who
    ran it (the archive's start of that run, or, lacking one, its finished run; a finished
    run of the backup is compared likewise with the archive's start when the backup holds
    none)."""
    FIXITY_FAILURE_MISMATCH = "fixity_failure_mismatch"
    """A failure of such a run differs, or is only on one side."""
    FIXITY_COVERAGE_MISMATCH = "fixity_coverage_mismatch"
    """The archive numbers the records' first checks otherwise (``archive_fixity_coverage``:
    the same number for another record or run, or the same record under another number), so
    the backup's runs would claim checks they never made."""
    STORED_COPY_MISMATCH = "stored_copy_mismatch"
    """A blob the backup names is in the archive's store, but its bytes do not have the
    backup's SHA-256, SM3 and size (changed or damaged on disk)."""
    STORED_COPY_UNREADABLE = "stored_copy_unreadable"
    """Such a blob cannot be read."""
    BACKUP_INCONSISTENT = "backup_inconsistent"
    """The backup disagrees with itself (see the :class:`FindingCheck` members it comes
    with); here a difference's ``archive`` is the actual value (the bytes, the file row, the
    rows counted) and ``backup`` the value the backup's index records."""


class FindingCheck(StrEnum):
    """Which variant of its :class:`FindingKind` a finding is, so it is worded without
    parsing ``detail``."""

    DIFFERS = "differs"
    """A file row, failure or first-check number on both sides, and different."""
    ARCHIVE_ONLY = "archive_only"
    """A file row, failure or first-check number only in the archive."""
    BACKUP_ONLY = "backup_only"
    """A file row or failure only in the backup."""
    ARCHIVAL_REF = "archival_ref"
    """Two records share a 档号 (a clash, or within the backup)."""
    ARCHIVAL_REF_PARTS = "archival_ref_parts"
    """Two records share the school code, year, retention and number of a 档号."""
    DEDUPE_KEY = "dedupe_key"
    """Two records archive the same document version (or void the same record)."""
    START = "start"
    """A run's start compared with the archive's start of it."""
    START_VS_RUN = "start_vs_run"
    """A start compared with a finished run (the archive's, or the backup's own)."""
    RUN_VS_START = "run_vs_start"
    """The backup's finished run compared with the archive's start of it."""
    BLOB = "blob"
    """A blob in the backup has another SM3 or size than the backup's index says."""
    RECORD_FILES = "record_files"
    """A record's digests are not those of its own file rows."""
    FAILURE_WITHOUT_RUN = "failure_without_run"
    """A failure names a run the backup does not hold."""
    FAILURE_WITHOUT_FILE = "failure_without_file"
    """A failure names a file the backup does not hold."""
    COVERAGE_WITHOUT_RUN = "coverage_without_run"
    """A first-check number names a run the backup does not hold."""
    COVERAGE_WITHOUT_RECORD = "coverage_without_record"
    """A first-check number names a record the backup does not hold."""
    FAILURE_COUNT = "failure_count"
    """A run's failure count is not its failure rows'."""


@dataclass(frozen=True)
class RestoreFinding:
    """Something the backup says differently from what the archive already holds.

    A finding stops the restore before anything is written (the archive is write-once: the
    stored version is never replaced); which side is wrong is for a person to find out.
    What it is about is its :attr:`kind` (and :attr:`check`); the fields below say where.
    """

    kind: FindingKind
    detail: str
    """English, for logs; people read it worded from the fields below
    (:func:`archive.wording.restore_finding`)."""
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
    check: FindingCheck | None = None
    """Which variant of :attr:`kind` this is, when the kind has variants."""

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "detail": self.detail, "record_id": self.record_id,
                "archival_ref": self.archival_ref, "sha256": self.sha256,
                "position": self.position, "role": self.role,
                "differences": [d.to_dict() for d in self.differences],
                "record_ids": list(self.record_ids), "archival_refs": list(self.archival_refs),
                "run_id": self.run_id, "check": self.check.value if self.check else ""}


def row_differences(table: Table, have: dict[str, Any], want: dict[str, Any]
                    ) -> tuple[Difference, ...]:
    """The columns whose values differ between the archive's row and the backup's.

    Compared as encoded (see :func:`~archive.backup.format.encode_value`); content columns
    first, as they matter most to whoever reads the finding.
    """
    diffs = [Difference(c.name, encode_value(have.get(c.name)), encode_value(want.get(c.name)))
             for c in table.columns
             if encode_value(have.get(c.name)) != encode_value(want.get(c.name))]
    return tuple(sorted(diffs, key=lambda d: d.column not in CONTENT_COLUMNS))


def what_differs(diffs: tuple[Difference, ...],
                 shown: tuple[str, ...] | None = CONTENT_COLUMNS) -> str:
    """The differing columns, with both values for those in ``shown`` (``None``: all)."""
    return ", ".join(f"{d.column}: archive {d.archive!r}, backup {d.backup!r}"
                     if shown is None or d.column in shown else d.column for d in diffs)


def primary_key(table: Table, row: dict[str, Any]) -> tuple[Any, ...]:
    """The row's primary key as a tuple: how rows on both sides are matched."""
    return tuple(row[c.name] for c in table.primary_key.columns)
