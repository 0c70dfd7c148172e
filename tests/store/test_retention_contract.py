"""The store's retention methods (pins, evictions, deletions) on SQLite and PostgreSQL alike."""

from __future__ import annotations

import time

import pytest
from tests.store.contract import LOG, crash

from crashhub.errors import StoreError
from crashhub.store import FileRecord, Store


def dump_of(n: int, size: int = 1000) -> FileRecord:
    return FileRecord(name="vmcore", role="vmcore", digest=f"{n:064x}", size=size)


def test_evicted_dump_leaves_its_facts_and_its_log(store: Store) -> None:
    c, _ = store.crashes.add_crash(crash("1", files=(LOG, dump_of(1))))
    [h] = store.retention.dump_holdings()
    assert (h.crash_id, h.bucket_id, h.dump.digest, h.pinned) == (c.id, c.bucket_id, dump_of(1).digest, False)
    gone = store.retention.evict_dump(c.id, reason="count", actor="gc", bundle_since=0.0)
    assert gone is not None and (gone.digest, gone.size, gone.reason) == (dump_of(1).digest, 1000, "count")
    after = store.crashes.get_crash(c.id)
    assert after is not None
    assert after.has_vmcore and not after.dump_kept  # received once, so the host is not asked again
    assert after.dump_evicted == gone
    assert [f.role for f in after.files] == ["log"]
    d = after.to_dict()
    assert d["dump_evicted"]["sha256"] == dump_of(1).digest and d["dump_evicted"]["reason"] == "count"
    assert store.retention.dump_holdings() == []
    assert dump_of(1).digest not in store.retention.referenced_digests()
    assert store.retention.unreferenced([dump_of(1).digest, LOG.digest]) == {dump_of(1).digest}
    assert store.retention.evict_dump(c.id, reason="count", actor="gc", bundle_since=0.0) is None
    a = store.access.list_audit(5)[0]
    assert (a.action, a.target, a.detail["reason"], a.detail["size"]) == ("evict-dump", c.id, "count", 1000)


def test_a_pin_holds_the_dump_until_unpinned(store: Store) -> None:
    c, _ = store.crashes.add_crash(crash("1", files=(LOG, dump_of(1))))
    rec = store.retention.pin_dump(c.id, "alice")
    assert rec.pinned_by == "alice" and rec.pinned_at is not None
    assert store.retention.dump_holdings()[0].pinned
    assert store.retention.retention_holds(bundle_since=0.0) == {c.id: "pinned"}
    assert store.retention.evict_dump(c.id, reason="quota", actor="gc", bundle_since=0.0) is None
    assert store.retention.pin_dump(c.id, "alice", pinned=False).pinned_by is None
    assert [a.action for a in store.access.list_audit(2)] == ["unpin-dump", "pin-dump"]
    assert store.retention.evict_dump(c.id, reason="quota", actor="gc", bundle_since=0.0) is not None
    with pytest.raises(StoreError):
        store.retention.pin_dump("nope", "alice")


def test_analysis_and_open_bundles_hold_dumps(store: Store) -> None:
    a, _ = store.crashes.add_crash(crash("1", files=(LOG, dump_of(1))))
    b, _ = store.crashes.add_crash(crash("2", files=(LOG, dump_of(2))))
    job, _ = store.jobs.enqueue_job("analyze", {"crash_id": a.id})
    store.access.audit("alice", "bundle-with-dump", b.id)
    store.access.audit("alice", "bundle", a.id)  # a bundle without the dump holds nothing
    t = time.time()
    assert store.retention.retention_holds(bundle_since=t - 60) == {
        a.id: "under analysis",
        b.id: "vendor bundle",
    }
    assert store.retention.evict_dump(a.id, reason="count", actor="gc", bundle_since=t - 60) is None
    assert store.retention.evict_dump(b.id, reason="count", actor="gc", bundle_since=t - 60) is None
    # The bundle's case is closed past bundle_hold_days; the analysis ends.
    assert store.retention.retention_holds(bundle_since=t + 60) == {a.id: "under analysis"}
    store.jobs.finish_job(job, ok=True, result={})
    assert store.retention.retention_holds(bundle_since=t + 60) == {}
    assert store.retention.evict_dump(a.id, reason="count", actor="gc", bundle_since=t + 60) is not None


def test_delete_crash_uncounts_it_and_drops_an_emptied_bucket(store: Store) -> None:
    a, _ = store.crashes.add_crash(crash("1", key="k1", files=(LOG, dump_of(1))))
    store.crashes.add_crash(crash("2", key="k1", host="web2"))
    c, _ = store.crashes.add_crash(crash("3", key="k2"))
    gone = store.retention.delete_crash(a.id, "alice")
    assert gone is not None and {f.digest for f in gone.files} == {LOG.digest, dump_of(1).digest}
    assert store.crashes.get_crash(a.id) is None
    b = store.buckets.get_bucket(a.bucket_id)
    assert b is not None and (b.count, b.dumps, b.hosts) == (1, 0, ("web2",))
    assert store.retention.unreferenced([dump_of(1).digest, LOG.digest]) == {
        dump_of(1).digest
    }  # LOG still used
    store.retention.delete_crash(c.id, "alice")
    assert store.buckets.get_bucket(c.bucket_id) is None
    assert c.bucket_id not in store.buckets.bucket_ids()
    assert store.retention.delete_crash(c.id, "alice") is None
    audit = store.access.list_audit(2)
    assert [(x.action, x.target) for x in audit] == [("delete-crash", c.id), ("delete-crash", a.id)]
    assert audit[1].detail["files"][0]["sha256"] in (LOG.digest, dump_of(1).digest)


def test_a_merge_target_emptied_by_deletion_stays(store: Store) -> None:
    a, _ = store.crashes.add_crash(crash("1", key="k1"))
    b, _ = store.crashes.add_crash(crash("2", key="k2"))
    store.buckets.merge_buckets(b.bucket_id, a.bucket_id, "alice")
    store.retention.delete_crash(a.id, "alice")
    store.retention.delete_crash(b.id, "alice")
    kept = store.buckets.get_bucket(a.bucket_id)
    assert kept is not None and kept.count == 0
    # A later crash of the merged key still lands in the target.
    c, created = store.crashes.add_crash(crash("3", key="k2"))
    assert created and c.bucket_id == a.bucket_id


def test_delete_host_removes_its_crashes_and_its_report(store: Store) -> None:
    store.crashes.add_crash(crash("1", host="h1", files=(LOG, dump_of(1))))
    store.crashes.add_crash(crash("2", host="h1", key="k2"))
    other, _ = store.crashes.add_crash(crash("3", host="h2"))
    kw: dict[str, None] = dict.fromkeys(
        ("release", "build_id", "hardware", "machine", "agent_version", "kdump")
    )
    store.hosts.report_host("h1", **kw)
    gone = store.retention.delete_host("h1", "alice")
    assert len(gone) == 2
    assert store.crashes.list_crashes(host="h1") == [] and [c.id for c in store.crashes.list_crashes()] == [
        other.id
    ]
    assert "h1" not in {h.name for h in store.hosts.list_hosts()}
    a = store.access.list_audit(1)[0]
    assert (a.action, a.target, len(a.detail["crashes"])) == ("delete-host", "h1", 2)
    with pytest.raises(StoreError, match="no host"):
        store.retention.delete_host("h1", "alice")
