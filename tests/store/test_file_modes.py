"""Issue 14 finding 10: the database, blobs, temp files and uploads are never world-readable."""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from crashhub import config
from crashhub.store import open_store
from crashhub.web import _multipart as multipart


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


@pytest.fixture(params=[0o022, 0o000], ids=["umask-022", "umask-000"])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    old = os.umask(int(request.param))
    yield int(request.param)
    os.umask(old)


def test_files_are_created_private_whatever_the_umask(umask: int, tmp_path: Path) -> None:
    hub = open_store(config.load(tmp_path / "data", env={}))
    try:
        db = tmp_path / "data" / "crashhub.db"
        assert _mode(db) == 0o600, oct(_mode(db))
        for f in db.parent.glob("crashhub.db-*"):  # SQLite's WAL/shm copy the database's mode
            assert _mode(f) & 0o077 == 0, (f, oct(_mode(f)))
        blob = hub.blobs.put_bytes(b"kernel memory")
        assert _mode(hub.blobs.local_path(blob.digest)) == 0o640
        hub.blobs.upload_append("c1", 0, [b"part of a dump"])
        part = hub.blobs.upload_path("c1")
        assert part.name.endswith(".part") and _mode(part) == 0o640, oct(_mode(part))
        for d in (tmp_path / "data", tmp_path / "data" / "blobs" / "tmp"):
            assert _mode(d) & 0o007 == 0, (d, oct(_mode(d)))
    finally:
        hub.close()


async def _one_file_form(tmp_path: Path) -> Path:
    body = (b"--b\r\nContent-Disposition: form-data; name=\"log\"; filename=\"x\"\r\n\r\n"
            b"log text\r\n--b--\r\n")

    async def stream() -> AsyncIterator[bytes]:
        yield body

    names = iter(range(10))
    form = await multipart.parse(stream(), "multipart/form-data; boundary=b", files={"log": 1000},
                                 texts={}, max_body=10_000,
                                 temp_path=lambda hint: tmp_path / f"{hint}.{next(names)}")
    part = form.parts["log"]
    assert part.path is not None
    return part.path


def test_multipart_temp_files_are_private(umask: int, tmp_path: Path) -> None:
    path = asyncio.run(_one_file_form(tmp_path))
    assert path.read_bytes() == b"log text" and _mode(path) == 0o640, oct(_mode(path))


def test_an_older_world_readable_database_is_tightened(tmp_path: Path) -> None:
    open_store(config.load(tmp_path / "data", env={})).close()
    db = tmp_path / "data" / "crashhub.db"
    os.chmod(db, 0o644)
    open_store(config.load(tmp_path / "data", env={})).close()
    assert _mode(db) == 0o640
