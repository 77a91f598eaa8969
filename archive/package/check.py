"""Check a transfer package with no database at all: a report, never an exception.

:func:`check_package` needs only the ZIP (and ``signing``): checksums, that the manifest lists
every file and every file listed is there, that each record's metadata names its own files,
and, when a root certificate is given or inside the package, every PDF signature, the chain
and the seal via :func:`signing.verify.verify_pdf`. A root found only inside the package is
self-asserted: the report says so (:attr:`TrustRootSource.PACKAGE`), and a receiver who has
the root from elsewhere passes it as ``trust_roots``.
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from cryptography import x509

from signing.verify import verify_pdf

from ..hashing import both_hex, sha256_hex
from ..model import FileRole
from ..store import CHUNK
from .layout import META_FILES, PACKAGE_FORMAT


class SignatureCheck(StrEnum):
    """What became of a packaged record's signatures."""

    VALID = "valid"
    INVALID = "invalid"
    NOT_CHECKED = "not_checked"
    """No trust root: given none, and the package holds none."""
    NO_PDF = "no_pdf"
    """The record has no final PDF (a void record)."""


class TrustRootSource(StrEnum):
    """Where the root certificate the signatures were checked against came from."""

    GIVEN = "given"
    """Passed by the receiver."""
    PACKAGE = "package"
    """Found inside the package: self-asserted."""
    NONE = "none"
    """None at all: the signatures were not checked."""


@dataclass(frozen=True)
class RecordCheck:
    """One record of the package as checked: its signatures and anything wrong with it."""

    archival_ref: str
    document_id: str
    kind: str
    signatures: SignatureCheck
    problems: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems and self.signatures != SignatureCheck.INVALID

    def to_dict(self) -> dict[str, Any]:
        return {"archival_ref": self.archival_ref, "document_id": self.document_id,
                "kind": self.kind, "signatures": self.signatures.value, "ok": self.ok,
                "problems": list(self.problems)}


@dataclass(frozen=True)
class PackageReport:
    """What :func:`check_package` checked and found; ``ok`` when nothing failed."""

    path: str
    files_checked: int
    problems: tuple[str, ...]
    records: tuple[RecordCheck, ...] = field(default=())
    trust_root_source: TrustRootSource = TrustRootSource.NONE

    @property
    def signatures_checked(self) -> bool:
        return self.trust_root_source != TrustRootSource.NONE

    @property
    def ok(self) -> bool:
        return not self.problems and all(r.ok for r in self.records)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "path": self.path, "files_checked": self.files_checked,
                "trust_root_source": self.trust_root_source.value, "problems": list(self.problems),
                "records": [r.to_dict() for r in self.records]}


def _safe(name: str) -> bool:
    parts = name.split("/")
    return not name.startswith("/") and ".." not in parts and "\\" not in name


def check_package(zip_path: str | os.PathLike[str],
                  trust_roots: Sequence[x509.Certificate] | None = None) -> PackageReport:
    """Verify a transfer package offline; never raises for a bad package (see the report)."""
    path = str(zip_path)
    try:
        zf = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as e:
        return PackageReport(path, 0, (f"not a readable ZIP: {e}",))
    with zf:
        return _check_open(zf, path, trust_roots)


def _check_open(zf: zipfile.ZipFile, path: str,
                trust_roots: Sequence[x509.Certificate] | None) -> PackageReport:
    problems: list[str] = []
    names = set(zf.namelist())
    problems += [f"unsafe path in package: {n}" for n in sorted(names) if not _safe(n)]
    try:
        manifest = json.loads(zf.read("manifest.json").decode("utf-8"))
        if manifest.get("format") != PACKAGE_FORMAT:
            raise ValueError(f"unknown format {manifest.get('format')!r}")
        listed = {f["path"]: f for f in manifest["files"]}
        records = manifest["records"]
    except (KeyError, ValueError, TypeError, UnicodeDecodeError, zipfile.BadZipFile) as e:
        return PackageReport(path, 0, tuple(problems + [f"manifest.json unusable: {e}"]))

    good: set[str] = set()
    for p, entry in sorted(listed.items()):
        if p not in names:
            problems.append(f"missing from package: {p}")
            continue
        try:
            with zf.open(p) as f:
                s, m, n = both_hex(iter(lambda: f.read(CHUNK), b""))  # noqa: B023
        except (OSError, zipfile.BadZipFile) as e:
            problems.append(f"unreadable: {p}: {e}")
            continue
        bad = [k for k, v in (("sha256", s), ("sm3", m), ("size", n)) if entry.get(k) != v]
        if bad:
            problems.append(f"checksum mismatch ({', '.join(bad)}): {p}")
        else:
            good.add(p)
    problems += [f"not in manifest: {n}" for n in sorted(names - set(listed) - META_FILES)
                 if not n.endswith("/")]

    source = TrustRootSource.NONE
    roots = list(trust_roots or [])
    if roots:
        source = TrustRootSource.GIVEN
    elif manifest.get("root_certificate") in good:
        try:
            roots = [x509.load_pem_x509_certificate(zf.read(manifest["root_certificate"]))]
            source = TrustRootSource.PACKAGE
        except ValueError as e:
            problems.append(f"root certificate unreadable: {e}")

    checks = tuple(_check_record(zf, r, good, roots) for r in records)
    return PackageReport(path, len(listed), tuple(problems), checks, source)


def _check_record(zf: zipfile.ZipFile, entry: dict[str, Any], good: set[str],
                  roots: list[x509.Certificate]) -> RecordCheck:
    problems: list[str] = []
    ref = str(entry.get("archival_ref", "?"))
    meta_path = entry.get("metadata", "")
    files = entry.get("files", {})
    meta: dict[str, Any] = {}
    if meta_path not in good:
        problems.append("metadata.json missing or damaged")
    else:
        meta = json.loads(zf.read(meta_path).decode("utf-8"))
        if meta.get("archival_ref") != ref or meta.get("id") != entry.get("id"):
            problems.append("metadata.json belongs to another record")
    for role, p in files.items():
        if p not in good:
            problems.append(f"{role} file missing or damaged")
    listed_hashes = {f["role"]: f["sha256"] for f in meta.get("files", [])
                     if f.get("version") is None}
    final = files.get(FileRole.FINAL_PDF.value)
    status = SignatureCheck.NO_PDF
    if final and final in good:
        pdf = zf.read(final)
        if meta and not (sha256_hex(pdf) == meta.get("sha256")
                         == listed_hashes.get(FileRole.FINAL_PDF.value)):
            problems.append("final.pdf is not the file the metadata describes")
        if not roots:
            status = SignatureCheck.NOT_CHECKED
        else:
            report = verify_pdf(pdf, roots, expected_document_id=str(entry.get("document_id")))
            status = SignatureCheck.VALID if report.ok else SignatureCheck.INVALID
            problems += [f"signature: {f}" for f in report.failures]
    return RecordCheck(ref, str(entry.get("document_id", "")), str(entry.get("kind", "")),
                       status, tuple(problems))
