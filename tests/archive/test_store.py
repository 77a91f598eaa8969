"""The content-addressed store: layout, idempotence, read-only files, streams."""

from __future__ import annotations

import hashlib
import io
import os
import stat

import pytest

from archive.errors import BlobCorruptError, BlobNotFoundError, StoreError
from archive.store import ContentStore, FileContentStore, verify_blob


def test_put_names_blobs_by_sha256_in_two_level_shards(store):
    sha = store.put(b"hello")
    assert sha == hashlib.sha256(b"hello").hexdigest()
    p = store.root / sha[:2] / sha[2:4] / sha
    assert store.path_of(sha) == p and p.read_bytes() == b"hello"
    assert stat.S_IMODE(p.stat().st_mode) == 0o444
    assert store.get(sha) == b"hello" and store.exists(sha) and store.size(sha) == 5
    assert isinstance(store, ContentStore)


def test_put_is_idempotent_and_never_rewrites(store):
    sha = store.put(b"same")
    before = store.path_of(sha).stat()
    assert store.put(b"same") == sha
    after = store.path_of(sha).stat()
    assert (before.st_ino, before.st_mtime_ns) == (after.st_ino, after.st_mtime_ns)
    assert list(store.iter_all()) == [sha]


def test_a_damaged_copy_is_not_papered_over(store):
    sha = store.put(b"original bytes")
    p = store.path_of(sha)
    os.chmod(p, 0o644)
    p.write_bytes(b"short")
    with pytest.raises(BlobCorruptError):
        store.put(b"original bytes")


def test_put_stream_matches_put(store):
    data = os.urandom(3 * (1 << 20) + 7)
    sha = store.put_stream(io.BytesIO(data))
    assert sha == hashlib.sha256(data).hexdigest()
    assert store.put_stream(io.BytesIO(data)) == sha
    with store.open(sha) as f:
        assert f.read() == data
    assert verify_blob(store, sha) == (True, len(data))
    assert store.leftovers() == []


def test_names_that_are_not_hashes_are_refused(store):
    for bad in ("../../etc/passwd", "A" * 64, "abc", ""):
        with pytest.raises(StoreError):
            store.get(bad)


def test_missing_blob(store):
    with pytest.raises(BlobNotFoundError):
        store.get("0" * 64)
    with pytest.raises(BlobNotFoundError):
        store.size("0" * 64)


def test_failed_write_cleans_up_its_temp_file(store, monkeypatch):
    def full(*_a, **_k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "rename", full)
    with pytest.raises(StoreError):
        store.put(b"data")
    assert store.leftovers() == [] and list(store.iter_all()) == []


def test_non_durable_store_still_works(tmp_path):
    s = FileContentStore(tmp_path / "fast", durable=False)
    sha = s.put(b"x")
    assert s.get(sha) == b"x"
