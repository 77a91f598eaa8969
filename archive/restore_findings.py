"""What a restore reports: each difference between a backup and the archive, or within the
backup, as a :class:`RestoreFinding`; and the helpers that find the differing columns.

Used by the comparisons (:mod:`archive.restore_index`, :mod:`archive.restore_trail`) and
by :mod:`archive.restore`, which gathers them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table

from .backup_format import encode_value

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


def row_differences(table: Table, have: dict[str, Any], want: dict[str, Any]
                    ) -> tuple[Difference, ...]:
    """The columns whose values differ between the archive's row and the backup's.

    Compared as encoded (see :func:`~archive.backup_format.encode_value`); content columns
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
