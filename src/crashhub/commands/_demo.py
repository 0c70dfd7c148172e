"""``crashhub serve --demo``'s loading: the demo fleet's KB entries and crashes into a hub, and a vendor
bundle of the regression's newest crash.

The crashes go through the hub's own ingest (:class:`crashhub.ingest.Pipeline`, as the spool and
``crashhub ingest`` feed it): host and time from the crash directory's name, buckets, KB matches
and regressions as the hub computes them.  Nothing is written to the store directly.
"""

# ruff: noqa: PLC0415 - imports inside functions are deliberate: the web stack loads only when used.

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from crashhub.examples import fleet

if TYPE_CHECKING:
    from crashhub.ingest import Pipeline
    from crashhub.web import Context

INGEST_THREADS = 4
MARK = "loaded"  # <data>/demo/loaded: the fleet is in this hub already (a second --demo start)


@dataclass(frozen=True, slots=True)
class DemoLoad:
    """What a demo load did."""

    planned: int  # crashes in the fleet's plan
    created: int  # crashes this load stored (0 when the hub had the fleet already)
    kb_entries: int  # demo KB entries this load added
    bundle: Path | None  # the vendor bundle made at load
    bundle_crash: str | None  # the crash it is of
    seconds: float


def demo_dir(ctx: Context) -> Path:
    return ctx.settings.data_dir / "demo"


def load_fleet(ctx: Context, *, now: float | None = None, seed: int = fleet.SEED) -> DemoLoad:
    """The demo fleet into ``ctx``'s hub (once per data directory)."""
    t0 = time.monotonic()
    added = _load_kb(ctx)
    out = demo_dir(ctx)
    if (out / MARK).is_file():
        return DemoLoad(0, 0, added, None, None, time.monotonic() - t0)
    crashes = fleet.plan(time.time() if now is None else now, seed)
    created, newest = _ingest(ctx, crashes)
    ctx.kb.reapply(ctx.hub.store)
    bundle = None
    if newest is not None:
        from crashhub.report import make_bundle

        out.mkdir(parents=True, exist_ok=True)
        bundle = make_bundle(ctx.hub, ctx.kb, newest, out / f"bundle-{newest}.tar.gz").path
        ctx.hub.store.access.audit("demo", "bundle", newest)
    out.mkdir(parents=True, exist_ok=True)
    (out / MARK).write_text(f"{len(crashes)} crashes, seed {seed}\n", "utf-8")
    return DemoLoad(len(crashes), created, added, bundle, newest, time.monotonic() - t0)


def _load_kb(ctx: Context) -> int:
    from crashhub.kb import load_dir

    have = {e.id for e in ctx.kb.entries()}
    added = 0
    for entry in load_dir(fleet.KB_DIR):
        if entry.id not in have:
            ctx.kb.put(entry, by="demo")
            added += 1
    return added


def _ingest(ctx: Context, crashes: list[fleet.FleetCrash]) -> tuple[int, str | None]:
    """Every planned crash through the pipeline; (crashes stored, the regression's newest crash).

    A few at a time, as the spool and the API feed a hub: most of an ingest's time is waiting for
    fsync (blob, database), which threads overlap.  The regression's newest crash goes in last, on
    its own: a bucket's KB answer is its newest crash's.

    The hub's pipeline class, without its listeners: alerts about a made-up fleet's past would
    flood the alert channels (and their hourly limits) of the hub the demo runs in."""
    from concurrent.futures import ThreadPoolExecutor

    from crashhub.ingest import Pipeline

    pipeline = Pipeline(ctx.hub, ctx.kb, ctx.queue, observer=ctx.pipeline.observer)

    last = max((i for i, c in enumerate(crashes) if c.kind == fleet.REGRESSION_KIND), default=len(crashes))
    rest = crashes[:last] + crashes[last + 1 :]
    with ThreadPoolExecutor(max_workers=INGEST_THREADS, thread_name_prefix="demo-ingest") as pool:
        created = sum(pool.map(lambda c: _one(pipeline, c)[0], rest))
    if last == len(crashes):
        return created, None
    made, newest = _one(pipeline, crashes[last])
    return created + made, newest


def _one(pipeline: Pipeline, c: fleet.FleetCrash) -> tuple[int, str]:
    """One planned crash as the spool would take it in; (1 if stored anew, its crash id)."""
    from crashhub.ingest import Arrival, parse_dir_name

    # What the spool takes from the directory: host and time come from its name.
    host, kind, when, _ = parse_dir_name(c.crash_dir)
    res = pipeline.ingest(
        Arrival(
            log=fleet.crash_log(c),
            log_name="vmcore-dmesg.txt",
            dir_host=host,
            dir_host_kind=kind,
            dir_time=when,
            crash_dir=c.crash_dir,
            source="demo",
        )
    )
    return int(res.created), res.crash.id
