"""One crash seen through kdump, netconsole and pstore (issue 19) is one crash, on a real lab crash.

The netconsole text is what the hub's receiver hands over (the kernel's lines, printk stamps and all,
cut from the stream around the oops, with the panic lines printed after kexec was tried, which
vmcore-dmesg never holds); the pstore record is what ramoops keeps: a ``Panic#1 Part1`` header and
the ring buffer's tail with ``<N>`` level prefixes.  Both are made here from the run's
vmcore-dmesg.txt; the lab's own records come with the lab's netconsole and ramoops runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from crashhub import dump as dumpmod
from crashhub.ingest import Arrival, Pipeline
from crashhub.report import render
from crashhub.store import Hub, fleet_coverage, unverified

HOST = "web7.example.com"


def netconsole_text(log: bytes) -> bytes:
    """The receiver's cut: the last 120 lines of the ring, then the panic the dying kernel printed
    after crash_kexec (6.1's panic(): "Kernel panic - not syncing: Fatal exception")."""
    lines = log.decode().splitlines()[-120:]
    last = float(lines[-1][1:].split("]", 1)[0])
    lines += [f"[{last + 0.0004:12.6f}] Kernel panic - not syncing: Fatal exception",
              f"[{last + 0.0009:12.6f}] Kernel Offset: 0x2c000000 from 0xffffffff81000000"]
    return ("\n".join(lines) + "\n").encode()


def pstore_record(log: bytes, lines: int = 60) -> bytes:
    """A ramoops dmesg record: its header, then the ring's tail with syslog level prefixes."""
    tail = log.decode().splitlines()[-lines:]
    return ("Panic#1 Part1\n" + "\n".join(f"<4>{x}" for x in tail) + "\n").encode()


class Crash:
    """One lab crash and the three ways it reaches the hub."""

    def __init__(self, run: Any) -> None:
        self.log = Path(run.path("rhel/vmcore-dmesg.txt")).read_bytes()
        self.vmcore = Path(run.path("rhel/vmcore"))
        facts = dumpmod.facts(self.vmcore)
        assert facts.crash_time is not None
        self.time = float(facts.crash_time)

    def kdump(self, host: str = HOST, *, with_dump: bool = True) -> Arrival:
        return Arrival(log=self.log, dump=self.vmcore if with_dump else None, host=host,
                       host_source="token", source="http")

    def netconsole(self, host: str = HOST, *, after: float = 1.0, notes: list[str] | None = None) -> Arrival:
        return Arrival(log=netconsole_text(self.log), log_name="netconsole.log", host=host,
                       host_source="netconsole", source="netconsole", channel="netconsole",
                       strict_dump=False, crash_time=self.time + after, notes=list(notes or []))

    def pstore(self, host: str = HOST, *, after: float = 0.5, lines: int = 60) -> Arrival:
        return Arrival(log=pstore_record(self.log, lines), log_name="pstore-dmesg.txt", host=host,
                       host_source="token", source="http", channel="pstore", crash_time=self.time + after)


@pytest.fixture
def crash(lab: Any) -> Crash:
    return Crash(lab.crash("6.1", "null"))


def _channels(hub: Hub, crash_id: str) -> list[str]:
    return sorted(ch.channel for ch in hub.store.crashes.crash_channels(crash_id))


def _log_file(hub: Hub, crash_id: str) -> str:
    c = hub.store.crashes.get_crash(crash_id)
    assert c is not None
    logs = [f.name for f in c.files if f.role in ("log", "log_from_dump")]
    assert len(logs) == 1, c.files  # one best log, the others kept as channel logs
    return logs[0]


@pytest.mark.lab
def test_netconsole_then_pstore_then_kdump_is_one_crash(crash: Crash, hub: Hub, pipeline: Pipeline) -> None:
    nc = pipeline.ingest(crash.netconsole(notes=["netconsole: 2 messages lost (seq 4811-4812)"]))
    assert nc.created and nc.crash.kind == "null_deref" and nc.bucket.count == 1
    assert _log_file(hub, nc.crash.id) == "netconsole.log"
    ps = pipeline.ingest(crash.pstore())
    assert not ps.created and ps.crash.id == nc.crash.id
    assert _log_file(hub, nc.crash.id) == "pstore-dmesg.txt"  # pstore's log is better than netconsole's
    kd = pipeline.ingest(crash.kdump())
    assert not kd.created and kd.crash.id == nc.crash.id and kd.crash.has_vmcore
    assert _channels(hub, nc.crash.id) == ["kdump", "netconsole", "pstore"]
    assert _log_file(hub, nc.crash.id) == "vmcore-dmesg.txt"
    c = hub.store.crashes.get_crash(nc.crash.id)
    assert c is not None and c.crash_time_source == "dump" and c.crash_time == crash.time
    # Triage from the dump's log: the report is vmcore-dmesg's, the bucket counted the crash once.
    assert c.report is not None and c.report["end_line"] == len(crash.log.decode().splitlines()) - 1
    b = hub.store.buckets.get_bucket(c.bucket_id)
    assert b is not None and (b.count, b.dumps) == (1, 1)
    assert {f.role for f in c.files} == {"log", "channel_log", "vmcore"}
    notes = {ch.channel: ch.notes for ch in hub.store.crashes.crash_channels(c.id)}
    assert notes["netconsole"] == ("netconsole: 2 messages lost (seq 4811-4812)",)
    assert hub.store.crashes.count_crashes() == 1


@pytest.mark.lab
def test_kdump_then_netconsole_keeps_the_dump_log(crash: Crash, hub: Hub, pipeline: Pipeline) -> None:
    kd = pipeline.ingest(crash.kdump())
    before = hub.store.crashes.get_crash(kd.crash.id)
    nc = pipeline.ingest(crash.netconsole())
    assert not nc.created and nc.crash.id == kd.crash.id
    after = hub.store.crashes.get_crash(kd.crash.id)
    assert before is not None and after is not None
    assert _log_file(hub, kd.crash.id) == "vmcore-dmesg.txt"  # never replaced by a worse log
    assert (after.report, after.identity) == (before.report, before.identity)
    assert after.bucket_id == before.bucket_id
    assert _channels(hub, kd.crash.id) == ["kdump", "netconsole"]
    assert hub.store.buckets.get_bucket(after.bucket_id).count == 1  # type: ignore[union-attr]
    # The same netconsole cut again (a resend) changes nothing.
    again = pipeline.ingest(crash.netconsole())
    assert not again.created and again.crash.id == kd.crash.id
    assert _channels(hub, kd.crash.id) == ["kdump", "netconsole"]


@pytest.mark.lab
def test_a_channel_alone_is_a_crash_like_any_other(crash: Crash, hub: Hub, pipeline: Pipeline) -> None:
    ps = pipeline.ingest(crash.pstore())
    assert ps.created and ps.crash.kind == "null_deref" and ps.bucket.count == 1
    assert ps.crash.crash_time_source == "pstore" and ps.crash.crash_time == crash.time + 0.5
    kd = pipeline.ingest(crash.kdump())  # the kdump of the same crash still finds it
    assert kd.crash.id == ps.crash.id and kd.bucket.id == ps.bucket.id and kd.bucket.count == 1
    other = pipeline.ingest(crash.netconsole(host="db3.example.com"))
    # A netconsole crash of another host is its own crash: never attached to this host's.
    assert other.created and other.crash.id != ps.crash.id and other.crash.host == "db3.example.com"
    assert _channels(hub, other.crash.id) == ["netconsole"]
    assert _channels(hub, ps.crash.id) == ["kdump", "pstore"]
    b = hub.store.buckets.get_bucket(ps.bucket.id)
    assert b is not None and b.count == 2 and b.host_count == 2


@pytest.mark.lab
def test_the_same_text_an_hour_later_is_another_crash(crash: Crash, hub: Hub, pipeline: Pipeline) -> None:
    kd = pipeline.ingest(crash.kdump())
    later = pipeline.ingest(crash.netconsole(after=3600.0))
    assert later.created and later.crash.id != kd.crash.id
    assert _channels(hub, kd.crash.id) == ["kdump"] and _channels(hub, later.crash.id) == ["netconsole"]
    pst = pipeline.ingest(crash.pstore(after=3600.5))  # ... and its pstore record joins that one
    assert pst.crash.id == later.crash.id
    assert hub.store.buckets.get_bucket(kd.bucket.id).count == 2  # type: ignore[union-attr]


@pytest.mark.lab
def test_another_boots_crash_is_not_joined(lab: Any, hub: Hub, pipeline: Pipeline) -> None:
    """Two boots of the same bug on one host, close in time: the stamps tell them apart."""
    one, two = Crash(lab.crash("6.1", "null")), Crash(lab.crash("6.1", "null", instance=2))
    kd = pipeline.ingest(one.kdump())
    nc = pipeline.ingest(two.netconsole(after=one.time - two.time + 60))  # a minute after the first
    assert nc.created and nc.crash.id != kd.crash.id and nc.bucket.id == kd.bucket.id


@pytest.mark.lab
def test_a_short_pstore_record_still_joins(crash: Crash, hub: Hub, pipeline: Pipeline) -> None:
    """A record cut inside the report (ramoops keeps kmsg_bytes): the report's start is missing,
    triage ends it elsewhere, and the stamped lines in common still say it is the same crash."""
    kd = pipeline.ingest(crash.kdump(with_dump=False))
    ps = pipeline.ingest(crash.pstore(lines=20))
    assert ps.crash.id == kd.crash.id
    assert _channels(hub, kd.crash.id) == ["kdump", "pstore"]
    assert _log_file(hub, kd.crash.id) == "vmcore-dmesg.txt"


@pytest.mark.lab
def test_unverified_is_netconsole_alone(crash: Crash, hub: Hub, pipeline: Pipeline) -> None:
    nc = pipeline.ingest(crash.netconsole())
    assert unverified(_channels(hub, nc.crash.id))
    pipeline.ingest(crash.pstore())
    assert not unverified(_channels(hub, nc.crash.id))


@pytest.mark.lab
def test_coverage_counts_the_dump_that_never_came(crash: Crash, hub: Hub, pipeline: Pipeline) -> None:
    kd = pipeline.ingest(crash.kdump(with_dump=False))
    pipeline.ingest(crash.netconsole())  # joins the kdump crash: covered
    lost = pipeline.ingest(crash.netconsole(host="db3.example.com"))  # no dump on db3
    hub.store.hosts.report_host("db3.example.com", release=None, build_id=None, hardware=None, machine=None,
                                agent_version="t", kdump={"verdict": "fail", "items": []})
    now = lost.crash.received_at
    soon = fleet_coverage(hub.store, now=now + 3600, days=30, grace_hours=hub.settings.dump_grace_hours)
    assert (soon.total.crashes, soon.total.waiting, soon.total.dump_missing) == (2, 1, 0)
    late = fleet_coverage(hub.store, now=now + 25 * 3600, days=30, grace_hours=hub.settings.dump_grace_hours)
    assert (late.total.dump_missing, late.total.unverified) == (1, 1)
    assert late.total.by_channel == {"kdump": 1, "pstore": 0, "netconsole": 2}
    db3 = next(r for r in late.hosts if r.name == "db3.example.com")
    assert db3.missing == (lost.crash.id,) and db3.kdump == {"verdict": "fail", "items": []}
    assert late.hosts[0].name == "db3.example.com"  # where kdump failed most comes first
    assert next(r for r in late.hosts if r.name == HOST).dump_missing == 0
    assert kd.crash.release is not None and [k.name for k in late.kernels] == [kd.crash.release]
    week = render.weekly_doc(hub, now + 25 * 3600)
    assert week["coverage"]["total"]["dump_missing"] == 1
    assert [h["name"] for h in week["coverage"]["dump_missing_hosts"]] == ["db3.example.com"]
    assert "kdump failed 1" in render.to_markdown(week)
