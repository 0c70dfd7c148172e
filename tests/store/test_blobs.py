"""The content-addressed blob store: atomic writes, caps, garbage collection."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from crashhub.errors import StoreError, TooLarge
from crashhub.store import LocalBlobStore


def test_put_is_content_addressed(tmp_path: Path) -> None:
    b = LocalBlobStore(tmp_path)
    x = b.put_bytes(b"hello")
    y = b.put_stream([b"hel", b"lo"])
    assert x.digest == y.digest == hashlib.sha256(b"hello").hexdigest() and x.size == 5
    with b.open(x.digest) as f:
        assert f.read() == b"hello"
    assert next(iter(b.digests()))[0] == x.digest
    assert not any((tmp_path / "tmp").iterdir())


def test_cap_leaves_nothing(tmp_path: Path) -> None:
    b = LocalBlobStore(tmp_path)
    with pytest.raises(TooLarge, match="limit of 4 bytes"):
        b.put_stream([b"abc", b"def"], max_bytes=4, name="log")
    assert not any((tmp_path / "tmp").iterdir())
    assert list(b.digests()) == []


def test_bad_digest_is_refused(tmp_path: Path) -> None:
    b = LocalBlobStore(tmp_path)
    with pytest.raises(StoreError):
        b.open("../../etc/passwd")
    with pytest.raises(StoreError):
        b.upload_path("../x")


def test_gc_removes_orphans_and_dead_writers_temp(tmp_path: Path) -> None:
    b = LocalBlobStore(tmp_path)
    keep = b.put_bytes(b"kept")
    orphan = b.put_bytes(b"orphan")
    # A temp file of a writer that died (kill -9): its pid no longer exists.
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    dead = b.temp_path("vmcore").with_name(
        f"vmcore.{b.temp_path().name.split('.')[1].rsplit('_', 1)[0]}_{p.pid}.abc"
    )
    dead.write_bytes(b"half")
    live = b.temp_path("log")
    live.write_bytes(b"being written")
    out = b.gc(lambda: {keep.digest}, grace=3600)
    assert out == {"temp": 1, "blobs": 0}  # young orphan blob survives the grace period
    assert not dead.exists() and live.exists()
    out = b.gc(lambda: {keep.digest}, grace=0, now=time.time() + 1)
    assert out["blobs"] == 1 and not b.exists(orphan.digest) and b.exists(keep.digest)


def test_adopt_renames(tmp_path: Path) -> None:
    b = LocalBlobStore(tmp_path)
    t = b.temp_path("vmcore")
    t.write_bytes(b"x" * 10)
    blob = b.adopt(t)
    assert not t.exists() and b.local_path(blob.digest).read_bytes() == b"x" * 10
    assert oct(os.stat(b.local_path(blob.digest)).st_mode & 0o777) == "0o640"
