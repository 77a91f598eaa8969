"""The fixity audit trail as plain frozen dataclasses: runs, failed files, a record's last check.

No SQL and no I/O here (the runs are written by :mod:`archive.fixity.check` and read by
:mod:`archive.fixity.trail`). How people read these values, in Chinese, is in
:mod:`archive.wording`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from ..model import FileRole, as_utc

SCHEDULED = "scheduled"
"""``run_by`` of a fixity run started by a timer rather than a person."""


class FixityProblem(StrEnum):
    MISSING = "missing"
    CHANGED = "changed"
    """The bytes no longer hash to the file's SHA-256."""
    UNREADABLE = "unreadable"


@dataclass(frozen=True)
class FixityRun:
    """One fixity run as recorded: when, by whom, how much it checked, how many failures.

    A run whose start was recorded but never its end is *unfinished* (``ended_at`` is
    ``None``): it crashed, was killed, or is still going. It checked nothing as far as the
    trail knows, so its counts are 0 and it is not :attr:`ok`.
    """

    id: str
    started_at: datetime
    ended_at: datetime | None
    """``None``: the run's end was never recorded (see :attr:`finished`)."""
    run_by: str
    """The user who ran it (command line), or :data:`SCHEDULED`."""
    records_checked: int
    files_checked: int
    """Distinct files (blobs) re-hashed; a file two records share counts once."""
    bytes_checked: int
    failures: int
    """Failed (record, file) pairs."""
    covers_through: int
    """Every record whose coverage number is at most this was checked by this run."""

    @property
    def finished(self) -> bool:
        """The run recorded its end (every run from before starts were recorded did)."""
        return self.ended_at is not None

    @property
    def ok(self) -> bool:
        """Finished without failures: an unfinished run vouches for no file."""
        return self.finished and self.failures == 0

    @property
    def scheduled(self) -> bool:
        return self.run_by == SCHEDULED

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "started_at": as_utc(self.started_at).isoformat(),
                "ended_at": as_utc(self.ended_at).isoformat() if self.ended_at else None,
                "finished": self.finished, "run_by": self.run_by,
                "records_checked": self.records_checked, "files_checked": self.files_checked,
                "bytes_checked": self.bytes_checked, "failures": self.failures, "ok": self.ok}


@dataclass(frozen=True)
class FixityFailure:
    """One file of one record that a run found missing, changed or unreadable."""

    run_id: str
    record_id: str
    archival_ref: str
    """档号 of the record."""
    position: int
    """The file's position in the record (``archive_files.position``)."""
    role: FileRole
    problem: FixityProblem
    expected_sha256: str
    expected_sm3: str
    expected_size: int
    found_sha256: str | None
    """``None`` when the file is missing or could not be read."""
    found_sm3: str | None
    found_size: int | None
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "record_id": self.record_id,
                "archival_ref": self.archival_ref, "position": self.position,
                "role": str(self.role), "problem": str(self.problem),
                "expected": {"sha256": self.expected_sha256, "sm3": self.expected_sm3,
                             "size": self.expected_size},
                "found": {"sha256": self.found_sha256, "sm3": self.found_sm3,
                          "size": self.found_size},
                "detail": self.detail}


@dataclass(frozen=True)
class RecordFixity:
    """When a record's files were last checked by a fixity run, and with what result."""

    record_id: str
    last_run: FixityRun | None
    """``None``: no recorded run has checked this record yet (or it has no files)."""
    failures: tuple[FixityFailure, ...] = ()
    """This record's failures in :attr:`last_run`."""
    first_run_id: str | None = None
    earlier_failures: tuple[FixityFailure, ...] = ()
    """This record's failures in runs before :attr:`last_run`, newest first."""
    unfinished: tuple[FixityRun, ...] = ()
    """Runs started after :attr:`last_run` (after the record was archived, if none) that
    never finished, newest first: checks the record should have had, but did not get."""

    @property
    def checked(self) -> bool:
        return self.last_run is not None

    @property
    def ok(self) -> bool:
        """Checked, and its files were intact at the last check."""
        return self.last_run is not None and not self.failures

    def to_dict(self) -> dict[str, Any]:
        return {"record_id": self.record_id, "checked": self.checked, "ok": self.ok,
                "last_run": self.last_run.to_dict() if self.last_run else None,
                "failures": [f.to_dict() for f in self.failures],
                "first_run_id": self.first_run_id,
                "earlier_failures": [f.to_dict() for f in self.earlier_failures],
                "unfinished": [r.to_dict() for r in self.unfinished]}
