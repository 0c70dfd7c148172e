"""Web UI dashboard render time with 10,000 buckets and 100,000 crashes (goal: ≤ 300 ms median).

Fills a fresh SQLite store the way ``bench/bucket_list.py`` does, mounts the UI router on the real
app (``ui.install(app, ctx)``), logs in with a viewer token and times, median of
``--repeat`` runs, through the ASGI app in-process (routing, session, store, Jinja2, SVG):

- ``GET /ui/`` sorted by count, last seen and trend (first page of 100 rows, sparklines, filters,
  the crashes-per-day-by-release chart), warm (the chart's 60 s cache filled) and cold (cache
  emptied before every request, so each pays for the chart's crash scan);
- ``GET /ui/`` filtered by KB status and kernel, by host, and by a time window: the store does
  the filters in SQL (goal ≤ 300 ms median too);
- the reference, side by side: ``GET /api/v1/buckets`` for the same page as JSON (what the UI adds
  on top of the API is the difference);
- ``GET /ui/buckets/ID`` (goal ≤ 300 ms median too) for the biggest bucket (Zipf: ~6,000 crashes,
  each given a real lab report, so the module and taint breakdowns read real JSON) and a median
  one: the representative crash, its steps, the breakdowns, a page of 50 crashes; also sorted by
  host on its second page, showing an older crash (``?crash=``), and with the breakdowns read
  afresh on every request (their per-bucket cache emptied: the first view after a crash arrives).

    python bench/dashboard.py [--buckets 10000] [--crashes 100000] [--repeat 21]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bucket_list import RELEASES, populate
from crashhub import config
from crashhub.store import SqlStore
from crashhub.web import build_context, create_app, create_token


async def _times(app: Any, token: str, path: str, params: dict[str, str], repeat: int,
                 *, api: bool = False, cold: Any = None, bucket_page: bool = False) -> list[float]:
    out = []
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as c:
        if api:
            c.headers["Authorization"] = f"Bearer {token}"
        else:
            page = await c.get("/ui/login")
            csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)[1]  # type: ignore[index]
            r = await c.post("/ui/login", data={"csrf": csrf, "token": token})
            assert r.status_code == 303, r.text[:300]
        for _ in range(repeat):
            if cold is not None:
                cold()
            t = time.perf_counter()
            r = await c.get(path, params=params)
            out.append((time.perf_counter() - t) * 1000)
            assert r.status_code == 200, r.text[:300]
            if bucket_page:
                assert r.text.count("<tr data-crash=") >= 1 and 'id="by-kernel"' in r.text, path
            elif not api:
                rows = r.text.count('<tr class="bucket')
                # A full first page, or for a filter some rows: a filter that matches nothing would
                # time an empty page.
                assert rows == 100 if set(params) <= {"sort"} else 1 <= rows <= 100, (params, rows)
    return out


def _a_host(store: SqlStore) -> str:
    """A host with crashes (the host filter is a whole name: host0001 is not host00010)."""
    from sqlalchemy import select  # noqa: PLC0415

    from crashhub.store import _models as m  # noqa: PLC0415

    with store.engine.connect() as c:
        return str(c.execute(select(m.Crash.host).order_by(m.Crash.id).limit(1)).scalar_one())


def _bucket_page_data(store: SqlStore) -> tuple[tuple[str, int], tuple[str, int], str]:
    """The biggest and the median bucket (id, crashes); the biggest one's crashes get a real lab
    report (its guilty module, stack and taint), and an older crash of it to show."""
    from sqlalchemy import select, update  # noqa: PLC0415

    from crashhub import triage  # noqa: PLC0415
    from crashhub.store import _models as m  # noqa: PLC0415

    log = Path(__file__).resolve().parents[1] / "tests/triage/data/lab/6.1-null-1.vmcore-dmesg.txt"
    report = triage.parse(log.read_text())[0].to_dict()
    with store.engine.begin() as c:
        rows = list(c.execute(select(m.Bucket.id, m.Bucket.count).order_by(m.Bucket.count.desc())))
        big, median = rows[0], rows[len(rows) // 2]
        c.execute(update(m.Crash).where(m.Crash.bucket_id == big[0]).values(report=report))
        older = c.execute(
            select(m.Crash.id).where(m.Crash.bucket_id == big[0])
            .order_by(m.Crash.received_at.desc()).offset(big[1] // 2).limit(1)
        ).scalar_one()
    return (big[0], int(big[1])), (median[0], int(median[1])), str(older)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--buckets", type=int, default=10_000)
    ap.add_argument("--crashes", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=21)
    args = ap.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="crashhub-bench-ui-"))
    settings = config.load(tmp, env={}, spool_dir="", workers=0)
    t = time.perf_counter()
    ctx = build_context(settings)
    store = ctx.hub.store
    assert isinstance(store, SqlStore)
    populate(store, args.buckets, args.crashes)
    fill = time.perf_counter() - t
    token, _ = create_token(store, "viewer", "bench")
    app = create_app(settings, background=False, ctx=ctx)
    state = app.state.ui  # create_app mounts the UI after the API
    print(f"store: {store.dialect}, {args.buckets} buckets, {args.crashes} crashes (filled in {fill:.1f} s)")
    print(f"{'what':<52} {'median ms':>10} {'p90 ms':>8}")
    ok = True

    def row(label: str, ms: list[float], goal: bool = True) -> None:
        nonlocal ok
        med = statistics.median(ms)
        if goal:
            ok &= med <= 300
        print(f"{label:<52} {med:>10.1f} {statistics.quantiles(ms, n=10)[-1]:>8.1f}")

    n = args.repeat
    for sort in ("count", "last_seen", "trend"):
        asyncio.run(_times(app, token, "/ui/", {"sort": sort}, 2))
        row(f"GET /ui/?sort={sort} (warm)", asyncio.run(_times(app, token, "/ui/", {"sort": sort}, n)))
    cold = asyncio.run(_times(app, token, "/ui/", {"sort": "count"}, n, cold=state.invalidate))
    row("GET /ui/?sort=count (cold: caches emptied)", cold, goal=False)
    for params in (
        {"kb": "new", "kernel": RELEASES[3]},
        {"host": _a_host(store)},
        {"window": "7d", "sort": "last_seen"},
        {"kb": "known", "kind": "null_deref", "sort": "trend"},
    ):
        asyncio.run(_times(app, token, "/ui/", params, 2))
        label = "GET /ui/?" + "&".join(f"{k}={v}" for k, v in params.items())
        row(label, asyncio.run(_times(app, token, "/ui/", params, n)))
    api = asyncio.run(_times(app, token, "/api/v1/buckets", {"sort": "count"}, n, api=True))
    row("reference: GET /api/v1/buckets?sort=count (JSON)", api, goal=False)
    big, median, older = _bucket_page_data(store)
    from crashhub.web.ui import _bucket_view  # noqa: PLC0415

    cold_bd = asyncio.run(_times(app, token, f"/ui/buckets/{big[0]}", {}, n, bucket_page=True,
                                 cold=_bucket_view._BREAKDOWNS.clear))
    row("GET bucket page: biggest, breakdowns not kept", cold_bd)
    for label, bid, params in (
        (f"biggest ({big[1]} crashes)", big[0], {}),
        ("biggest, ?sort=host&offset=50", big[0], {"sort": "host", "order": "asc", "offset": "50"}),
        ("biggest, ?crash=<older>", big[0], {"crash": older}),
        (f"median ({median[1]} crashes)", median[0], {}),
    ):
        path = f"/ui/buckets/{bid}"
        asyncio.run(_times(app, token, path, params, 2, bucket_page=True))
        row(f"GET bucket page: {label}", asyncio.run(_times(app, token, path, params, n, bucket_page=True)))
    print("goal ≤ 300 ms median (dashboard, filtered too; bucket page):", "met" if ok else "NOT met")
    ctx.hub.close()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
