"""Chain records: one signed, hash-linked entry per decision, in one canonical form.

A record binds a decision to the exact PDF bytes the signer was shown (``doc_sha256``), to the
record before it (``prev_hash``), and to the signer's certificate (``cert_fingerprint``); the
signer's key signs the canonical bytes of every other field. The canonical form is JSON with
sorted keys, UTF-8 (no ``\\u`` escapes) and no insignificant whitespace; it is pinned by the
golden vectors in ``tests/signing/vectors``. Standard library and ``cryptography`` only.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from .errors import RecordError

GENESIS_HASH = "0" * 64
"""``prev_hash`` of the record at position 0."""

CHAIN_FORMAT = "doc-service-chain/1"
"""Format tag of the chain document embedded in PDFs (``chain.json``)."""


class Decision(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    ACKNOWLEDGE = "acknowledge"
    SEAL = "seal"
    VOID = "void"


def canonical_json(obj: Any) -> bytes:
    """The one serialization used for hashing and signing: sorted keys, UTF-8, compact."""
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode(
        "utf-8"
    )


def utc_timestamp(at: datetime | None = None) -> str:
    """UTC ISO-8601 with ``Z`` and seconds precision, e.g. ``2024-09-01T08:30:00Z``."""
    at = at or datetime.now(UTC)
    if at.tzinfo is None:
        raise RecordError("timestamps must be timezone-aware")
    return at.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_timestamp(value: str) -> datetime:
    try:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError as e:
        raise RecordError(f"bad timestamp {value!r}") from e


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class ChainRecord:
    """One decision in an approval chain, as stored in the database and in ``chain.json``."""

    position: int
    """0-based index in the chain."""
    document_id: str
    document_version: int
    role: str
    """Role of the step, e.g. ``student``, ``class_teacher``, ``college_head``, ``registrar``."""
    signer_id: str
    signer_name: str
    decision: Decision
    comment: str
    at: str
    """UTC ISO-8601 with ``Z``, seconds precision."""
    doc_sha256: str
    """Hex SHA-256 of the exact PDF bytes the signer was shown."""
    prev_hash: str
    """``record_hash`` of the previous record, or :data:`GENESIS_HASH`."""
    cert_fingerprint: str
    """Hex SHA-256 of the DER of the signer's certificate."""
    signature: str = ""
    """Base64 signature by the signer's key over :meth:`signing_bytes`; empty until signed."""

    def signed_fields(self) -> dict[str, Any]:
        """Every field but the signature, as plain JSON values."""
        d = asdict(self)
        d.pop("signature")
        d["decision"] = str(self.decision)
        return d

    def signing_bytes(self) -> bytes:
        """Canonical bytes the signer's key signs."""
        return canonical_json(self.signed_fields())

    def canonical_bytes(self) -> bytes:
        """Canonical bytes of the whole record, signature included; hashed into ``record_hash``."""
        return canonical_json(self.signed_fields() | {"signature": self.signature})

    @property
    def record_hash(self) -> str:
        return sha256_hex(self.canonical_bytes())

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict including the derived ``record_hash`` (checked by :meth:`from_dict`)."""
        return self.signed_fields() | {"signature": self.signature, "record_hash": self.record_hash}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ChainRecord:
        names = {f.name for f in fields(cls)}
        missing = names - set(data)
        if missing:
            raise RecordError(f"record lacks fields: {', '.join(sorted(missing))}")
        extra = set(data) - names - {"record_hash"}
        if extra:
            raise RecordError(f"record has unknown fields: {', '.join(sorted(extra))}")
        try:
            values = {n: data[n] for n in names}
            values["decision"] = Decision(values["decision"])
            record = cls(**values)
        except (TypeError, ValueError) as e:
            raise RecordError(f"malformed record: {e}") from e
        if not isinstance(record.position, int) or not isinstance(record.document_version, int):
            raise RecordError("position and document_version must be integers")
        return record


def _sign_bytes(private_key: Any, data: bytes) -> bytes:
    if isinstance(private_key, rsa.RSAPrivateKey):
        return private_key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    if isinstance(private_key, ec.EllipticCurvePrivateKey):
        return private_key.sign(data, ec.ECDSA(hashes.SHA256()))
    if isinstance(private_key, ed25519.Ed25519PrivateKey):
        return private_key.sign(data)
    raise RecordError(f"unsupported key type {type(private_key).__name__}")


def verify_signature_bytes(public_key: Any, signature: bytes, data: bytes) -> bool:
    """RSA PKCS#1 v1.5 / ECDSA with SHA-256, or Ed25519, matching :func:`sign_record`."""
    try:
        if isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
        elif isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
        elif isinstance(public_key, ed25519.Ed25519PublicKey):
            public_key.verify(signature, data)
        else:
            return False
    except InvalidSignature:
        return False
    return True


def sign_record(record: ChainRecord, private_key: Any) -> ChainRecord:
    """Return ``record`` with its signature made by ``private_key`` over :meth:`signing_bytes`."""
    sig = _sign_bytes(private_key, record.signing_bytes())
    return replace(record, signature=base64.b64encode(sig).decode("ascii"))


def verify_record_signature(record: ChainRecord, public_key: Any) -> bool:
    try:
        sig = base64.b64decode(record.signature, validate=True)
    except (binascii.Error, ValueError):
        return False
    return bool(sig) and verify_signature_bytes(public_key, sig, record.signing_bytes())


def chain_document(
    document_id: str, document_version: int, records: Sequence[ChainRecord]
) -> dict[str, Any]:
    """The ``chain.json`` document that travels inside the PDF."""
    return {
        "format": CHAIN_FORMAT,
        "document_id": document_id,
        "document_version": document_version,
        "records": [r.to_dict() for r in records],
    }


def chain_document_bytes(
    document_id: str, document_version: int, records: Sequence[ChainRecord]
) -> bytes:
    return canonical_json(chain_document(document_id, document_version, records))


def parse_chain_document(data: bytes) -> tuple[str, int, list[ChainRecord]]:
    """Parse ``chain.json``; return (document_id, document_version, records)."""
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise RecordError("chain.json is not valid UTF-8 JSON") from e
    if not isinstance(doc, dict) or doc.get("format") != CHAIN_FORMAT:
        raise RecordError("chain.json has an unknown format")
    raw = doc.get("records")
    if not isinstance(raw, list):
        raise RecordError("chain.json has no record list")
    return str(doc.get("document_id")), int(doc.get("document_version", -1)), [
        ChainRecord.from_dict(r) for r in raw
    ]
