"""What the bucket page, the search and the crash list read from the store, on SQLite and PostgreSQL:
exact host filters, the free-text search (escaped LIKE, any case, bounded), breakdowns with counts
(modules and taint from real lab reports), the crash list's sorts, count and older/newer steps."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from tests.store.contract import crash

from crashhub import triage
from crashhub.errors import InputError
from crashhub.store import MAX_QUERY, Breakdown, Share, Store

LAB = Path(__file__).resolve().parents[1] / "triage" / "data" / "lab"


def _report(name: str) -> dict[str, object]:
    return triage.parse((LAB / f"{name}.vmcore-dmesg.txt").read_text())[0].to_dict()


def test_host_filters_match_the_whole_name(store: Store) -> None:
    a, _ = store.crashes.add_crash(crash("1", key="a", host="10.20.0.1"))
    b, _ = store.crashes.add_crash(crash("2", key="b", host="10.20.0.10"))
    store.crashes.add_crash(crash("3", key="c", host="10.20.0.100"))
    assert [x.id for x in store.buckets.list_buckets(host="10.20.0.1")] == [a.bucket_id]
    assert store.buckets.count_buckets(host="10.20.0.1") == 1
    assert [x.id for x in store.buckets.list_buckets(host="10.20.0.10")] == [b.bucket_id]
    assert [c.id for c in store.crashes.list_crashes(host="10.20.0.1")] == [a.id]
    assert store.crashes.count_crashes(host="10.20.0.1") == 1
    assert store.buckets.count_buckets(host="10.20.0.") == 0  # a part of a name is the search's


def test_search_over_titles_functions_hosts_and_kernels(store: Store) -> None:
    store.crashes.add_crash(crash("1", key="alpha", host="web1.dc2"))
    store.crashes.add_crash(crash("2", key="beta", host="db7", release="6.12.117+deb12-cloud-amd64"))
    store.crashes.add_crash(crash("3", key="100%_x", host="db8"))

    def keys(q: str) -> list[str]:
        return sorted(b.key for b in store.buckets.list_buckets(search=q))

    assert keys("ALPHA") == ["alpha"]  # the title, any case
    assert keys("WEB1") == ["alpha"]  # part of a host name
    assert keys("deb12") == ["beta"]  # part of a kernel release
    assert keys('"g"') == ["100%_x", "alpha", "beta"]  # the key functions (f, g)
    assert keys("100%") == ["100%_x"]  # LIKE's wildcards are the text itself
    assert keys("%") == ["100%_x"] and keys("_") == ["100%_x"]
    assert keys("nothing-like-it") == []
    assert store.buckets.count_buckets(search="db", host="db7") == 1
    with pytest.raises(InputError):
        store.buckets.list_buckets(search="x" * (MAX_QUERY + 1))


def test_breakdown_counts_every_way(store: Store) -> None:
    null, hung = _report("6.1-null-1"), _report("6.1-hung-1")
    assert null["guilty"]["module"] == "crashmod"  # type: ignore[index]
    kernel2 = "6.12.117+deb12-cloud-amd64"
    for i, (host, rel) in enumerate((("h1", None), ("h1", None), ("h2", kernel2), ("h3", None))):
        new = crash(f"n{i}", host=host, hw="QEMU Standard PC", **({"release": rel} if rel else {}))
        store.crashes.add_crash(dataclasses.replace(new, report=null if i < 3 else hung))
    bid = store.crashes.list_crashes()[0].bucket_id
    bd = store.buckets.bucket_breakdown(bid)
    assert bd is not None and bd.total == 4
    assert bd.hosts == (Share("h1", 2), Share("h2", 1), Share("h3", 1)) and bd.host_count == 3
    assert bd.kernels == (Share("6.1.0-56-cloud-amd64", 3), Share(kernel2, 1))
    assert bd.hardware == (Share("QEMU Standard PC", 4),)
    # Every crash names crashmod (guilty, or in the stack of the hung one); taint as printed.
    assert bd.modules[0] == Share("crashmod", 4)
    assert {t.value: t.count for t in bd.taints} == {"OE": 4}
    assert bd.sampled == 4
    assert Breakdown.from_dict(bd.to_dict()) == bd
    # Modules and taint from the newest crashes' reports only, when told to read fewer.
    few = store.buckets.bucket_breakdown(bid, scan=2)
    assert few is not None and few.sampled == 2 and few.total == 4 and few.hosts == bd.hosts
    assert store.buckets.bucket_breakdown(bid, limit=1).hosts == (Share("h1", 2),)
    assert store.buckets.bucket_breakdown("nope") is None


def test_breakdown_of_reports_without_taint_or_frames(store: Store) -> None:
    c, _ = store.crashes.add_crash(crash("1"))  # the contract report: kind and title only
    bd = store.buckets.bucket_breakdown(c.bucket_id)
    assert bd is not None and bd.modules == () and bd.taints == (Share(None, 1),)


def test_crash_list_sorts_filters_counts_and_steps(store: Store) -> None:
    t0 = 1_790_000_000.0
    made = []
    for i, (host, rel) in enumerate((("b", "6.1"), ("a", "6.12"), ("c", "6.1"))):
        c, _ = store.crashes.add_crash(crash(f"s{i}", host=host, release=rel, when=t0 + i))
        made.append(c)
    bid = made[0].bucket_id
    by_time = [c.id for c in store.crashes.list_crashes(bucket=bid)]
    assert by_time == [c.id for c in sorted(made, key=lambda c: (c.received_at, c.id), reverse=True)]
    hosts = [c.host for c in store.crashes.list_crashes(bucket=bid, sort="host", descending=False)]
    assert hosts == ["a", "b", "c"]
    assert [c.host for c in store.crashes.list_crashes(bucket=bid, sort="host")] == ["c", "b", "a"]
    by_kernel = [c.release for c in store.crashes.list_crashes(sort="kernel", descending=False)]
    assert by_kernel == ["6.1", "6.1", "6.12"]
    assert [c.id for c in store.crashes.list_crashes(kernel="6.12")] == [made[1].id]
    assert store.crashes.count_crashes(bucket=bid) == 3 and store.crashes.count_crashes(kernel="6.1") == 2
    assert len(store.crashes.list_crashes(bucket=bid, limit=2, offset=2)) == 1
    with pytest.raises(InputError):
        store.crashes.list_crashes(sort="nonsense")
    newest, middle, oldest = by_time
    assert store.crashes.crash_neighbours(middle) == (oldest, newest)
    assert store.crashes.crash_neighbours(newest) == (middle, None)
    assert store.crashes.crash_neighbours(oldest) == (None, middle)
    assert store.crashes.crash_neighbours("nope") == (None, None)


def test_crash_hosts_by_part_of_a_name(store: Store) -> None:
    for i, host in enumerate(("10.20.0.1", "10.20.0.10", "10.20.0.10", "web_1", "webx1")):
        store.crashes.add_crash(crash(f"h{i}", host=host))
    assert store.crashes.crash_hosts("10.20.0.1") == [("10.20.0.10", 2), ("10.20.0.1", 1)]
    assert store.crashes.crash_hosts("WEB_") == [("web_1", 1)]  # "_" is an underscore, not any char
    assert store.crashes.crash_hosts("10.20", limit=1) == [("10.20.0.10", 2)]


def test_a_list_counts_every_host_though_it_names_the_top_ones(store: Store) -> None:
    """Lists carry the top 20 hosts by crashes; the dashboard and `crashhub buckets` show the total."""
    for i in range(25):
        store.crashes.add_crash(crash(f"h{i}", key="spread", host=f"web{i:02d}"))
    [b] = store.buckets.list_buckets()
    assert len(b.hosts) == 20 and b.host_count == 25
