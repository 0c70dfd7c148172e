"""The arrival pipeline on real lab crashes: idempotent across layouts and formats, buckets across boots."""

from __future__ import annotations

import struct
import time
from pathlib import Path
from typing import Any

import pytest

from crashhub.errors import DumpError, LogError
from crashhub.ingest import Arrival, Pipeline, ingest_path
from crashhub.kb import parse_entry
from crashhub.store import Hub

from .conftest import crash_dir

LAYOUTS = ("rhel", "rhel-ssh", "elf", "debian")


def _blob_count(hub: Hub) -> int:
    return len(list(hub.blobs.digests()))


@pytest.mark.lab
def test_one_crash_whatever_the_layout(lab: Any, hub: Hub, pipeline: Pipeline) -> None:
    run = lab.crash("6.1", "null")
    outs = [ingest_path(pipeline, crash_dir(run, lay)) for lay in LAYOUTS]
    assert [o.created for o in outs] == [True, False, False, False]
    assert len({o.crash.id for o in outs}) == 1
    c = hub.store.crashes.get_crash(outs[0].crash.id)
    assert c is not None and c.has_vmcore and c.kind == "null_deref"
    assert c.release == run.manifest["release"] if "release" in run.manifest else c.release
    assert hub.store.buckets.get_bucket(c.bucket_id).count == 1  # type: ignore[union-attr]
    assert [f.role for f in c.files if f.role == "vmcore"] == ["vmcore"]
    assert c.dump_facts is not None and c.dump_facts["format"] == "kdump"  # reassembled, not flat
    assert c.crash_time_source == "dump" and c.crash_time == c.dump_facts["crash_time"]
    assert c.versions["signature"] and c.versions["identity"] and c.versions["kb"]
    assert any(m["id"] for m in c.kb)  # the starter KB knows what a NULL dereference is


@pytest.mark.lab
def test_flat_dump_alone_is_reassembled_and_gives_the_log(lab: Any, hub: Hub, pipeline: Pipeline) -> None:
    run = lab.crash("6.1", "null")
    only_dump = pipeline.ingest(Arrival(dump=Path(run.path("rhel-ssh/vmcore.flat")), source="cli"))
    assert only_dump.created and only_dump.crash.has_vmcore
    assert {f.role for f in only_dump.crash.files} == {"log_from_dump", "vmcore"}
    assert only_dump.crash.dump_facts["format"] == "kdump"  # type: ignore[index]
    # The same crash with its vmcore-dmesg.txt: the same crash (identity is the log's content).
    again = ingest_path(pipeline, crash_dir(run, "rhel"))
    assert not again.created and again.crash.id == only_dump.crash.id


@pytest.mark.lab
def test_kaslr_boots_share_a_bucket(lab: Any, hub: Hub, pipeline: Pipeline) -> None:
    one = ingest_path(pipeline, crash_dir(lab.crash("6.1", "null"), "rhel"))
    two = ingest_path(pipeline, crash_dir(lab.crash("6.1", "null", instance=2), "rhel"))
    assert one.created and two.created and one.crash.id != two.crash.id
    assert one.bucket.id == two.bucket.id and two.bucket.count == 2


@pytest.mark.lab
def test_host_identity_order(lab: Any, hub: Hub, pipeline: Pipeline) -> None:
    run = lab.crash("6.1", "null")
    o = ingest_path(pipeline, crash_dir(run, "rhel-ssh"))
    # The lab guest's utsname nodename is "(none)": no name, so the directory's IP is used.
    assert (o.crash.host, o.crash.host_source) == ("10.0.2.15", "dir-ip")
    log = Path(run.path("rhel/vmcore-dmesg.txt")).read_bytes()
    o2 = pipeline.ingest(Arrival(log=log, host="web7", source="http"))
    # The same log text from a host that names itself is that host's own crash (issue 14: a host
    # never gets another host's crash id, to send a dump to); the directory's crash keeps its host.
    assert o2.created and o2.crash.id != o.crash.id and o2.crash.host == "web7"
    again = ingest_path(pipeline, crash_dir(run, "rhel"))  # 127.0.0.1: names no host
    assert not again.created and again.crash.id == o.crash.id


def test_same_log_from_two_hosts_racing_is_two_crashes(
    hub: Hub, pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two agents send the same log text at the same moment: both look the identity up before either
    has stored it.  The one that stores second must still get its own crash (its host differs), as it
    does when it comes later; and a repeat from either host is that host's crash again."""
    log = (b"[    4.429052] BUG: kernel NULL pointer dereference, address: 0000000000000020\n"
           b"[    4.429342] #PF: supervisor write access in kernel mode\n"
           b"[    4.430000] RIP: 0010:crash_null+0x1a/0x30 [crashmod]\n"
           b"[    4.430100] Call Trace:\n[    4.430200]  <TASK>\n"
           b"[    4.430300]  do_one_initcall+0x41/0x200\n")
    first = pipeline.ingest(Arrival(log=log, host="web1", source="http"))
    # The second upload's lookup ran before the first one's transaction ended: it saw nothing.
    monkeypatch.setattr(hub.store.crashes, "crash_by_identity", lambda ident: None)
    second = pipeline.ingest(Arrival(log=log, host="web2", source="http"))
    assert first.created and second.created and first.crash.id != second.crash.id
    assert (first.crash.host, second.crash.host) == ("web1", "web2")
    monkeypatch.undo()
    assert pipeline.ingest(Arrival(log=log, host="web2", source="http")).crash.id == second.crash.id
    assert pipeline.ingest(Arrival(log=log, host="web1", source="http")).crash.id == first.crash.id
    assert len(hub.store.crashes.list_crashes()) == 2


def test_garbage_dump_is_refused_and_nothing_stored(hub: Hub, pipeline: Pipeline, tmp_path: Path) -> None:
    junk = tmp_path / "vmcore"
    junk.write_bytes(b"NOTADUMP" * 1000)
    with pytest.raises(DumpError):
        pipeline.ingest(Arrival(log=b"[    0.000000] Linux version 6.1\n", dump=junk, source="http"))
    assert hub.store.crashes.list_crashes() == [] and _blob_count(hub) == 0
    assert not any((hub.settings.blob_dir / "tmp").iterdir())


def test_binary_log_is_refused(hub: Hub, pipeline: Pipeline) -> None:
    with pytest.raises(LogError, match="binary"):
        pipeline.ingest(Arrival(log=b"\x00\x01\x02" * 100, source="http"))
    assert hub.store.crashes.list_crashes() == []


def test_log_without_a_crash_is_kept_as_unrecognised(hub: Hub, pipeline: Pipeline) -> None:
    log = b"".join(b"[%5d.000000] nothing to see %d\n" % (i, i) for i in range(20))
    o = pipeline.ingest(Arrival(log=log, source="cli"))
    assert o.crash.kind == "unrecognised" and o.bucket.key == "unrecognised"
    assert not pipeline.ingest(Arrival(log=log, source="cli")).created


@pytest.mark.lab
def test_kb_entry_added_later_shows_on_old_crashes(lab: Any, hub: Hub, pipeline: Pipeline) -> None:
    o = ingest_path(pipeline, crash_dir(lab.crash("6.1", "null"), "rhel"))
    assert "lab-crashmod-null" not in [m["id"] for m in o.bucket.kb]
    entry = parse_entry(
        "id: lab-crashmod-null\ntitle: crashmod writes through NULL\nstatus: known\n"
        "match:\n  kinds: [null_deref]\n  function: ^crashmod_\n",
        "new.yaml",
    )
    pipeline.kb.put(entry)
    assert (hub.settings.kb_path / "lab-crashmod-null.yaml").is_file()
    assert pipeline.kb.reapply(hub.store) == 1
    b = hub.store.buckets.get_bucket(o.bucket.id)
    assert b is not None and b.kb[0]["id"] == "lab-crashmod-null"
    assert any("function" in r for r in b.kb[0]["matched_rules"])


@pytest.mark.lab
def test_both_kernels_share_a_bucket(lab: Any, hub: Hub, pipeline: Pipeline) -> None:
    old = ingest_path(pipeline, crash_dir(lab.crash("6.1", "null"), "rhel"))
    new = ingest_path(pipeline, crash_dir(lab.crash("6.12", "null"), "rhel"))
    assert old.crash.release != new.crash.release
    assert old.bucket.id == new.bucket.id
    b = hub.store.buckets.get_bucket(new.bucket.id)
    assert b is not None and set(b.kernels) == {old.crash.release, new.crash.release}


def test_flat_dump_with_a_huge_offset_is_refused_fast(hub: Hub, pipeline: Pipeline, tmp_path: Path) -> None:
    head = b"makedumpfile\0".ljust(16, b"\0") + struct.pack(">qq", 1, 1)
    flat = head.ljust(4096, b"\0")
    flat += struct.pack(">qq", 0, 8) + b"KDUMP   "
    flat += struct.pack(">qq", 1 << 40, 16) + b"x" * 16  # 1 TiB away: sparse, but not a dump
    flat += struct.pack(">qq", -1, -1)
    p = tmp_path / "vmcore.flat"
    p.write_bytes(flat)
    t = time.monotonic()
    with pytest.raises(DumpError):
        pipeline.ingest(Arrival(log=b"[    0.000000] Linux version 6.1\n", dump=p, source="http"))
    assert time.monotonic() - t < 10
    assert hub.store.crashes.list_crashes() == [] and _blob_count(hub) == 0
    assert not any((hub.settings.blob_dir / "tmp").iterdir())


def test_a_broken_kb_file_does_not_stop_ingest(hub: Hub, pipeline: Pipeline) -> None:
    kb = hub.settings.kb_path
    (kb / "broken.yaml").write_text("id: broken\ntitle: x\nmatch:\n  title: '(unclosed'\n")
    log = b"".join(b"[%5d.000000] line %d\n" % (i, i) for i in range(10))
    o = pipeline.ingest(Arrival(log=log, source="cli"))
    assert o.created
    assert pipeline.kb.entries()  # the starter entries still apply
    (err,) = pipeline.kb.errors
    assert "broken.yaml" in str(err) and "title" in str(err)
