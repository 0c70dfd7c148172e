"""The retention policy as a pure function: which dumps go, for which reason, and which never do."""

from __future__ import annotations

import pytest

from crashhub.retention._policy import Policy, plan
from crashhub.store import DumpHolding, FileRecord

MB = 1 << 20


def dump(
    cid: str, bucket: str, t: float, *, size: int = MB, digest: str | None = None, pinned: bool = False
) -> DumpHolding:
    d = digest or (cid.encode().hex() * 64)[:64]
    return DumpHolding(
        crash_id=cid,
        bucket_id=bucket,
        host="h",
        received_at=t,
        dump=FileRecord(name="vmcore", role="vmcore", digest=d, size=size),
        pinned=pinned,
    )


def bucket(name: str, n: int, t0: float = 0.0) -> list[DumpHolding]:
    return [dump(f"{name}{i}", name, t0 + i) for i in range(n)]


def test_keeps_first_latest_and_n_most_recent_per_bucket() -> None:
    holdings = bucket("a", 10) + bucket("b", 3)
    p = plan(holdings, {}, Policy(keep=3, quota=0), usage=13 * MB)
    assert [d.crash_id for d in p.evict] == [f"a{i}" for i in range(1, 7)]
    assert {d.reason for d in p.evict} == {"count"}
    assert p.usage_after == 7 * MB and p.shortfall == 0


def test_keep_zero_keeps_only_first_and_latest() -> None:
    p = plan(bucket("a", 5), {}, Policy(keep=0, quota=0), usage=5 * MB)
    assert [d.crash_id for d in p.evict] == ["a1", "a2", "a3"]


def test_held_dumps_are_never_evicted() -> None:
    holdings = bucket("a", 8)
    holdings[2] = dump("a2", "a", 2, pinned=True)
    p = plan(holdings, {"a3": "vendor bundle", "a4": "under analysis"}, Policy(keep=1, quota=1), usage=8 * MB)
    gone = {d.crash_id for d in p.evict}
    assert gone == {"a1", "a5", "a6"}
    # Over the quota still: first, latest and the held ones fill it, and that is said, not hidden.
    assert p.shortfall == 5 * MB - 1


def test_quota_evicts_the_oldest_spare_dumps_across_buckets_first() -> None:
    holdings = bucket("a", 4, t0=0) + bucket("b", 4, t0=100)
    # keep=5 keeps all by count; the quota then takes the oldest non-first, non-latest dumps.
    p = plan(holdings, {}, Policy(keep=5, quota=5 * MB), usage=8 * MB)
    assert [(d.crash_id, d.reason) for d in p.evict] == [("a1", "quota"), ("a2", "quota"), ("b1", "quota")]
    assert p.usage_after == 5 * MB and p.shortfall == 0


def test_quota_never_takes_a_first_or_latest_dump() -> None:
    p = plan(bucket("a", 2) + bucket("b", 1, t0=10), {}, Policy(keep=5, quota=MB), usage=3 * MB)
    assert p.evict == () and p.shortfall == 2 * MB


def test_a_blob_shared_with_a_kept_dump_frees_nothing() -> None:
    shared = "c" * 64
    holdings = [
        dump("a0", "a", 0),
        dump("a1", "a", 1, digest=shared),
        dump("a2", "a", 2),
        dump("a3", "a", 3),
        dump("b0", "b", 4, digest=shared),
    ]
    p = plan(holdings, {}, Policy(keep=5, quota=3 * MB), usage=4 * MB)
    # a1's bytes stay (b0 is the only dump of its bucket) so a2 has to go as well.
    assert [d.crash_id for d in p.evict] == ["a1", "a2"]
    assert p.usage_after == 3 * MB


def test_order_is_the_hubs_receiving_time_not_the_input_order() -> None:
    holdings = list(reversed(bucket("a", 5)))
    p = plan(holdings, {}, Policy(keep=1, quota=0), usage=0)
    assert [d.crash_id for d in p.evict] == ["a1", "a2", "a3"]


def test_negative_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="keep_dumps_per_bucket"):
        plan([], {}, Policy(keep=-1, quota=0), usage=0)
