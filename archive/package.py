"""Transfer packages: export records to one ZIP, and check a ZIP with no database at all.

Layout of a package (``doc-service-archive-package/1``)::

    manifest.json            format, creation time, records, every file with SHA-256, SM3, size
    manifest-sha256.txt      the same checksums for ``sha256sum -c`` after unzipping
    manifest-sm3.txt         the same in SM3 (``gmssl sm3`` / ``openssl dgst -sm3``)
    root-ca.pem              the institution root certificate, when given
    records/<档号>/metadata.json, final.pdf, chain.json, superseded-v<N>.pdf, void-chain.json

:func:`check_package` needs only the ZIP (and ``signing``): checksums, that the manifest lists
every file and every file listed is there, that each record's metadata names its own files,
and, when a root certificate is given or inside the package, every PDF signature, the chain
and the seal via :func:`signing.verify.verify_pdf`. A root found only inside the package is
self-asserted: the report says so, and a receiver who has the root from elsewhere passes it
as ``trust_roots``.

Backup and restore of the whole archive are in :mod:`archive.backup` and
:mod:`archive.restore` (re-exported here): ``backup(engine, store, out_dir)`` writes the
index as JSON lines plus every indexed blob; ``restore(engine, store, backup_dir)`` checks
that backup against itself and the archive, and adds what the archive lacks.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from .backup import BackupSummary, backup  # noqa: F401 - re-exported
from .errors import ArchiveIndexError, PackageError, StoreError
from .hashing import both_hex, sha256_hex
from .index import records as rec
from .model import AccessAction, ArchiveRecord, FileRole, RecordKind, RecordState
from .restore import restore  # noqa: F401 - re-exported
from .service import _load, log_access, search
from .store import CHUNK, ContentStore

PACKAGE_FORMAT = "doc-service-archive-package/1"
_META_FILES = {"manifest.json", "manifest-sha256.txt", "manifest-sm3.txt"}
_NAMES = {FileRole.FINAL_PDF: "final.pdf", FileRole.CHAIN_JSON: "chain.json",
          FileRole.VOID_CHAIN_JSON: "void-chain.json"}


@dataclass(frozen=True)
class ExportFilters:
    """Which records to export; ``None`` means any. Voids of exported records come along."""

    student_no: str | None = None
    name: str | None = None
    number: str | None = None
    form_id: str | None = None
    college: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    state: RecordState | str | None = None


@dataclass(frozen=True)
class ExportSummary:
    path: Path
    records: int
    files: int
    bytes: int


def _file_name(role: FileRole, version: int | None) -> str:
    if role == FileRole.SUPERSEDED_VERSION_PDF:
        return f"superseded-v{version}.pdf"
    return _NAMES[role]


def _select(engine: Engine, filters: ExportFilters) -> list[ArchiveRecord]:
    chosen: list[ArchiveRecord] = []
    offset = 0
    while True:
        page = search(engine, **filters.__dict__, limit=1000, offset=offset, with_files=True)
        chosen += page
        if len(page) < 1000:
            break
        offset += 1000
    ids = [r.id for r in chosen]
    try:
        with engine.connect() as conn:
            for i in range(0, len(ids), 500):
                chosen += _load(conn, (rec.c.points_to.in_(ids[i:i + 500]))
                                & (rec.c.kind == RecordKind.VOID.value))
    except SQLAlchemyError as e:
        raise ArchiveIndexError(f"cannot read the archive index: {e}") from e
    return chosen


def export_package(engine: Engine, store: ContentStore, out_zip: str | os.PathLike[str],
                   filters: ExportFilters | None = None, *, root_cert_pem: bytes | None = None,
                   who: str = "", why: str = "") -> ExportSummary:
    """Write the records matching ``filters`` to ``out_zip`` (atomically: all or nothing).

    Every blob is re-hashed while it is copied; a damaged one stops the export. With ``who``
    and ``why`` each exported record gets an ``export`` line in the access log.
    """
    out = Path(out_zip)
    chosen = _select(engine, filters or ExportFilters())
    manifest_files: list[dict[str, Any]] = []
    manifest_records: list[dict[str, Any]] = []
    total = 0
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        with zipfile.ZipFile(tmp, "w", allowZip64=True) as zf:
            def add(path: str, data: bytes) -> None:
                s, m, n = both_hex([data])
                zf.writestr(path, data, compress_type=zipfile.ZIP_DEFLATED)
                manifest_files.append({"path": path, "sha256": s, "sm3": m, "size": n})

            for r in chosen:
                base = f"records/{r.archival_ref}"
                paths: dict[str, str] = {}
                for f in r.files:
                    path = f"{base}/{_file_name(f.role, f.version)}"
                    with store.open(f.sha256) as src, zf.open(path, "w") as dst:
                        def chunks():  # type: ignore[no-untyped-def]
                            while chunk := src.read(CHUNK):
                                dst.write(chunk)
                                yield chunk
                        s, m, n = both_hex(chunks())
                    if s != f.sha256:
                        raise PackageError(f"stored file {f.sha256} of {r.archival_ref} is "
                                           "damaged (run fixity); nothing exported")
                    manifest_files.append({"path": path, "sha256": s, "sm3": m, "size": n})
                    paths[str(f.role) if f.version is None else f"{f.role}:v{f.version}"] = path
                    total += n
                meta_path = f"{base}/metadata.json"
                add(meta_path, json.dumps(r.to_dict(), ensure_ascii=False, indent=2,
                                          sort_keys=True).encode("utf-8"))
                manifest_records.append({
                    "id": r.id, "archival_ref": r.archival_ref, "kind": str(r.kind),
                    "document_id": r.document_id, "metadata": meta_path, "files": paths})
            root_name = None
            if root_cert_pem:
                root_name = "root-ca.pem"
                add(root_name, root_cert_pem)
            manifest = {"format": PACKAGE_FORMAT,
                        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                        "root_certificate": root_name, "records": manifest_records,
                        "files": manifest_files}
            zf.writestr("manifest.json", json.dumps(manifest, ensure_ascii=False, indent=2),
                        compress_type=zipfile.ZIP_DEFLATED)
            for algo in ("sha256", "sm3"):
                zf.writestr(f"manifest-{algo}.txt", "".join(
                    f"{f[algo]}  {f['path']}\n" for f in manifest_files),
                    compress_type=zipfile.ZIP_DEFLATED)
        os.replace(tmp, out)
    except (OSError, zipfile.BadZipFile, StoreError) as e:
        raise PackageError(f"cannot write package {out}: {e}") from e
    finally:
        tmp.unlink(missing_ok=True)
    if who and why:
        for r in chosen:
            log_access(engine, who, AccessAction.EXPORT, why, r.id)
    return ExportSummary(out, len(chosen), len(manifest_files), total)


# ====================================================================== checking
@dataclass(frozen=True)
class RecordCheck:
    archival_ref: str
    document_id: str
    kind: str
    signatures: str
    """``valid``, ``invalid``, ``not_checked`` (no root) or ``no_pdf`` (a void record)."""
    problems: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems and self.signatures != "invalid"

    def to_dict(self) -> dict[str, Any]:
        return {"archival_ref": self.archival_ref, "document_id": self.document_id,
                "kind": self.kind, "signatures": self.signatures, "ok": self.ok,
                "problems": list(self.problems)}


@dataclass(frozen=True)
class PackageReport:
    """What :func:`check_package` checked and found; ``ok`` when nothing failed."""

    path: str
    files_checked: int
    problems: tuple[str, ...]
    records: tuple[RecordCheck, ...] = field(default=())
    trust_root_source: str = "none"
    """``given`` (passed by the receiver), ``package`` (self-asserted) or ``none``."""

    @property
    def signatures_checked(self) -> bool:
        return self.trust_root_source != "none"

    @property
    def ok(self) -> bool:
        return not self.problems and all(r.ok for r in self.records)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "path": self.path, "files_checked": self.files_checked,
                "trust_root_source": self.trust_root_source, "problems": list(self.problems),
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
    problems += [f"not in manifest: {n}" for n in sorted(names - set(listed) - _META_FILES)
                 if not n.endswith("/")]

    source = "none"
    roots = list(trust_roots or [])
    if roots:
        source = "given"
    elif manifest.get("root_certificate") in good:
        try:
            roots = [x509.load_pem_x509_certificate(zf.read(manifest["root_certificate"]))]
            source = "package"
        except ValueError as e:
            problems.append(f"root certificate unreadable: {e}")

    checks = tuple(_check_record(zf, r, good, roots) for r in records)
    return PackageReport(path, len(listed), tuple(problems), checks, source)


def _check_record(zf: zipfile.ZipFile, entry: dict[str, Any], good: set[str],
                  roots: list[x509.Certificate]) -> RecordCheck:
    from signing.verify import verify_pdf

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
    status = "no_pdf"
    if final and final in good:
        pdf = zf.read(final)
        if meta and not (sha256_hex(pdf) == meta.get("sha256")
                         == listed_hashes.get(FileRole.FINAL_PDF.value)):
            problems.append("final.pdf is not the file the metadata describes")
        if not roots:
            status = "not_checked"
        else:
            report = verify_pdf(pdf, roots, expected_document_id=str(entry.get("document_id")))
            status = "valid" if report.ok else "invalid"
            problems += [f"signature: {f}" for f in report.failures]
    return RecordCheck(ref, str(entry.get("document_id", "")), str(entry.get("kind", "")),
                       status, tuple(problems))
