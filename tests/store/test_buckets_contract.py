"""The buckets repository's contract (store.buckets), on SQLite and PostgreSQL alike."""

from __future__ import annotations

import pytest
from tests.store.contract import DUMP, LOG, crash

from crashhub.errors import StoreError
from crashhub.store import Store, day_of


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
