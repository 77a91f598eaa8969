"""Content-addressed, write-once blob store: bytes in, SHA-256 hex out.

:class:`ContentStore` is the interface every caller uses (the archive, and the application
for its working files: drafts, signed revisions). :class:`FileContentStore` keeps blobs in a
folder as ``root/ab/cd/<sha256>``. Another back end (S3-compatible object storage: key
``ab/cd/<sha256>``, ``PutObject`` with ``If-None-Match: *`` and a ``x-amz-checksum-sha256``
header, object lock in compliance mode for write-once) only has to implement the Protocol;
callers do not change, because nothing outside this module builds a path. ``path_of`` exists
only on the file back end and is for tools (backup, ``sendfile``), never for logic.

A write is crash-safe: the bytes go to a temporary file in the blob's own directory, are
flushed and ``fsync``-ed, made read-only (0o444), renamed into place, and the directory is
``fsync``-ed. A crash leaves either no blob, a complete blob, or a ``.tmp-*`` file that
:meth:`FileContentStore.leftovers` reports (never a truncated blob under a real name). Writing
the same bytes twice is a no-op. Nothing here overwrites or deletes a blob.

Keep the archive in a store of its own (``instance/archive``): the start-up check treats any
blob there that no archive record names as an orphan of an interrupted archiving.
"""

from __future__ import annotations

import hashlib
import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol, runtime_checkable

from .errors import BlobCorruptError, BlobNotFoundError, StoreError

CHUNK = 1 << 20
"""Read and hash in 1 MiB chunks: large enough that hashlib releases the GIL usefully."""

_SHA = re.compile(r"[0-9a-f]{64}")
TMP_PREFIX = ".tmp-"


def check_sha(sha: str) -> str:
    """Return ``sha`` if it is a lowercase SHA-256 hex digest; refuse anything else (paths)."""
    if not isinstance(sha, str) or not _SHA.fullmatch(sha):
        raise StoreError(f"not a SHA-256 hex digest: {sha!r}")
    return sha


@dataclass(frozen=True)
class Leftover:
    """A temporary file of an interrupted write; its content was never named or indexed."""

    name: str
    """Path relative to the store root, e.g. ``ab/cd/.tmp-3f2c...``."""
    size: int


@runtime_checkable
class ContentStore(Protocol):
    """Write-once content-addressed storage. Blobs are named by their SHA-256 (lowercase hex)."""

    def put(self, data: bytes) -> str:
        """Store ``data`` durably (idempotent); return its SHA-256."""
        ...

    def put_stream(self, stream: BinaryIO) -> str:
        """Store everything read from ``stream`` durably; return its SHA-256."""
        ...

    def get(self, sha: str) -> bytes:
        """The blob's bytes; :class:`BlobNotFoundError` if absent."""
        ...

    def open(self, sha: str) -> BinaryIO:
        """A binary stream of the blob (the caller closes it)."""
        ...

    def exists(self, sha: str) -> bool: ...

    def size(self, sha: str) -> int:
        """Size in bytes; :class:`BlobNotFoundError` if absent."""
        ...

    def iter_all(self) -> Iterator[str]:
        """Every stored blob's SHA-256, in no particular order."""
        ...

    def leftovers(self) -> list[Leftover]:
        """Traces of interrupted writes (temporary files, unfinished uploads)."""
        ...


def hash_stream(stream: BinaryIO, chunk: int = CHUNK) -> tuple[str, int]:
    """SHA-256 hex and size of everything in ``stream``, read in ``chunk``-sized pieces."""
    h = hashlib.sha256()
    n = 0
    buf = bytearray(chunk)
    view = memoryview(buf)
    while True:
        got = stream.readinto(view)  # type: ignore[attr-defined]
        if not got:
            break
        h.update(view[:got])
        n += got
    return h.hexdigest(), n


class FileContentStore:
    """Blobs as read-only files under ``root/ab/cd/<sha256>``.

    ``durable=False`` skips every ``fsync``: only for benchmarks that fill a throw-away
    store, never for an instance (a power cut could then leave a blob named but empty).
    """

    def __init__(self, root: str | os.PathLike[str], *, durable: bool = True) -> None:
        self.root = Path(root)
        self.durable = durable
        try:
            self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as e:
            raise StoreError(f"cannot create store folder {self.root}: {e}") from e

    def __repr__(self) -> str:
        return f"FileContentStore({str(self.root)!r})"

    # ------------------------------------------------------------------ paths
    def path_of(self, sha: str) -> Path:
        """Where the blob lives (or would live). File back end only."""
        check_sha(sha)
        return self.root / sha[:2] / sha[2:4] / sha

    def _fsync_dir(self, d: Path) -> None:
        if not self.durable:
            return
        fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def _ensure_dir(self, d: Path) -> None:
        if d.is_dir():
            return
        # create level by level so each new directory entry is made durable in its parent
        for level in (d.parent, d):
            if not level.is_dir():
                try:
                    level.mkdir(mode=0o700)
                except FileExistsError:
                    continue  # a concurrent writer made it
                self._fsync_dir(level.parent)

    # ------------------------------------------------------------------ writing
    def put(self, data: bytes) -> str:
        sha = hashlib.sha256(data).hexdigest()
        final = self.path_of(sha)
        if final.exists():
            self._check_existing(final, sha, len(data))
            return sha
        self._write(final, sha, lambda f: f.write(data))
        return sha

    def put_stream(self, stream: BinaryIO) -> str:
        # the name is known only at the end: write to a temp file in the root, then move it
        # into its shard (same file system, so the rename stays atomic)
        tmp = self.root / f"{TMP_PREFIX}{uuid.uuid4().hex}"
        h = hashlib.sha256()
        n = 0
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                while chunk := stream.read(CHUNK):
                    h.update(chunk)
                    n += len(chunk)
                    f.write(chunk)
                f.flush()
                if self.durable:
                    os.fsync(f.fileno())
                os.fchmod(f.fileno(), 0o444)
            sha = h.hexdigest()
            final = self.path_of(sha)
            if final.exists():
                self._check_existing(final, sha, n)
                tmp.unlink()
                return sha
            self._ensure_dir(final.parent)
            os.rename(tmp, final)
            self._fsync_dir(final.parent)
            self._fsync_dir(self.root)
        except OSError as e:
            tmp.unlink(missing_ok=True)
            raise StoreError(f"cannot store blob: {e}") from e
        return sha

    def _check_existing(self, final: Path, sha: str, size: int) -> None:
        # idempotent write; a size mismatch means the stored copy is damaged, and we refuse
        # to paper over that by overwriting it (fixity reports it, a person decides)
        try:
            stored = final.stat().st_size
        except OSError as e:
            raise StoreError(f"cannot stat {final}: {e}") from e
        if stored != size:
            raise BlobCorruptError(f"blob {sha} is stored with {stored} bytes, not {size}")

    def _write(self, final: Path, sha: str, write) -> None:  # type: ignore[no-untyped-def]
        d = final.parent
        tmp = d / f"{TMP_PREFIX}{uuid.uuid4().hex}"
        try:
            self._ensure_dir(d)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                write(f)
                f.flush()
                if self.durable:
                    os.fsync(f.fileno())
                os.fchmod(f.fileno(), 0o444)
            # rename, not replace semantics matter little: the target cannot hold other bytes
            # than these (same name = same hash); a concurrent identical write is harmless
            os.rename(tmp, final)
            self._fsync_dir(d)
        except OSError as e:
            # an ordinary failure (disk full) cleans up; a crash leaves the temp file for
            # leftovers() to report, and no blob under its real name
            tmp.unlink(missing_ok=True)
            raise StoreError(f"cannot store blob {sha}: {e}") from e

    # ------------------------------------------------------------------ reading
    def open(self, sha: str) -> BinaryIO:
        try:
            return open(self.path_of(sha), "rb", buffering=0)  # noqa: SIM115 - caller closes
        except FileNotFoundError as e:
            raise BlobNotFoundError(f"no blob {sha}") from e
        except OSError as e:
            raise StoreError(f"cannot read blob {sha}: {e}") from e

    def get(self, sha: str) -> bytes:
        with self.open(sha) as f:
            try:
                return f.read()
            except OSError as e:
                raise StoreError(f"cannot read blob {sha}: {e}") from e

    def exists(self, sha: str) -> bool:
        return self.path_of(sha).is_file()

    def size(self, sha: str) -> int:
        try:
            return self.path_of(sha).stat().st_size
        except FileNotFoundError as e:
            raise BlobNotFoundError(f"no blob {sha}") from e
        except OSError as e:
            raise StoreError(f"cannot stat blob {sha}: {e}") from e

    def iter_all(self) -> Iterator[str]:
        # listdir, not scandir: a caller may stop early, and nothing stays open in between
        for a in self._list(self.root):
            if len(a) != 2:
                continue
            for b in self._list(self.root / a):
                if len(b) != 2:
                    continue
                for name in self._list(self.root / a / b):
                    if _SHA.fullmatch(name) and name[:2] == a and name[2:4] == b:
                        yield name

    def _list(self, d: Path) -> list[str]:
        try:
            return sorted(os.listdir(d)) if d.is_dir() else []
        except OSError as e:
            raise StoreError(f"cannot list {d}: {e}") from e

    def leftovers(self) -> list[Leftover]:
        out: list[Leftover] = []
        try:
            for p in self.root.rglob(f"{TMP_PREFIX}*"):
                out.append(Leftover(str(p.relative_to(self.root)), p.stat().st_size))
        except OSError as e:
            raise StoreError(f"cannot list store {self.root}: {e}") from e
        return sorted(out, key=lambda x: x.name)


def verify_blob(store: ContentStore, sha: str) -> tuple[bool, int]:
    """Re-hash one blob; return (matches its name, bytes read)."""
    with store.open(sha) as f:
        try:
            got, n = hash_stream(f)
        except OSError as e:
            raise StoreError(f"cannot read blob {sha}: {e}") from e
    return got == sha, n


__all__ = ["CHUNK", "ContentStore", "FileContentStore", "Leftover", "check_sha", "hash_stream",
           "verify_blob", "BlobCorruptError", "BlobNotFoundError", "StoreError"]
