"""Export records to one transfer package (a ZIP; its layout is in :mod:`archive.package.layout`).

Every blob is re-hashed while it is copied, and the ZIP is written to a temporary file and
renamed, so a package is all or nothing. The receiver checks it with
:func:`archive.package.check_package`, which needs no database.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from ..errors import PackageError, StoreError
from ..hashing import both_hex
from ..model import AccessAction, ArchivedFile, ArchiveRecord, RecordState
from ..service import log_access, search, voids_of
from ..store import CHUNK, ContentStore
from .layout import PACKAGE_FORMAT, ROOT_CERTIFICATE, file_name


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


def _select(engine: Engine, filters: ExportFilters) -> list[ArchiveRecord]:
    """The records matching ``filters``, then the voids of those records."""
    chosen: list[ArchiveRecord] = []
    offset = 0
    while True:
        page = search(engine, **filters.__dict__, limit=1000, offset=offset, with_files=True)
        chosen += page
        if len(page) < 1000:
            break
        offset += 1000
    return chosen + voids_of(engine, [r.id for r in chosen])


Entry = dict[str, Any]
"""One file as ``manifest.json`` lists it: path, SHA-256, SM3, size."""


def _add(zf: zipfile.ZipFile, listed: list[Entry], path: str, data: bytes) -> None:
    """Write ``data`` into the package and list it."""
    s, m, n = both_hex([data])
    zf.writestr(path, data, compress_type=zipfile.ZIP_DEFLATED)
    listed.append({"path": path, "sha256": s, "sm3": m, "size": n})


def _copy(zf: zipfile.ZipFile, store: ContentStore, f: ArchivedFile, path: str,
          archival_ref: str) -> Entry:
    """Copy one stored file into the package, re-hashing it on the way; its entry."""
    with store.open(f.sha256) as src, zf.open(path, "w") as dst:
        def chunks() -> Iterator[bytes]:
            while chunk := src.read(CHUNK):
                dst.write(chunk)
                yield chunk
        s, m, n = both_hex(chunks())
    if s != f.sha256:
        raise PackageError(f"stored file {f.sha256} of {archival_ref} is "
                           "damaged (run fixity); nothing exported")
    return {"path": path, "sha256": s, "sm3": m, "size": n}


def _write_records(zf: zipfile.ZipFile, store: ContentStore, chosen: list[ArchiveRecord],
                   listed: list[Entry]) -> tuple[list[dict[str, Any]], int]:
    """Every record's files and metadata; the manifest's records, and the files' bytes."""
    manifest_records: list[dict[str, Any]] = []
    total = 0
    for r in chosen:
        base = f"records/{r.archival_ref}"
        paths: dict[str, str] = {}
        for f in r.files:
            entry = _copy(zf, store, f, f"{base}/{file_name(f.role, f.version)}",
                          r.archival_ref)
            listed.append(entry)
            paths[str(f.role) if f.version is None else f"{f.role}:v{f.version}"] = entry["path"]
            total += entry["size"]
        meta_path = f"{base}/metadata.json"
        _add(zf, listed, meta_path, json.dumps(r.to_dict(), ensure_ascii=False, indent=2,
                                               sort_keys=True).encode("utf-8"))
        manifest_records.append({
            "id": r.id, "archival_ref": r.archival_ref, "kind": str(r.kind),
            "document_id": r.document_id, "metadata": meta_path, "files": paths})
    return manifest_records, total


def _write_manifests(zf: zipfile.ZipFile, records: list[dict[str, Any]], listed: list[Entry],
                     root_name: str | None) -> None:
    """``manifest.json`` and the checksum lists for ``sha256sum -c`` and SM3 tools."""
    manifest = {"format": PACKAGE_FORMAT,
                "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "root_certificate": root_name, "records": records, "files": listed}
    zf.writestr("manifest.json", json.dumps(manifest, ensure_ascii=False, indent=2),
                compress_type=zipfile.ZIP_DEFLATED)
    for algo in ("sha256", "sm3"):
        zf.writestr(f"manifest-{algo}.txt", "".join(
            f"{f[algo]}  {f['path']}\n" for f in listed), compress_type=zipfile.ZIP_DEFLATED)


def export_package(engine: Engine, store: ContentStore, out_zip: str | os.PathLike[str],
                   filters: ExportFilters | None = None, *, root_cert_pem: bytes | None = None,
                   who: str = "", why: str = "") -> ExportSummary:
    """Write the records matching ``filters`` to ``out_zip`` (atomically: all or nothing).

    Every blob is re-hashed while it is copied; a damaged one stops the export. With ``who``
    and ``why`` each exported record gets an ``export`` line in the access log.
    """
    out = Path(out_zip)
    chosen = _select(engine, filters or ExportFilters())
    listed: list[Entry] = []
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        with zipfile.ZipFile(tmp, "w", allowZip64=True) as zf:
            records, total = _write_records(zf, store, chosen, listed)
            root_name = None
            if root_cert_pem:
                root_name = ROOT_CERTIFICATE
                _add(zf, listed, root_name, root_cert_pem)
            _write_manifests(zf, records, listed, root_name)
        os.replace(tmp, out)
    except (OSError, zipfile.BadZipFile, StoreError) as e:
        raise PackageError(f"cannot write package {out}: {e}") from e
    finally:
        tmp.unlink(missing_ok=True)
    if who and why:
        for r in chosen:
            log_access(engine, who, AccessAction.EXPORT, why, r.id)
    return ExportSummary(out, len(chosen), len(listed), total)
