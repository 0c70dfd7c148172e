"""Retention on a real data directory filled past its quota: what stays, and that the bytes go.

Crashes are stored as ingest stores them (blobs first, then the record) with dumps of random bytes,
so every dump is its own blob file; ``crashhub gc`` then runs in-process (``cli.main``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from crashhub import cli, config
from crashhub.retention import _apply as apply
from crashhub.store import FileRecord, Hub, LocalBlobStore, NewCrash, open_store

DUMP = 64 * 1024
ENV = {
    "CRASHHUB_KEEP_DUMPS_PER_BUCKET": "2",
    "CRASHHUB_BLOB_QUOTA_BYTES": str(7 * DUMP),
    "CRASHHUB_BLOB_GC_GRACE": "0",
}


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Hub]:
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)
    h = open_store(config.load(tmp_path / "data", env=os.environ))
    yield h
    h.close()


def add(
    hub: Hub, key: str, n: int, *, dump: bool = True, host: str = "web1", data: bytes | None = None
) -> str:
    log = hub.blobs.put_bytes(f"log of {key} {n}".encode())
    files = [FileRecord(name="vmcore-dmesg.txt", role="log", digest=log.digest, size=log.size)]
    if dump:
        b = hub.blobs.put_bytes(data if data is not None else os.urandom(DUMP))
        files.append(FileRecord(name="vmcore", role="vmcore", digest=b.digest, size=b.size))
    c, _ = hub.store.crashes.add_crash(
        NewCrash(
            identity=f"{key}-{n}",
            host=host,
            host_source="agent",
            release="6.1.0",
            kind="null_deref",
            title=key,
            signature_algorithm="sig:test",
            signature_key=key,
            signature_title=key,
            files=files,
        )
    )
    return c.id


def on_disk(hub: Hub, digest: str) -> bool:
    assert isinstance(hub.blobs, LocalBlobStore)
    return (hub.blobs.root / "sha256" / digest[:2] / digest[2:4] / digest).is_file()


def dump_digest(hub: Hub, crash_id: str) -> str:
    c = hub.store.crashes.get_crash(crash_id)
    assert c is not None
    if c.dump_evicted is not None:
        return c.dump_evicted.digest
    return next(f.digest for f in c.files if f.role == "vmcore")


def test_gc_fills_past_the_quota_and_keeps_what_the_policy_says(
    hub: Hub, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = [add(hub, "A", i) for i in range(6)]
    b = [add(hub, "B", i) for i in range(5)]
    c = [add(hub, "C", i) for i in range(2)]
    logs_only = [add(hub, "D", i, dump=False) for i in range(3)]
    hub.store.retention.pin_dump(a[1], "alice")
    digests = {cid: dump_digest(hub, cid) for cid in a + b + c}
    before = hub.blobs.usage()
    assert before > 13 * DUMP  # 13 dumps of 64 KiB and 16 small logs: far over the quota

    data = str(tmp_path / "data")
    assert cli.main(["gc", "--dry-run", "--data", data]) == 0
    dry = capsys.readouterr().out.splitlines()
    assert hub.blobs.usage() == before and all(on_disk(hub, d) for d in digests.values())

    assert cli.main(["gc", "--data", data]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[:-2] == dry[:-1]  # the same lines as the dry run said, then the summaries

    # By count (keep 2 + the first; the pinned one stays): A2, A3; B1, B2.  Then the quota takes
    # the oldest dumps that are neither first, latest nor pinned: A4, then B3.  That leaves 7 dumps
    # and the logs, just over the quota, and no dump left that may go.
    evicted = {line.split()[0]: line.split()[3].rstrip(":") for line in out[:-2]}
    assert evicted == {
        a[2]: "count",
        a[3]: "count",
        b[1]: "count",
        b[2]: "count",
        a[4]: "quota",
        b[3]: "quota",
    }
    for line in out[:-2]:
        cid, bucket, size = line.split()[:3]
        assert bucket == hub.store.crashes.get_crash(cid).bucket_id and int(size) == DUMP  # type: ignore[union-attr]
    kept = {a[0], a[1], a[5], b[0], b[4], c[0], c[1]}
    assert {h.crash_id for h in hub.store.retention.dump_holdings()} == kept
    for cid, d in digests.items():
        assert on_disk(hub, d) == (cid in kept), cid
    for cid in logs_only + a + b:  # every log stays
        rec = hub.store.crashes.get_crash(cid)
        assert rec is not None and any(f.role == "log" and on_disk(hub, f.digest) for f in rec.files)
    gone = hub.store.crashes.get_crash(a[4])
    assert gone is not None and gone.dump_evicted is not None
    assert (gone.dump_evicted.reason, gone.dump_evicted.size, gone.dump_evicted.digest) == (
        "quota",
        DUMP,
        digests[a[4]],
    )
    assert "still" in out[-2]  # over the quota by what first, latest and pinned dumps hold: said
    assert cli.main(["crash", a[4], "--data", data]) == 0
    assert "dump     evicted " in capsys.readouterr().out
    assert cli.main(["crash", a[1], "--data", data]) == 0
    assert "dump     kept, pinned by alice" in capsys.readouterr().out
    assert hub.blobs.usage() == before - 6 * DUMP

    # A second run finds nothing more to do.
    assert cli.main(["gc", "--data", data]) == 0
    assert capsys.readouterr().out.startswith("evicted 0 dump(s)")


def test_a_dump_shared_with_another_crash_keeps_its_blob(hub: Hub) -> None:
    same = os.urandom(DUMP)
    ids = [add(hub, "A", i, data=same if i == 1 else None) for i in range(5)]
    other = add(hub, "B", 0, data=same)
    out = apply.run(hub)
    assert ids[1] in {d.crash_id for d in out.evicted}
    assert on_disk(hub, dump_digest(hub, other))  # still B's dump


def test_delete_crash_and_host_remove_their_blobs(
    hub: Hub, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    x = add(hub, "A", 0, host="web1")
    y = add(hub, "A", 1, host="web2")
    z = add(hub, "B", 0, host="web2")
    dx, dy, dz = (dump_digest(hub, i) for i in (x, y, z))
    data = str(tmp_path / "data")
    assert cli.main(["delete", "crash", x, "--data", data]) == 0
    assert hub.store.crashes.get_crash(x) is None and not on_disk(hub, dx) and on_disk(hub, dy)
    assert cli.main(["delete", "host", "web2", "--data", data]) == 2  # needs --yes
    assert hub.store.crashes.get_crash(y) is not None
    assert cli.main(["delete", "host", "web2", "--yes", "--data", data]) == 0
    assert "2 crash(es)" in capsys.readouterr().out
    assert hub.store.crashes.list_crashes() == [] and not on_disk(hub, dy) and not on_disk(hub, dz)
    assert [a.action for a in hub.store.access.list_audit(2)] == ["delete-host", "delete-crash"]
    assert cli.main(["delete", "crash", x, "--data", data]) == 2


def test_pin_command(hub: Hub, tmp_path: Path) -> None:
    x = add(hub, "A", 0)
    y = add(hub, "A", 1, dump=False)
    data = str(tmp_path / "data")
    assert cli.main(["pin", x, "--data", data]) == 0
    assert hub.store.crashes.get_crash(x).pinned_by == "cli"  # type: ignore[union-attr]
    assert cli.main(["pin", x, "--off", "--data", data]) == 0
    assert hub.store.crashes.get_crash(x).pinned_by is None  # type: ignore[union-attr]
    assert cli.main(["pin", y, "--data", data]) == 2  # no dump to pin
