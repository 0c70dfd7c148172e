"""kill -9 of ``crashhub serve`` in the middle of an upload and of an ingest: no half record,
no orphan blob left uncleaned, the upload resumes, the spool item is ingested exactly once."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import blob_files, make_server, temp_files


def _wait(pred: Any, timeout: float = 60.0, what: str = "condition") -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _slow(data: bytes, chunk: int, pause: float, sent: list[int]) -> Iterator[bytes]:
    for i in range(0, len(data), chunk):
        sent[0] = i
        yield data[i : i + chunk]
        time.sleep(pause)


def _referenced_ok(data: Path, client: httpx.Client) -> None:
    """Every blob on disk belongs to a file of a stored crash, and every stored file has its blob."""
    digests = {p.name for p in blob_files(data)}
    wanted: set[str] = set()
    for c in client.get("/api/v1/crashes", params={"limit": 1000}).json()["crashes"]:
        for f in client.get(f"/api/v1/crashes/{c['id']}/files").json()["files"]:
            wanted.add(f["sha256"])
    assert wanted == digests


@pytest.mark.lab
@pytest.mark.slow
def test_kill_during_resumable_upload_and_multipart(tmp_path: Path, lab: Any) -> None:
    run = lab.crash("6.1", "null")
    log = Path(run.path("rhel/vmcore-dmesg.txt")).read_bytes()
    dump = Path(run.path("rhel/vmcore")).read_bytes()
    srv = make_server(tmp_path, CRASHHUB_BLOB_GC_GRACE="0")
    srv.start()
    try:
        with srv.client("host") as c:
            # The first upload names the host: the test token is bound to it from then on.
            r = c.post("/api/v1/crashes", files={"log": ("vmcore-dmesg.txt", log)}, data={"host": "web1"})
            cid = r.json()["id"]

        # 1. A resumable PUT streaming slowly; kill -9 once part of it has arrived.
        sent = [0]
        n = len(dump)

        def put() -> None:
            try:
                with httpx.Client(
                    base_url=srv.url, timeout=60, headers={"Authorization": f"Bearer {srv.tokens['host']}"}
                ) as c:
                    c.put(
                        f"/api/v1/crashes/{cid}/vmcore",
                        content=_slow(dump, 1 << 20, 0.05, sent),
                        headers={"Content-Range": f"bytes 0-{n - 1}/{n}"},
                    )
            except httpx.HTTPError:
                pass

        t = threading.Thread(target=put)
        t.start()
        part = srv.data / "blobs" / "uploads" / f"{cid}.part"
        _wait(lambda: part.exists() and part.stat().st_size > 4 << 20, what="part of the upload to arrive")
        srv.kill9()
        t.join(30)

        # 2. A multipart POST with a dump, killed in the middle: leaves a temp file of a dead process.
        srv.start()
        sent2 = [0]

        def body() -> Iterator[bytes]:
            b = "B0undary"
            yield (f'--{b}\r\nContent-Disposition: form-data; name="log"; filename="l"\r\n\r\n').encode()
            yield Path(lab.crash("6.1", "null", instance=2).path("rhel/vmcore-dmesg.txt")).read_bytes()
            yield (
                f'\r\n--{b}\r\nContent-Disposition: form-data; name="vmcore"; filename="v"\r\n\r\n'
            ).encode()
            yield from _slow(dump, 1 << 20, 0.05, sent2)
            yield f"\r\n--{b}--\r\n".encode()

        def post() -> None:
            try:
                with httpx.Client(
                    base_url=srv.url,
                    timeout=60,
                    headers={
                        "Authorization": f"Bearer {srv.tokens['host']}",
                        "Content-Type": "multipart/form-data; boundary=B0undary",
                    },
                ) as c:
                    c.post("/api/v1/crashes", content=body())
            except httpx.HTTPError:
                pass

        t2 = threading.Thread(target=post)
        t2.start()
        _wait(lambda: sent2[0] > 4 << 20, what="the multipart dump to be half sent")
        assert temp_files(srv.data), "the upload should be streaming into a temp file"
        srv.kill9()
        t2.join(30)

        srv.start()  # the restart cleans the dead writer's temp file
        assert temp_files(srv.data) == []
        with srv.client("host") as c:
            state = c.get(f"/api/v1/crashes/{cid}/vmcore/upload").json()
            assert not state["complete"] and 0 < state["offset"] < n and state["size"] == n
            off = state["offset"]
            r = c.put(
                f"/api/v1/crashes/{cid}/vmcore",
                content=dump[off:],
                headers={"Content-Range": f"bytes {off}-{n - 1}/{n}"},
            )
            assert r.json() == {"offset": n, "size": n, "complete": True}
        with srv.client("admin") as c:
            crashes = c.get("/api/v1/crashes").json()["crashes"]
            assert [x["id"] for x in crashes] == [cid]  # the killed POST stored nothing
            assert c.get(f"/api/v1/crashes/{cid}/files/vmcore").content == dump
            _referenced_ok(srv.data, c)
    finally:
        srv.stop()


@pytest.mark.lab
@pytest.mark.slow
def test_kill_during_spool_ingest(tmp_path: Path, lab: Any) -> None:
    """The spool item (an ELF dump: the biggest copy) is ingested once across a kill -9."""
    src = Path(lab.crash("6.1", "null").path("elf/vmcore")).parent
    srv = make_server(tmp_path, CRASHHUB_BLOB_GC_GRACE="0", CRASHHUB_SPOOL_SETTLE="0.2")
    spool = tmp_path / "spool"
    spool.mkdir()
    staging = tmp_path / "staging"
    shutil.copytree(src, staging / src.name)
    srv.start()
    try:
        (staging / src.name).rename(spool / src.name)  # appears whole, as after kdump's final rename
        _wait(
            lambda: (
                any(p.name.startswith("vmcore") for p in temp_files(srv.data)) or bool(blob_files(srv.data))
            ),
            timeout=60,
            what="the ingest to start copying",
        )
        srv.kill9()
        srv.start()
        with srv.client("admin") as c:
            _wait(lambda: len(c.get("/api/v1/crashes").json()["crashes"]) == 1, what="the spool item")
            time.sleep(1.5)  # several more scans: still one crash
            (crash,) = c.get("/api/v1/crashes").json()["crashes"]
            assert crash["has_vmcore"] and crash["source"] == "spool"
            assert c.get(f"/api/v1/buckets/{crash['bucket']}").json()["count"] == 1
        srv.stop()
        srv.start()  # a clean restart: the gc has nothing referenced to remove, orphans are gone
        with srv.client("admin") as c:
            assert len(c.get("/api/v1/crashes").json()["crashes"]) == 1
            _referenced_ok(srv.data, c)
        assert temp_files(srv.data) == []
    finally:
        srv.stop()
