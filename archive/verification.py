"""A record's proof, as the archive office opens it: fixity of its files and its signatures.

Joins the archive (files, hashes, the stored chain) with :func:`signing.verify.verify_pdf`,
which checks every PDF signature, the seal and the embedded chain against the chain stored at
archiving time. (Whether an uploaded PDF is a genuine document is the application's question,
answered from its own documents and their signatures, not here.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from sqlalchemy import Engine

from signing.errors import RecordError
from signing.records import parse_chain_document
from signing.verify import VerificationReport, verify_pdf

from .errors import BlobNotFoundError
from .fixity import FixityProblem
from .model import ArchiveRecord, FileRole, RecordKind
from .service import get_record
from .store import ContentStore, verify_blob


@dataclass(frozen=True)
class FileFixity:
    """One file of the record, re-hashed: intact, or what is wrong with it."""

    role: FileRole
    sha256: str
    ok: bool
    problem: FixityProblem | None = None
    """``None`` when the file is intact."""


@dataclass(frozen=True)
class RecordVerification:
    """A record's files re-hashed and its final PDF's signatures checked."""

    record: ArchiveRecord
    fixity: tuple[FileFixity, ...]
    signatures: VerificationReport | None
    """``None`` for a void record, or when the final PDF could not be read."""

    @property
    def ok(self) -> bool:
        sig_ok = self.signatures.ok if self.signatures is not None else (
            self.record.kind == RecordKind.VOID)
        return all(f.ok for f in self.fixity) and sig_ok

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "record": self.record.to_dict(),
                "fixity": [{"role": str(f.role), "sha256": f.sha256, "ok": f.ok,
                            "problem": f.problem.value if f.problem else None}
                           for f in self.fixity],
                "signatures": self.signatures.to_dict() if self.signatures else None}


def verify_record(engine: Engine, store: ContentStore, record_id: str,
                  trust_roots: Sequence[x509.Certificate]) -> RecordVerification:
    """Re-hash the record's files and verify its final PDF against the stored chain."""
    record = get_record(engine, record_id)
    fixity = []
    for f in record.files:
        try:
            same, _ = verify_blob(store, f.sha256)
            fixity.append(FileFixity(f.role, f.sha256, same,
                                     None if same else FixityProblem.CHANGED))
        except BlobNotFoundError:
            fixity.append(FileFixity(f.role, f.sha256, False, FixityProblem.MISSING))
    report = None
    final = record.file(FileRole.FINAL_PDF)
    if final is not None and all(x.ok for x in fixity if x.role == FileRole.FINAL_PDF):
        expected = None
        chain = record.file(FileRole.CHAIN_JSON)
        if chain is not None:
            try:
                _, _, expected = parse_chain_document(store.get(chain.sha256))
            except RecordError:
                expected = None  # verify_pdf then reports the embedded chain on its own
        report = verify_pdf(store.get(final.sha256), trust_roots,
                            expected_document_id=record.document_id, expected_records=expected)
    return RecordVerification(record, tuple(fixity), report)

