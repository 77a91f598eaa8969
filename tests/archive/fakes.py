"""Small fakes for the archive tests: stores that fail or call back, a fixed clock, and a
database that fails at one statement. The code under test takes them as it takes the real
ones (a store, a clock, an engine), so no module attribute is patched."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, BinaryIO

from sqlalchemy import Engine, event

from archive.store import ContentStore, Leftover


class WrappedStore:
    """A :class:`~archive.store.ContentStore` handing every call to ``inner``."""

    def __init__(self, inner: ContentStore) -> None:
        self.inner = inner

    def put(self, data: bytes) -> str:
        return self.inner.put(data)

    def put_stream(self, stream: BinaryIO) -> str:
        return self.inner.put_stream(stream)

    def get(self, sha: str) -> bytes:
        return self.inner.get(sha)

    def open(self, sha: str) -> BinaryIO:
        return self.inner.open(sha)

    def exists(self, sha: str) -> bool:
        return self.inner.exists(sha)

    def size(self, sha: str) -> int:
        return self.inner.size(sha)

    def iter_all(self) -> Iterator[str]:
        return self.inner.iter_all()

    def leftovers(self) -> list[Leftover]:
        return self.inner.leftovers()


class DyingDisk(WrappedStore):
    """Reading any blob fails with ``error`` (by default: the disk went away)."""

    def __init__(self, inner: ContentStore,
                 error: BaseException | None = None) -> None:
        super().__init__(inner)
        self.error = error if error is not None else RuntimeError("the disk went away")

    def open(self, sha: str) -> BinaryIO:
        raise self.error


class BeforeFirstRead(WrappedStore):
    """Calls ``hook`` once, before the first blob is read (what happens while a run hashes)."""

    def __init__(self, inner: ContentStore, hook: Callable[[], Any]) -> None:
        super().__init__(inner)
        self.hook = hook
        self._lock = threading.Lock()
        self._called = False

    def open(self, sha: str) -> BinaryIO:
        with self._lock:  # runs hash on several threads; the hook runs once, the others wait
            if not self._called:
                self._called = True
                self.hook()
        return self.inner.open(sha)


def fixed_clock(at: datetime) -> Callable[[], datetime]:
    """A clock that always says ``at``."""
    return lambda: at


@contextmanager
def on_statement(engine: Engine, starts_with: str, action: Callable[[], Any], *,
                 after: bool = False, times: int = 1) -> Iterator[None]:
    """Call ``action`` when ``engine`` runs a statement starting with ``starts_with``.

    Before the statement runs (``action`` raising: the database refuses it, or the process
    dies before it), or ``after`` it ran (inside its transaction, before the commit); the
    first ``times`` such statements only.
    """
    left = [times]

    def fire(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if left[0] > 0 and statement.lstrip().startswith(starts_with):
            left[0] -= 1
            action()

    name = "after_cursor_execute" if after else "before_cursor_execute"
    event.listen(engine, name, fire)
    try:
        yield
    finally:
        event.remove(engine, name, fire)
