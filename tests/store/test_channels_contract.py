"""A crash's channels (store.crashes.add_channel / crash_channels / channel_coverage, migration 0015),
on SQLite and PostgreSQL alike: a better log moves the crash's counts with it, never twice."""

from __future__ import annotations

from dataclasses import replace

from tests.store.contract import DUMP, LOG, crash

from crashhub.store import ChannelRecord, Coverage, FileRecord, Store, coverage

NC_LOG = FileRecord(name="netconsole.log", role="log", digest="e" * 64, size=700)
PS_LOG = FileRecord(name="pstore-dmesg.txt", role="log", digest="f" * 64, size=500)


def _netconsole_crash(store: Store, t: float = 1_800_000_000.0) -> str:
    new = replace(crash("nc1", key="net-key", when=t, files=(NC_LOG,)), crash_time_source="received",
                  channel=ChannelRecord("netconsole", t, t, "netconsole", NC_LOG.name, NC_LOG.digest,
                                        NC_LOG.size, ("2 messages lost",)))
    c, created = store.crashes.add_crash(new)
    assert created
    return c.id


def test_a_new_crash_has_its_channel(store: Store) -> None:
    a, _ = store.crashes.add_crash(crash("id1", when=100.0))
    (ch,) = store.crashes.crash_channels(a.id)
    assert (ch.channel, ch.crash_time, ch.log_name, ch.log_digest) == ("kdump", 100.0, LOG.name, LOG.digest)
    cid = _netconsole_crash(store)
    (nc,) = store.crashes.crash_channels(cid)
    assert (nc.channel, nc.notes, nc.source) == ("netconsole", ("2 messages lost",), "netconsole")
    assert ChannelRecord.from_dict(nc.to_dict()) == nc


def test_a_worse_log_is_kept_beside_and_changes_nothing(store: Store) -> None:
    a, _ = store.crashes.add_crash(crash("id1", when=100.0))
    row = ChannelRecord("netconsole", 101.0, 101.0, "netconsole", NC_LOG.name, NC_LOG.digest, NC_LOG.size)
    b, added = store.crashes.add_channel(a.id, row, [replace(NC_LOG, role="channel_log")], None)
    assert added and (b.identity, b.bucket_id, b.report) == (a.identity, a.bucket_id, a.report)
    assert {(f.name, f.role) for f in b.files} == {(LOG.name, "log"), (NC_LOG.name, "channel_log")}
    again, added2 = store.crashes.add_channel(a.id, row, [replace(NC_LOG, role="channel_log")], None)
    assert not added2 and again.files == b.files
    assert sorted(c.channel for c in store.crashes.crash_channels(a.id)) == ["kdump", "netconsole"]
    assert store.buckets.get_bucket(a.bucket_id).count == 1  # type: ignore[union-attr]


def test_a_better_log_moves_the_crash_and_its_counts(store: Store) -> None:
    cid = _netconsole_crash(store)
    before = store.crashes.get_crash(cid)
    assert before is not None
    # The kdump log's triage puts it in another bucket (say the netconsole cut missed the oops).
    better = crash("kd1", key="dump-key", when=1_800_000_030.0, hw="QEMU", files=(LOG,))
    row = ChannelRecord("kdump", 1_800_000_100.0, 1_800_000_030.0, "http", LOG.name, LOG.digest, LOG.size)
    c, added = store.crashes.add_channel(cid, row, [LOG], better)
    assert added and c.identity == "kd1" and c.signature_key == "dump-key" and c.hardware == "QEMU"
    assert c.crash_time == 1_800_000_030.0 and c.crash_time_source == "dump"  # the dump's time wins
    assert {(f.name, f.role) for f in c.files} == {(LOG.name, "log"), (NC_LOG.name, "channel_log")}
    old, new = store.buckets.get_bucket(before.bucket_id), store.buckets.get_bucket(c.bucket_id)
    assert old is not None and new is not None and old.id != new.id
    assert (old.count, new.count) == (0, 1)
    assert new.hardware == ("QEMU",) and new.hosts == ("web1",)
    assert store.crashes.crash_by_identity("kd1") is not None
    # The dump arrives for it: counted once as a dump, the kdump row already there.
    d = store.crashes.attach_dump(cid, DUMP, {"crash_time": 1_800_000_031.0})
    assert d.has_vmcore and store.buckets.get_bucket(c.bucket_id).dumps == 1  # type: ignore[union-attr]
    assert sorted(x.channel for x in store.crashes.crash_channels(cid)) == ["kdump", "netconsole"]


def test_a_dump_for_a_channel_crash_adds_kdump(store: Store) -> None:
    cid = _netconsole_crash(store)
    store.crashes.attach_dump(cid, DUMP, None)
    assert sorted(x.channel for x in store.crashes.crash_channels(cid)) == ["kdump", "netconsole"]


def test_coverage_rows_and_figures(store: Store) -> None:
    t = 1_800_000_000.0
    a, _ = store.crashes.add_crash(crash("id1", when=t))
    cid = _netconsole_crash(store, t)
    ps = FileRecord(name="pstore-dmesg.txt", role="log", digest="f" * 64, size=500)
    p, _ = store.crashes.add_crash(replace(crash("ps1", host="db2", release="6.12.1", when=t, files=(ps,)),
                                           channel=ChannelRecord("pstore", t, t, "http", ps.name, ps.digest)))
    rows = {r.crash_id: r.channels for r in store.crashes.channel_coverage(0.0)}
    assert rows == {a.id: ("kdump",), cid: ("netconsole",), p.id: ("pstore",)}
    assert store.crashes.channel_coverage(a.received_at + 3600) == []
    received = max(r.received_at for r in store.crashes.channel_coverage(0.0))
    cov = coverage(store.crashes.channel_coverage(0.0), since=0.0, now=received + 48 * 3600, grace_hours=24,
                   host_kdump={"web1": {"verdict": "fail"}})
    assert cov.total.crashes == 3 and cov.total.dump_missing == 2 and cov.total.unverified == 1
    assert cov.total.by_channel == {"kdump": 1, "pstore": 1, "netconsole": 1}
    web1 = next(r for r in cov.hosts if r.name == "web1")
    assert (web1.crashes, web1.dump_missing, web1.missing, web1.kdump) == (2, 1, (cid,), {"verdict": "fail"})
    early = coverage(store.crashes.channel_coverage(0.0), since=0.0, now=received + 60, grace_hours=24)
    assert early.total.dump_missing == 0 and early.total.waiting == 2
    assert [k.name for k in cov.kernels] == ["6.1.0-56-cloud-amd64", "6.12.1"]
    assert Coverage.from_dict(cov.to_dict()) == replace(cov, since=0.0)
