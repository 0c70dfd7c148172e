"""One blob-store contract, run on the local directory store and on the S3 store.

The S3 runs talk to moto in server mode on loopback: **a stand-in for S3**, not AWS (see conftest),
reached through the usual AWS environment variables (``AWS_ENDPOINT_URL`` etc.), as a deployment would.
"""

# ruff: noqa: PLC0415 - optional packages (boto3, moto, sqlalchemy) are imported where a test needs them

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from crashhub.errors import StoreError, TooLarge
from crashhub.store import BlobStore, LocalBlobStore

MIB = 1 << 20


def _bucket(name: str) -> None:
    import boto3

    boto3.client("s3").create_bucket(Bucket=name)


@pytest.fixture(params=["local", "s3"])
def blobs(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BlobStore]:
    if request.param == "local":
        yield LocalBlobStore(tmp_path / "blobs")
        return
    request.getfixturevalue("aws_env")
    from crashhub.store._s3 import S3BlobStore

    bucket = f"b{time.monotonic_ns()}"
    _bucket(bucket)
    # 5 MiB parts (S3's minimum) so an 11 MiB stream takes the multipart path.
    yield S3BlobStore.from_url(f"s3://{bucket}/crashhub", cache_dir=tmp_path / "cache", part_size=5 * MIB)


def _pending(b: BlobStore) -> int:
    """Multipart uploads (S3) or temp files (local) left behind."""
    if isinstance(b, LocalBlobStore):
        return len(list((b.root / "tmp").iterdir()))
    from crashhub.store._s3 import S3BlobStore

    assert isinstance(b, S3BlobStore)
    ups = b.s3.list_multipart_uploads(Bucket=b.bucket).get("Uploads", [])
    objs = b.s3.list_objects_v2(Bucket=b.bucket, Prefix=b._key("tmp") + "/").get("Contents", [])
    return len(ups) + len(objs)


def test_put_get_stream(blobs: BlobStore) -> None:
    x = blobs.put_bytes(b"hello")
    y = blobs.put_stream([b"hel", b"lo"])
    assert x.digest == y.digest == hashlib.sha256(b"hello").hexdigest() and x.size == 5
    with blobs.open(x.digest) as f:
        assert f.read(2) == b"he" and f.read() == b"llo"
    assert [d for d, _ in blobs.digests()] == [x.digest]
    assert blobs.exists(x.digest) and blobs.local_path(x.digest).read_bytes() == b"hello"
    assert _pending(blobs) == 0


def test_large_stream_is_multipart_and_streams_back(blobs: BlobStore) -> None:
    data = os.urandom(MIB) * 11 + b"tail"
    chunks = (data[i : i + 300_000] for i in range(0, len(data), 300_000))
    b = blobs.put_stream(chunks, name="vmcore")
    assert b.digest == hashlib.sha256(data).hexdigest() and b.size == len(data)
    h = hashlib.sha256()
    with blobs.open(b.digest) as f:
        while chunk := f.read(MIB):
            h.update(chunk)
    assert h.hexdigest() == b.digest
    assert _pending(blobs) == 0
    # The same bytes again: one blob, the temp upload is gone.
    again = blobs.put_stream([data[: 6 * MIB], data[6 * MIB :]])
    assert again.digest == b.digest and len(list(blobs.digests())) == 1 and _pending(blobs) == 0


def test_cap_leaves_nothing(blobs: BlobStore) -> None:
    with pytest.raises(TooLarge, match="limit of 4 bytes"):
        blobs.put_stream([b"abc", b"def"], max_bytes=4, name="log")
    big = (bytes(MIB) for _ in range(8))
    with pytest.raises(TooLarge):
        blobs.put_stream(big, max_bytes=7 * MIB, name="vmcore")  # fails after a part went out
    assert list(blobs.digests()) == [] and _pending(blobs) == 0


def test_failed_stream_leaves_nothing(blobs: BlobStore) -> None:
    def chunks() -> Iterator[bytes]:
        yield bytes(6 * MIB)
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        blobs.put_stream(chunks())
    assert list(blobs.digests()) == [] and _pending(blobs) == 0


def test_exists_delete_and_missing(blobs: BlobStore) -> None:
    b = blobs.put_bytes(b"x")
    blobs.delete(b.digest)
    assert not blobs.exists(b.digest)
    blobs.delete(b.digest)  # deleting twice is fine
    with pytest.raises(StoreError, match="missing"):
        blobs.open(b.digest)
    with pytest.raises(StoreError):
        blobs.local_path(b.digest)
    with pytest.raises(StoreError):
        blobs.open("../../etc/passwd")
    with pytest.raises(StoreError):
        blobs.upload_path("../x")


def test_temp_then_commit(blobs: BlobStore) -> None:
    t = blobs.temp_path("vmcore")
    t.write_bytes(b"y" * 1000)
    assert list(blobs.digests()) == []
    b = blobs.adopt(t)
    assert not t.exists() and b.digest == hashlib.sha256(b"y" * 1000).hexdigest()
    assert blobs.local_path(b.digest).read_bytes() == b"y" * 1000


def test_gc_orphans_after_grace(blobs: BlobStore) -> None:
    keep = blobs.put_bytes(b"kept")
    orphan = blobs.put_bytes(b"orphan")
    assert blobs.gc(lambda: {keep.digest}, grace=3600)["blobs"] == 0
    out = blobs.gc(lambda: {keep.digest}, grace=0, now=time.time() + 5)
    assert out["blobs"] == 1 and not blobs.exists(orphan.digest) and blobs.exists(keep.digest)


def test_killed_writer_leaves_no_blob_and_gc_cleans(blobs: BlobStore, tmp_path: Path) -> None:
    """kill -9 of a writer in the middle of a large stream: no blob appears; gc removes its debris."""
    if isinstance(blobs, LocalBlobStore):
        setup = f"b = LocalBlobStore({str(blobs.root)!r})"
    else:
        from crashhub.store._s3 import S3BlobStore

        assert isinstance(blobs, S3BlobStore)
        setup = (
            f"from crashhub.store._s3 import S3BlobStore\n"
            f"b = S3BlobStore({blobs.bucket!r}, {blobs.prefix!r}, cache_dir=Path({str(tmp_path / 'c2')!r}),"
            f" part_size={5 * MIB})"
        )
    script = textwrap.dedent(
        """
        import sys, time
        from pathlib import Path
        from crashhub.store._blobs import LocalBlobStore
        {setup}
        def chunks():
            yield bytes(6 * 1024 * 1024)
            print("sent", flush=True)
            time.sleep(60)
            yield b"never"
        b.put_stream(chunks(), name="vmcore")
        """
    ).format(setup=setup)
    p = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, env=os.environ.copy())
    assert p.stdout is not None
    line = p.stdout.readline()
    assert line.strip() == b"sent", line
    time.sleep(0.5)  # the first part is on its way (S3) or written (local)
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    assert list(blobs.digests()) == []
    out = blobs.gc(set, grace=3600)  # young, but its writer is dead
    assert out["temp"] >= 1 and _pending(blobs) == 0


def test_local_cache_is_bounded(tmp_path: Path, aws_env: str) -> None:
    from crashhub.store._s3 import S3BlobStore

    _bucket("cachetest")
    b = S3BlobStore("cachetest", "p", cache_dir=tmp_path / "cache", cache_max_bytes=3 * MIB)
    one = b.put_bytes(b"1" * (2 * MIB))
    two = b.put_bytes(b"2" * (2 * MIB))
    p1 = b.local_path(one.digest)
    assert p1.read_bytes() == b"1" * (2 * MIB)
    p2 = b.local_path(two.digest)
    assert p2.is_file() and not p1.exists()  # least recently used went
    assert b.local_path(one.digest).read_bytes()[:1] == b"1"  # fetched again on demand
    assert S3BlobStore.from_url("s3://bkt/a/b/", cache_dir=tmp_path / "c").prefix == "a/b"


def test_s3_resumable_upload_continues_on_another_node(tmp_path: Path, aws_env: str) -> None:
    """Node A takes the first request, dies in the middle of the second; node B resumes where the last
    whole request ended and finishes: one blob with exactly the bytes sent."""
    from crashhub.errors import UploadOffsetError
    from crashhub.store._s3 import S3BlobStore

    _bucket("resume")
    a = S3BlobStore("resume", "hub", cache_dir=tmp_path / "a", part_size=5 * MIB)
    b = S3BlobStore("resume", "hub", cache_dir=tmp_path / "b", part_size=5 * MIB)
    data = os.urandom(13 * MIB + 123)
    assert b.upload_offset("c1") == 0
    assert a.upload_append("c1", 0, [data[: 6 * MIB]]) == 6 * MIB  # multipart segment

    def dies() -> Iterator[bytes]:
        yield data[6 * MIB : 12 * MIB]
        raise ConnectionResetError("node A killed")

    with pytest.raises(ConnectionResetError):
        a.upload_append("c1", 6 * MIB, dies())
    assert b.upload_offset("c1") == 6 * MIB  # the half request is not there
    with pytest.raises(UploadOffsetError) as e:
        b.upload_append("c1", 7 * MIB, [b"x"])
    assert e.value.offset == 6 * MIB
    with pytest.raises(TooLarge):
        b.upload_append("c1", 6 * MIB, [data[6 * MIB :]], max_bytes=10 * MIB)
    off = b.upload_append("c1", 6 * MIB, [data[6 * MIB : 8 * MIB]])  # a small segment (one PUT)
    off = b.upload_append("c1", off, [data[off:]])
    assert off == len(data) == a.upload_offset("c1")
    blob = b.upload_finish("c1", max_bytes=len(data))
    assert blob.digest == hashlib.sha256(data).hexdigest() and blob.size == len(data)
    assert b.upload_offset("c1") == 0 and _pending(b) == 0
    with a.open(blob.digest) as f:
        assert f.read() == data
    # An upload nobody finished, without an upload record, goes once old enough.
    a.upload_append("c2", 0, [b"partial"])
    assert a.clean_uploads({"c2"}, time.time() + 5) == 0 and a.upload_offset("c2") == 7
    assert a.clean_uploads(set(), time.time() - 3600) == 0
    assert a.clean_uploads(set(), time.time() + 5) == 1 and a.upload_offset("c2") == 0


def test_resumable_upload_contract(blobs: BlobStore) -> None:
    """upload_* on both stores: the calls the hub's PUT /vmcore makes, whichever node makes them."""
    data = os.urandom(3 * MIB + 123)
    assert blobs.upload_offset("u1") == 0
    assert blobs.upload_append("u1", 0, [data[:MIB]]) == MIB
    with pytest.raises(StoreError) as e:
        blobs.upload_append("u1", 5, [b"x"])
    assert getattr(e.value, "offset", None) == MIB

    def dies() -> Iterator[bytes]:
        yield data[MIB : MIB + 1000]
        raise OSError("the client went away")

    with pytest.raises(OSError):
        blobs.upload_append("u1", MIB, dies())
    assert blobs.upload_offset("u1") == MIB  # a failed request adds nothing
    with pytest.raises(TooLarge):
        blobs.upload_append("u1", MIB, [data[MIB:]], max_bytes=2 * MIB)
    assert blobs.upload_offset("u1") == MIB
    off = blobs.upload_append("u1", MIB, [data[MIB : 2 * MIB]])
    blobs.upload_append("u1", off, [b"junk past a limit"])
    blobs.upload_truncate("u1", off)  # a body over its limit is taken back to where it started
    assert blobs.upload_offset("u1") == off == 2 * MIB
    off = blobs.upload_append("u1", off, [data[off:]])
    assert off == len(data)
    blob = blobs.upload_finish("u1", max_bytes=len(data))
    assert blob.digest == hashlib.sha256(data).hexdigest() and blob.size == len(data)
    with blobs.open(blob.digest) as f:
        assert f.read() == data
    assert blobs.upload_offset("u1") == 0
    blobs.upload_append("u2", 0, [b"partial"])
    assert blobs.clean_uploads({"u2"}, time.time() + 5) == 0 and blobs.upload_offset("u2") == 7
    assert blobs.clean_uploads(set(), time.time() + 5) == 1 and blobs.upload_offset("u2") == 0
    blobs.upload_append("u3", 0, [b"abc"])
    blobs.upload_abort("u3")
    assert blobs.upload_offset("u3") == 0


def test_stat_and_usage_for_retention(blobs: BlobStore) -> None:
    assert blobs.usage() == 0
    a = blobs.put_bytes(b"a" * 1000)
    b = blobs.put_bytes(b"b" * 24)
    blobs.put_bytes(b"a" * 1000)  # the same bytes again: one blob
    st = blobs.stat(a.digest)
    assert st is not None and st[0] == 1000 and abs(st[1] - time.time()) < 120
    assert blobs.usage() == 1024
    blobs.delete(a.digest)
    assert blobs.stat(a.digest) is None and blobs.usage() == 24
    assert blobs.stat(b.digest) is not None and blobs.stat("0" * 64) is None
