"""The store contract: every Store implementation (SQLite, PostgreSQL) must pass these."""

from __future__ import annotations

import threading
import time
from dataclasses import replace

import pytest

from crashhub.errors import StoreError
from crashhub.store import Store
from crashhub.store.base import FileRecord, NewCrash, day_of
from crashhub.store.migrate import current

LOG = FileRecord(name="vmcore-dmesg.txt", role="log", digest="a" * 64, size=10)
DUMP = FileRecord(name="vmcore", role="vmcore", digest="b" * 64, size=1000)


def crash(
    identity: str,
    *,
    key: str = "k1",
    host: str = "web1",
    release: str = "6.1.0-56-cloud-amd64",
    when: float | None = None,
    files: tuple[FileRecord, ...] = (LOG,),
    hw: str | None = None,
) -> NewCrash:
    return NewCrash(
        identity=identity,
        host=host,
        host_source="agent",
        release=release,
        kind="null_deref",
        title=f"NULL in f ({key})",
        signature_algorithm="sig:test",
        signature_key=key,
        signature_title=f"NULL in f ({key})",
        signature_frames=("f", "g"),
        crash_time=when,
        crash_time_source="dump" if when else None,
        hardware=hw,
        report={"kind": "null_deref", "title": "NULL in f"},
        reports=1,
        source="cli",
        files=list(files),
        kb=[{"id": "generic-null", "title": "t"}],
    )


def test_schema_is_at_head(store: Store) -> None:
    assert current(store.engine) == "0011"  # type: ignore[attr-defined]
    store.migrate()  # idempotent


def test_same_identity_is_one_crash(store: Store) -> None:
    a, created = store.crashes.add_crash(crash("id1"))
    b, created2 = store.crashes.add_crash(crash("id1", host="other"))
    assert created and not created2
    assert a.id == b.id and b.host == "web1"
    bucket = store.buckets.get_bucket(a.bucket_id)
    assert bucket is not None and bucket.count == 1


def test_duplicate_attaches_missing_files_but_never_counts(store: Store) -> None:
    a, _ = store.crashes.add_crash(crash("id1"))
    kexec = FileRecord(name="kexec-dmesg.log", role="kexec_log", digest="c" * 64, size=5)
    b, created = store.crashes.add_crash(crash("id1", files=(LOG, kexec)))
    assert not created
    assert {f.name for f in b.files} == {"vmcore-dmesg.txt", "kexec-dmesg.log"}
    assert store.buckets.get_bucket(a.bucket_id).count == 1  # type: ignore[union-attr]


def test_bucket_aggregates(store: Store) -> None:
    t0 = 1_790_000_000.0
    store.crashes.add_crash(crash("1", host="h1", when=t0, hw="QEMU Standard PC"))
    store.crashes.add_crash(crash("2", host="h2", when=t0 + 86400, release="6.12.117+deb12-cloud-amd64"))
    c, _ = store.crashes.add_crash(crash("3", host="h1", when=t0 + 10, files=(LOG, DUMP)))
    b = store.buckets.get_bucket(c.bucket_id)
    assert b is not None
    assert b.count == 3 and b.dumps == 1
    assert b.first_seen == t0 and b.last_seen == t0 + 86400
    assert b.hosts == ("h1", "h2")
    assert set(b.kernels) == {"6.1.0-56-cloud-amd64", "6.12.117+deb12-cloud-amd64"}
    assert b.hardware == ("QEMU Standard PC",)
    assert b.days == {day_of(t0): 2, day_of(t0 + 86400): 1}
    assert b.kb == [{"id": "generic-null", "title": "t"}]


def test_list_buckets_sorts(store: Store) -> None:
    today = "2026-11-26"
    base = 1_795_651_200.0  # 2026-11-26 00:00 UTC
    for i in range(3):
        store.crashes.add_crash(crash(f"a{i}", key="big", when=base - 5 * 86400 + i))
    store.crashes.add_crash(crash("b0", key="late", when=base + 3600))
    for i in range(2):
        store.crashes.add_crash(crash(f"c{i}", key="hot", when=base + i))
    by_count = store.buckets.list_buckets(sort="count", today=today)
    assert [b.key for b in by_count] == ["big", "hot", "late"]
    by_last = store.buckets.list_buckets(sort="last_seen", today=today)
    assert by_last[0].key == "late"
    by_trend = store.buckets.list_buckets(sort="trend", today=today)
    assert [b.key for b in by_trend][:2] == ["hot", "late"]
    assert store.buckets.count_buckets() == 3
    page = store.buckets.list_buckets(sort="count", limit=1, offset=1, today=today)
    assert [b.key for b in page] == ["hot"]
    with pytest.raises(StoreError):
        store.buckets.list_buckets(sort="nonsense")


def test_spike_flag(store: Store) -> None:
    base = 1_795_651_200.0
    for d in range(1, 8):
        store.crashes.add_crash(crash(f"old{d}", when=base - d * 86400))
    for i in range(6):
        store.crashes.add_crash(crash(f"new{i}", when=base + i))
    (b,) = store.buckets.list_buckets(today="2026-11-26", spike_min=5, spike_factor=3.0)
    assert b.spike and b.trend > 0
    (b2,) = store.buckets.list_buckets(today="2026-11-26", spike_min=10)
    assert not b2.spike


def test_merge_and_split_are_recorded(store: Store) -> None:
    a, _ = store.crashes.add_crash(crash("1", key="x"))
    b1, _ = store.crashes.add_crash(crash("2", key="y"))
    b2, _ = store.crashes.add_crash(crash("3", key="y"))
    merged = store.buckets.merge_buckets(a.bucket_id, b1.bucket_id, "admin")
    assert merged.count == 3
    assert store.buckets.get_bucket(a.bucket_id).merged_into == b1.bucket_id  # type: ignore[union-attr]
    later, _ = store.crashes.add_crash(crash("4", key="x"))  # the merged key now lands in the target
    assert later.bucket_id == b1.bucket_id
    assert [e.action for e in store.buckets.bucket_events(b1.bucket_id)] == ["merge"]
    assert all(b.id != a.bucket_id for b in store.buckets.list_buckets())

    new = store.buckets.split_bucket(b1.bucket_id, [a.id], "admin", title="really another bug")
    assert new.count == 1 and new.title == "really another bug"
    assert store.buckets.get_bucket(b1.bucket_id).count == 3  # type: ignore[union-attr]
    assert store.crashes.get_crash(a.id).bucket_id == new.id  # type: ignore[union-attr]
    assert [e.action for e in store.buckets.bucket_events(b1.bucket_id)] == ["merge", "split"]
    with pytest.raises(StoreError):
        store.buckets.split_bucket(b1.bucket_id, [b2.id, b1.id, later.id], "admin")  # would empty it
    with pytest.raises(StoreError):
        store.buckets.split_bucket(b1.bucket_id, ["nope"], "admin")
    with pytest.raises(StoreError):
        store.buckets.merge_buckets(b1.bucket_id, b1.bucket_id, "admin")


def test_attach_dump_once(store: Store) -> None:
    c, _ = store.crashes.add_crash(crash("1"))
    c2 = store.crashes.attach_dump(c.id, DUMP, {"format": "kdump"})
    c3 = store.crashes.attach_dump(c.id, replace(DUMP, digest="d" * 64), {"format": "elf"})
    assert c2.has_vmcore and c3.dump_facts == {"format": "kdump"}
    assert store.buckets.get_bucket(c.bucket_id).dumps == 1  # type: ignore[union-attr]
    assert store.retention.referenced_digests() == {"a" * 64, "b" * 64}


def test_list_crashes_filters(store: Store) -> None:
    store.crashes.add_crash(crash("1", host="h1"))
    c2, _ = store.crashes.add_crash(crash("2", host="h2", key="other"))
    assert [c.id for c in store.crashes.list_crashes(host="h2")] == [c2.id]
    assert [c.id for c in store.crashes.list_crashes(bucket=c2.bucket_id)] == [c2.id]
    assert len(store.crashes.list_crashes(limit=1)) == 1
    assert store.crashes.list_crashes(since=4_000_000_000.0) == []


def test_concurrent_adds_of_one_crash(store: Store) -> None:
    results: list[bool] = []
    errors: list[BaseException] = []

    def go() -> None:
        try:
            results.append(store.crashes.add_crash(crash("same"))[1])
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=go) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(results) == [False] * 7 + [True]
    assert store.buckets.list_buckets()[0].count == 1


def test_tokens_and_audit(store: Store) -> None:
    t = store.access.create_token("ci", "host", "h" * 64)
    assert store.access.token_by_hash("h" * 64) == t
    assert store.access.revoke_token(t.id)
    assert store.access.token_by_hash("h" * 64) is None
    store.access.audit("me", "download-dump", "c1/vmcore", {"size": 3})
    (a,) = store.access.list_audit()
    assert (a.actor, a.action, a.target, a.detail) == ("me", "download-dump", "c1/vmcore", {"size": 3})


def test_a_token_is_bound_to_one_host(store: Store) -> None:
    made = store.access.create_token("web1", "host", "a" * 64, host="web1")
    assert made.host == "web1" and store.access.token_by_hash("a" * 64) == made
    # A bound token stays bound: a later bind to another host answers the host it already has.
    assert store.access.bind_token(made.id, "web2") == "web1"
    free = store.access.create_token("old", "host", "b" * 64)
    assert free.host is None
    assert store.access.bind_token(free.id, "db1") == "db1"
    assert store.access.bind_token(free.id, "db2") == "db1"
    got = store.access.token_by_hash("b" * 64)
    assert got is not None and got.host == "db1"
    assert [t.host for t in store.access.list_tokens()] == ["web1", "db1"]
    assert store.access.bind_token("t-nope", "x") is None


def test_a_first_use_does_not_take_another_tokens_host(store: Store) -> None:
    own = store.access.create_token("web1", "host", "d" * 64, host="web1")
    stray = store.access.create_token("stray", "host", "f" * 64)
    assert store.access.bind_token(stray.id, "web1") is None
    got = store.access.token_by_hash("f" * 64)
    assert got is not None and got.host is None
    assert store.access.revoke_token(own.id)
    assert store.access.bind_token(stray.id, "web1") == "web1"


def test_racing_first_uses_bind_one_host(store: Store) -> None:
    t = store.access.create_token("race", "host", "c" * 64)
    results: list[str | None] = []
    threads = [
        threading.Thread(target=lambda h=h: results.append(store.access.bind_token(t.id, h)))  # type: ignore[misc]
        for h in ("h1", "h2", "h3", "h4")
    ]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(set(results)) == 1 and results[0] in {"h1", "h2", "h3", "h4"}


def test_hosts_and_kernels(store: Store) -> None:
    store.hosts.report_host(
        "web1",
        release="6.1.0-56-cloud-amd64",
        build_id="ab12",
        hardware="QEMU",
        machine="x86_64",
        agent_version="0.1",
        kdump={"ok": True},
    )
    store.hosts.report_host(
        "web1",
        release="6.1.0-56-cloud-amd64",
        build_id="ab12",
        hardware="QEMU",
        machine="x86_64",
        agent_version="0.2",
        kdump=None,
    )
    store.crashes.add_crash(crash("1", host="web2"))
    hosts = {h.name: h for h in store.hosts.list_hosts()}
    assert hosts["web1"].agent_version == "0.2" and hosts["web1"].crashes == 0
    assert hosts["web2"].crashes == 1
    (k,) = store.hosts.list_kernels()
    assert (k.release, k.crashes, k.hosts, k.build_ids) == ("6.1.0-56-cloud-amd64", 1, 2, ("ab12",))


def test_jobs(store: Store) -> None:
    j1, new1 = store.jobs.enqueue_job("analyze", {"crash_id": "c1"}, key="analyze:c1")
    j2, new2 = store.jobs.enqueue_job("analyze", {"crash_id": "c1"}, key="analyze:c1")
    assert new1 and not new2 and j1 == j2
    assert store.jobs.job_depth() == 1
    job = store.jobs.claim_job("w1", 60)
    assert job is not None and job.payload == {"crash_id": "c1"} and job.attempts == 1
    assert store.jobs.claim_job("w2", 60) is None  # leased
    assert store.release_claims() == 1  # a restart puts it back
    job = store.jobs.claim_job("w2", 60)
    assert job is not None and job.attempts == 2
    store.jobs.finish_job(job.id, ok=True, result={"status": "done"})
    assert store.jobs.job_depth() == 0
    assert store.jobs.list_jobs(state="done")[0].result == {"status": "done"}


def test_expired_job_lease_is_taken_over(store: Store) -> None:
    store.jobs.enqueue_job("analyze", {})
    assert store.jobs.claim_job("w1", -1) is not None  # lease already over: as if w1 died
    assert store.jobs.claim_job("w2", 60) is not None


def test_spool_items(store: Store) -> None:
    assert store.uploads.claim_spool_item("d|1", "a", 60)
    assert not store.uploads.claim_spool_item("d|1", "b", 60)
    store.uploads.finish_spool_item("d|1", crash_id="c1", error=None)
    assert store.uploads.spool_item_state("d|1") == "done"
    assert not store.uploads.claim_spool_item("d|1", "b", 60)
    assert store.uploads.claim_spool_item("d|2", "a", 60)
    assert store.release_claims() == 1
    assert store.uploads.spool_item_state("d|2") is None


def test_uploads(store: Store) -> None:
    assert store.uploads.get_upload("c1") is None
    u = store.uploads.start_upload("c1", 100)
    assert u.size == 100 and store.uploads.start_upload("c1", None).size == 100
    store.uploads.end_upload("c1")
    assert store.uploads.get_upload("c1") is None


def test_abandoned_uploads_expire(store: Store) -> None:
    # upload_expiry counts from the end of an upload's last request; a held lease is never expired.
    store.uploads.start_upload("idle", None)
    assert store.uploads.claim_upload("busy", "node-a", 60)
    assert store.uploads.claim_upload("done", "node-a", 60)
    store.uploads.release_upload("done", "node-a")
    t = time.time()
    assert store.uploads.expire_uploads(t - 3600) == []  # all touched within the hour
    assert sorted(store.uploads.expire_uploads(t + 1)) == ["done", "idle"]
    assert store.uploads.get_upload("idle") is None and store.uploads.get_upload("done") is None
    assert store.uploads.get_upload("busy") is not None


def test_upload_lease(store: Store) -> None:
    # One node writes an upload at a time; a dead writer's lease runs out and another node resumes.
    assert store.uploads.claim_upload("c1", "node-a", 60)
    assert store.uploads.get_upload("c1") is not None  # the claim makes the record
    assert not store.uploads.claim_upload("c1", "node-b", 60)
    assert store.uploads.claim_upload("c1", "node-a", 60)  # renewal by its owner
    store.uploads.release_upload("c1", "node-b")  # not the owner: no effect
    assert not store.uploads.claim_upload("c1", "node-b", 60)
    store.uploads.release_upload("c1", "node-a")
    assert store.uploads.claim_upload("c1", "node-b", -1)  # taken, with a lease already over (b "dies")
    assert store.uploads.claim_upload("c1", "node-c", 60)
    assert store.release_claims() == 0  # the single node's start frees every upload lease
    assert store.uploads.claim_upload("c1", "node-d", 60)
    assert store.uploads.start_upload("c1", 500).size == 500
    assert [u.crash_id for u in store.uploads.list_uploads()] == ["c1"]
    store.uploads.end_upload("c1")
    assert store.uploads.list_uploads() == [] and store.uploads.get_upload("c1") is None


def test_upload_lease_race(store: Store) -> None:
    store.uploads.claim_upload("c9", "dead", -1)
    won: list[str] = []
    barrier = threading.Barrier(4)

    def take(name: str) -> None:
        barrier.wait()
        if store.uploads.claim_upload("c9", name, 60):
            won.append(name)

    ts = [threading.Thread(target=take, args=(f"n{i}",)) for i in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert len(won) == 1


def test_spool_lease_renewal(store: Store) -> None:
    assert store.uploads.claim_spool_item("d|r", "a", 0.5)
    assert store.uploads.renew_spool_item("d|r", "a", 60)
    assert not store.uploads.renew_spool_item("d|r", "b", 60)
    assert not store.uploads.claim_spool_item("d|r", "b", 60)  # renewed: still a's
    store.uploads.finish_spool_item("d|r", crash_id=None, error=None)
    assert not store.uploads.renew_spool_item("d|r", "a", 60)  # done items have no lease to renew


def test_shared_secret(store: Store) -> None:
    assert store.access.get_or_create_secret("ui-session", "aa" * 32) == "aa" * 32
    assert store.access.get_or_create_secret("ui-session", "bb" * 32) == "aa" * 32  # the second node agrees
    assert store.access.get_or_create_secret("other", "cc" * 32) == "cc" * 32


def test_bucket_kb_and_latest_crash(store: Store) -> None:
    store.crashes.add_crash(crash("1"))
    c2, _ = store.crashes.add_crash(crash("2"))
    assert store.crashes.latest_crash_of_bucket(c2.bucket_id).id == c2.id  # type: ignore[union-attr]
    store.buckets.set_bucket_kb(c2.bucket_id, [{"id": "x"}])
    assert store.buckets.get_bucket(c2.bucket_id).kb == [{"id": "x"}]  # type: ignore[union-attr]
    assert store.buckets.bucket_ids() == [c2.bucket_id]


def test_trend_order_agrees_with_trend_values(store: Store) -> None:
    """Busy buckets (a non-zero trailing median) and quiet ones sort by the trend they show."""
    base = 1_795_651_200.0  # 2026-11-26 00:00 UTC
    plan = {"busy-high-median": (5, 10, 6), "busy-low-median": (1, 10, 4), "quiet": (0, 3, 3),
            "today-only": (0, 0, 2), "old": (2, 12, 0)}
    for key, (per_day, ndays, today_n) in plan.items():
        for d in range(1, ndays + 1):
            for i in range(max(per_day, 1)):
                store.crashes.add_crash(crash(f"{key}-{d}-{i}", key=key, when=base - d * 86400 + i))
        for i in range(today_n):
            store.crashes.add_crash(crash(f"{key}-t{i}", key=key, when=base + i))
    rows = store.buckets.list_buckets(sort="trend", today="2026-11-26")
    trends = [b.trend for b in rows]
    assert trends == sorted(trends, reverse=True), [(b.key, b.trend) for b in rows]
    assert {b.key for b in rows} == set(plan)
