"""What the archive holds, as plain frozen dataclasses: records, files, signers, access entries.

No SQL and no I/O here. The archival reference (档号) scheme and the retention codes live here
too, because an archivist reads them on paper: ``<school code>-XJ-<year>-<retention>-<seq>``,
e.g. ``13579-XJ-2024-Y-00042`` (XJ = 学籍; retention codes after DA/T 22: Y 永久, D30 定期30年,
D10 定期10年; ``seq`` counts per school, year and retention, from 1, five digits or more).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from enum import StrEnum
from typing import Any

from .errors import ArchiveInputError

BEIJING = timezone(timedelta(hours=8), "UTC+8")
SERIES = "XJ"
"""Archival series code of student-status (学籍) records."""


class RecordKind(StrEnum):
    ORIGINAL = "original"
    """A sealed document as first archived."""
    VOID = "void"
    """Voids the record it points at; carries the reason and the signed void chain."""
    CORRECTION = "correction"
    """A corrected document that supersedes the record it points at."""


class RecordState(StrEnum):
    """Derived from later records, never stored: records are write-once."""

    VALID = "valid"
    VOIDED = "voided"
    SUPERSEDED = "superseded"


class FileRole(StrEnum):
    FINAL_PDF = "final_pdf"
    CHAIN_JSON = "chain_json"
    SUPERSEDED_VERSION_PDF = "superseded_version_pdf"
    VOID_CHAIN_JSON = "void_chain_json"


class Retention(StrEnum):
    """Retention period, valued by its DA/T 22 code."""

    PERMANENT = "Y"
    YEARS_30 = "D30"
    YEARS_10 = "D10"

    @property
    def label(self) -> str:
        return {"Y": "永久", "D30": "30年", "D10": "10年"}[self.value]

    @classmethod
    def parse(cls, value: str | Retention) -> Retention:
        """Accept a code (``Y``/``D30``/``D10``) or the label a form schema uses (``永久``...)."""
        if isinstance(value, Retention):
            return value
        labels = {"永久": cls.PERMANENT, "30年": cls.YEARS_30, "10年": cls.YEARS_10}
        try:
            return labels.get(value) or cls(value)
        except ValueError as e:
            raise ArchiveInputError(f"unknown retention period {value!r}") from e


class AccessAction(StrEnum):
    RETRIEVE = "retrieve"
    DOWNLOAD = "download"
    EXPORT = "export"
    VERIFY = "verify"


_SCHOOL_CODE = re.compile(r"[0-9A-Za-z]{1,16}")


def archival_reference(school_code: str, year: int, retention: Retention, seq: int) -> str:
    """The 档号: ``<school code>-XJ-<year>-<retention code>-<seq:05d>``."""
    if not _SCHOOL_CODE.fullmatch(school_code):
        raise ArchiveInputError(f"school code must be 1-16 letters or digits: {school_code!r}")
    return f"{school_code}-{SERIES}-{year:04d}-{retention.value}-{seq:05d}"


def as_utc(at: datetime) -> datetime:
    """Timezone-aware UTC; naive values (as SQLite returns them) are taken to be UTC."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


@dataclass(frozen=True)
class Signer:
    """One signature on the document, as the public page shows it."""

    role: str
    name: str
    at: str
    """UTC ISO-8601 with ``Z`` (as in the chain record)."""
    decision: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"role": self.role, "name": self.name, "at": self.at, "decision": self.decision}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Signer:
        return cls(str(d["role"]), str(d["name"]), str(d["at"]), str(d.get("decision", "")))


@dataclass(frozen=True)
class SupersededVersion:
    """An earlier version of the document (rejected and re-issued), kept with the final one."""

    version: int
    pdf: bytes


@dataclass(frozen=True)
class ArchiveInput:
    """Everything needed to archive one sealed document version."""

    document_id: str
    version: int
    form_id: str
    form_title: str
    number: str
    """文号, e.g. ``2024年第12号``."""
    student_no: str
    student_name: str
    college: str
    issued_on: date
    sealed_at: datetime
    final_pdf: bytes
    chain_json: bytes
    """The ``chain.json`` document (signing.records.chain_document_bytes)."""
    retention: Retention | str
    school_code: str
    series_id: str = ""
    """Groups documents of one case (e.g. a withdrawal and its later correction)."""
    signers: tuple[Signer, ...] = ()
    """Empty: taken from the chain records."""
    superseded: tuple[SupersededVersion, ...] = ()
    archived_by: str = ""


@dataclass(frozen=True)
class ArchivedFile:
    role: FileRole
    sha256: str
    sm3: str
    size: int
    version: int | None = None
    """For a superseded version's PDF: which version it was."""

    def to_dict(self) -> dict[str, Any]:
        return {"role": str(self.role), "sha256": self.sha256, "sm3": self.sm3,
                "size": self.size, "version": self.version}


@dataclass(frozen=True)
class ArchiveRecord:
    """One archive record as read back, with its state derived from later records."""

    id: str
    kind: RecordKind
    points_to: str | None
    archival_ref: str
    """档号."""
    document_id: str
    series_id: str
    version: int
    form_id: str
    form_title: str
    number: str
    student_no: str
    student_name: str
    college: str
    issued_on: date
    sealed_at: datetime
    signers: tuple[Signer, ...]
    retention: Retention
    sha256: str
    """Of the final PDF (of the void chain for a void record)."""
    sm3: str
    size: int
    chain_sha256: str
    reason: str
    recorded_by: str
    created_at: datetime
    state: RecordState = RecordState.VALID
    voided_by: str | None = None
    """Id of the void record, when voided."""
    superseded_by: str | None = None
    """Id of the record that replaces this one (a correction or a later version)."""
    files: tuple[ArchivedFile, ...] = field(default=())

    def file(self, role: FileRole) -> ArchivedFile | None:
        return next((f for f in self.files if f.role == role), None)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready metadata (dates as ISO strings), as written into transfer packages."""
        return {
            "id": self.id, "kind": str(self.kind), "points_to": self.points_to,
            "archival_ref": self.archival_ref, "document_id": self.document_id,
            "series_id": self.series_id, "version": self.version, "form_id": self.form_id,
            "form_title": self.form_title, "number": self.number,
            "student_no": self.student_no, "student_name": self.student_name,
            "college": self.college, "issued_on": self.issued_on.isoformat(),
            "sealed_at": as_utc(self.sealed_at).isoformat(),
            "signers": [s.to_dict() for s in self.signers],
            "retention": str(self.retention), "retention_label": self.retention.label,
            "sha256": self.sha256, "sm3": self.sm3, "size": self.size,
            "chain_sha256": self.chain_sha256, "reason": self.reason,
            "recorded_by": self.recorded_by, "created_at": as_utc(self.created_at).isoformat(),
            "state": str(self.state), "voided_by": self.voided_by,
            "superseded_by": self.superseded_by,
            "files": [f.to_dict() for f in self.files],
        }


@dataclass(frozen=True)
class AccessEntry:
    id: str
    at: datetime
    who: str
    action: AccessAction
    why: str
    record_id: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "at": as_utc(self.at).isoformat(), "who": self.who,
                "action": str(self.action), "why": self.why, "record_id": self.record_id}
