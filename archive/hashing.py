"""The two digests every archived file carries: SHA-256 (fixity) and SM3 (GB/T 32905).

SHA-256 is the fixity hash and the blob's name in the store; SM3 is recorded beside it because
Chinese archival practice asks for the national algorithm. ``cryptography`` provides SM3.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from cryptography.hazmat.primitives import hashes


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sm3_hex(data: bytes) -> str:
    h = hashes.Hash(hashes.SM3())
    h.update(data)
    return h.finalize().hex()


def both_hex(chunks: Iterable[bytes]) -> tuple[str, str, int]:
    """(SHA-256 hex, SM3 hex, size) of the concatenated ``chunks``, in one pass."""
    s = hashlib.sha256()
    m = hashes.Hash(hashes.SM3())
    n = 0
    for c in chunks:
        s.update(c)
        m.update(c)
        n += len(c)
    return s.hexdigest(), m.finalize().hex(), n
