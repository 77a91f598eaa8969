"""Small fakes for the ports a use case takes, passed in instead of patching module attributes.

Each section names the use cases and tests it serves; add a section of your own below the
others rather than growing someone else's fake.
"""

from __future__ import annotations

import threading
from typing import Protocol

# ---- file store: racers held after reading (decisions.record_decision; tests/web/test_races.py)


class ContentStore(Protocol):
    """What the services need of a content store (``Runtime.store``)."""

    def put(self, data: bytes) -> str: ...

    def get(self, sha256: str) -> bytes: ...


class HeldStore:
    """A content store that holds its first ``parties`` reads at one barrier, then passes
    every call through to ``inner``.

    ``record_decision`` reads the PDF revision once it has checked and planned the decision,
    and before it signs. Holding the racers there means each has passed every check before
    any of them commits, so only the database's ``lock_version`` check can decide.
    """

    def __init__(self, inner: ContentStore, parties: int = 2, *, timeout: float = 60) -> None:
        self._inner = inner
        self._barrier = threading.Barrier(parties)
        self._timeout = timeout
        self._left = parties
        self._lock = threading.Lock()
        self.held = 0
        """How many reads were held (the test checks that every racer got that far)."""

    def get(self, sha256: str) -> bytes:
        with self._lock:
            hold = self._left > 0
            self._left -= hold
            self.held += hold
        if hold:
            self._barrier.wait(timeout=self._timeout)
        return self._inner.get(sha256)

    def put(self, data: bytes) -> str:
        return self._inner.put(data)
