"""Bucket list latency with 10,000 buckets and 100,000 crashes (goal: ≤ 200 ms median).

Fills a fresh SQLite store (or ``--db URL``) with synthetic buckets and crashes, their per-day,
per-host and per-kernel aggregates as ingest keeps them, then times, median of ``--repeat`` runs:

- ``GET /api/v1/buckets`` (first page of 100) sorted by count, last_seen and trend, through the real
  FastAPI app in-process (httpx ASGI transport: routing, auth, JSON included, no socket);
- the reference, side by side: the same first page computed the way a store without counters would,
  one ``GROUP BY`` over the crash table (count, first/last seen, hosts).

    python bench/bucket_list.py [--buckets 10000] [--crashes 100000] [--repeat 21]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, insert, select

from crashhub import config
from crashhub.store import SqlStore, bucket_id_for, day_of
from crashhub.store import _models as m
from crashhub.web import build_context, create_app, create_token

KINDS = ["null_deref", "general_protection", "bug", "warning", "soft_lockup", "hung_task", "oom", "sysrq"]
RELEASES = [f"6.1.0-{n}-cloud-amd64" for n in range(40, 57)] + ["6.12.117+deb12-cloud-amd64"]


def populate(store: SqlStore, n_buckets: int, n_crashes: int, seed: int = 1) -> None:
    rnd = random.Random(seed)
    now = time.time()
    t0 = now - 60 * 86400
    buckets = []
    for i in range(n_buckets):
        key = f"{i:08x}" * 4
        buckets.append(
            {
                "id": bucket_id_for("sig:bench", key),
                "algorithm": "sig:bench",
                "key": key,
                "primary": True,
                "kind": KINDS[i % len(KINDS)],
                "title": f"synthetic bucket {i}",
                "frames": ["f", "g"],
                "count": 0,
                "dumps": 0,
                "first_seen": now,
                "last_seen": 0.0,
                "merged_into": None,
                "kb": [],
                "created_at": t0,
            }
        )
    # Zipf-like: a few buckets get most crashes, as a fleet's do.
    weights = [1.0 / (i + 1) ** 0.9 for i in range(n_buckets)]
    picks = rnd.choices(range(n_buckets), weights=weights, k=n_crashes)
    days: dict[tuple[str, str], int] = defaultdict(int)
    hosts: dict[tuple[str, str], int] = defaultdict(int)
    kernels: dict[tuple[str, str], int] = defaultdict(int)
    crashes = []
    for j, bi in enumerate(picks):
        b = buckets[bi]
        t = t0 + rnd.random() * 60 * 86400
        host = f"host{rnd.randrange(20000):05d}"
        rel = rnd.choice(RELEASES)
        b["count"] += 1
        b["first_seen"] = min(b["first_seen"], t)
        b["last_seen"] = max(b["last_seen"], t)
        days[(b["id"], day_of(t))] += 1
        hosts[(b["id"], host)] += 1
        kernels[(b["id"], rel)] += 1
        crashes.append(
            {
                "id": f"c{j:012d}",
                "identity": f"bench-{j}",
                "received_at": t,
                "crash_time": t,
                "crash_time_source": "dump",
                "host": host,
                "host_source": "agent",
                "release": rel,
                "kind": b["kind"],
                "title": b["title"],
                "bucket_id": b["id"],
                "signature_algorithm": "sig:bench",
                "signature_key": b["key"],
                "hardware": None,
                "report": None,
                "reports": 1,
                "source": "bench",
                "crash_dir": None,
                "has_vmcore": False,
                "dump_facts": None,
                "versions": {},
                "kb": [],
                "analysis": None,
            }
        )
    for i, b in enumerate(buckets):
        if b["count"] == 0:
            b["first_seen"] = b["last_seen"] = t0
        # As ingest leaves them: one bucket in 7 answered by a specific KB entry, the rest new
        # with a first-advice deadline 4 h after first seen.
        known = i % 7 == 3
        b["kb"] = [{"id": "bench-known", "title": "a known issue"}] if known else []
        b["kb_status"] = "known" if known else "new"
        b["status"] = "known_issue" if known else "new"
        b["advice_deadline"] = b["first_seen"] + 4 * 3600
    with store.engine.begin() as c:
        c.execute(insert(m.Bucket), buckets)
        for k in range(0, len(crashes), 20000):
            c.execute(insert(m.Crash), crashes[k : k + 20000])
        c.execute(insert(m.BucketDay), [{"bucket_id": b, "day": d, "count": n} for (b, d), n in days.items()])
        c.execute(
            insert(m.BucketHost), [{"bucket_id": b, "host": h, "count": n} for (b, h), n in hosts.items()]
        )
        c.execute(
            insert(m.BucketKernel),
            [{"bucket_id": b, "release": r, "count": n} for (b, r), n in kernels.items()],
        )
    if store.dialect == "sqlite":
        with store.engine.begin() as c:
            c.exec_driver_sql("ANALYZE")


def reference_group_by(store: SqlStore) -> list[Any]:
    """What listing costs without counters: aggregate the crash table on every request."""
    seen = func.coalesce(m.Crash.crash_time, m.Crash.received_at)
    q = (
        select(
            m.Crash.bucket_id,
            func.count().label("n"),
            func.min(seen),
            func.max(seen),
            func.count(m.Crash.host.distinct()),
        )
        .group_by(m.Crash.bucket_id)
        .order_by(func.count().desc())
        .limit(100)
    )
    with store.engine.connect() as c:
        return list(c.execute(q))


def timed(fn: Any, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


async def _api_times(app: Any, token: str, sort: str, repeat: int) -> list[float]:
    out = []
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://bench",
        headers={"Authorization": f"Bearer {token}"},
    ) as c:
        for _ in range(repeat):
            t = time.perf_counter()
            r = await c.get("/api/v1/buckets", params={"sort": sort, "limit": 100})
            out.append((time.perf_counter() - t) * 1000)
            assert r.status_code == 200 and len(r.json()["buckets"]) == 100, r.text[:300]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--buckets", type=int, default=10_000)
    ap.add_argument("--crashes", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=21)
    ap.add_argument("--db", default=None, help="SQLAlchemy URL of an EMPTY database (default: a temp SQLite)")
    args = ap.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="crashhub-bench-"))
    settings = config.load(tmp, env={}, database_url=args.db, spool_dir="", workers=0)
    t = time.perf_counter()
    ctx = build_context(settings)
    store = ctx.hub.store
    assert isinstance(store, SqlStore)
    populate(store, args.buckets, args.crashes)
    fill = time.perf_counter() - t
    token, _ = create_token(store, "viewer", "bench")
    app = create_app(settings, background=False, ctx=ctx)
    print(f"store: {store.dialect}, {args.buckets} buckets, {args.crashes} crashes (filled in {fill:.1f} s)")
    print(f"{'what':<44} {'median ms':>10} {'p90 ms':>8}")
    ok = True
    for sort in ("count", "last_seen", "trend"):
        asyncio.run(_api_times(app, token, sort, 2))  # warm caches
        ms = asyncio.run(_api_times(app, token, sort, args.repeat))
        med = statistics.median(ms)
        ok &= med <= 200
        print(
            f"{'GET /api/v1/buckets?sort=' + sort:<44} {med:>10.1f} "
            f"{statistics.quantiles(ms, n=10)[-1]:>8.1f}"
        )
    for sort in ("count", "trend"):
        ms = timed(lambda s=sort: store.buckets.list_buckets(sort=s, limit=100), args.repeat)
        print(
            f"{'Store.buckets.list_buckets(sort=' + sort + ')':<44} {statistics.median(ms):>10.1f} "
            f"{statistics.quantiles(ms, n=10)[-1]:>8.1f}"
        )
    ms = timed(lambda: reference_group_by(store), max(5, args.repeat // 4))
    print(
        f"{'reference: GROUP BY over crashes (no counters)':<44} {statistics.median(ms):>10.1f} "
        f"{statistics.quantiles(ms, n=10)[-1] if len(ms) > 1 else ms[0]:>8.1f}"
    )
    print("goal ≤ 200 ms median:", "met" if ok else "NOT met")
    ctx.hub.close()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
