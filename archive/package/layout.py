"""The transfer package's layout, shared by the writer and the checker.

A package (``doc-service-archive-package/1``) is one ZIP::

    manifest.json            format, creation time, records, every file with SHA-256, SM3, size
    manifest-sha256.txt      the same checksums for ``sha256sum -c`` after unzipping
    manifest-sm3.txt         the same in SM3 (``gmssl sm3`` / ``openssl dgst -sm3``)
    root-ca.pem              the institution root certificate, when given
    records/<档号>/metadata.json, final.pdf, chain.json, superseded-v<N>.pdf, void-chain.json
"""

from __future__ import annotations

from ..model import FileRole

PACKAGE_FORMAT = "doc-service-archive-package/1"
META_FILES = frozenset({"manifest.json", "manifest-sha256.txt", "manifest-sm3.txt"})
"""The package's own files: listed in no manifest."""
ROOT_CERTIFICATE = "root-ca.pem"
_NAMES = {FileRole.FINAL_PDF: "final.pdf", FileRole.CHAIN_JSON: "chain.json",
          FileRole.VOID_CHAIN_JSON: "void-chain.json"}


def file_name(role: FileRole, version: int | None) -> str:
    """The name of a record's file in its folder of the package."""
    if role == FileRole.SUPERSEDED_VERSION_PDF:
        return f"superseded-v{version}.pdf"
    return _NAMES[role]
