"""Retention's I/O: read what the store holds, plan (``policy.plan``), evict, and remove blobs.

A blob is removed only once no crash file points at it (blobs are content-addressed: two crashes
may share a dump) and only when it was last written before ``blob_gc_grace``: an ingest that has
just stored the same bytes again may be about to record them, and the regular garbage collection
takes such a blob once the grace is over and it is still unreferenced.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass

from crashhub.errors import InputError
from crashhub.retention._policy import REASONS, Decision, Plan, Policy, plan
from crashhub.store import DeletedCrash, Hub

log = logging.getLogger("crashhub.retention")

GC_ACTOR = "gc"


@dataclass(frozen=True, slots=True)
class Outcome:
    plan: Plan
    evicted: tuple[Decision, ...]  # the decisions carried out (a hold found meanwhile skips one)
    blobs_removed: int
    bytes_removed: int
    dry_run: bool


def policy_of(hub: Hub) -> Policy:
    s = hub.settings
    keep, quota = s.keep_dumps_per_bucket, s.blob_quota_bytes
    if keep < 0:
        raise InputError(f"keep_dumps_per_bucket must be >= 0, not {keep}", "keep_dumps_per_bucket")
    if quota < 0:
        raise InputError(f"blob_quota_bytes must be >= 0, not {quota}", "blob_quota_bytes")
    return Policy(keep=keep, quota=quota)


def bundle_since(hub: Hub, now: float) -> float:
    return now - hub.settings.bundle_hold_days * 86400.0


def make_plan(hub: Hub, *, now: float | None = None) -> Plan:
    t = time.time() if now is None else now
    holdings = hub.store.retention.dump_holdings()
    holds = hub.store.retention.retention_holds(bundle_since=bundle_since(hub, t))
    return plan(holdings, holds, policy_of(hub), usage=hub.blobs.usage())


def run(hub: Hub, *, dry_run: bool = False, actor: str = GC_ACTOR, now: float | None = None) -> Outcome:
    """Plan and (unless ``dry_run``) evict; each eviction is audited by the store."""
    t = time.time() if now is None else now
    p = make_plan(hub, now=t)
    if dry_run:
        return Outcome(p, p.evict, 0, 0, True)
    done: list[Decision] = []
    since = bundle_since(hub, t)
    for d in p.evict:
        if (
            hub.store.retention.evict_dump(d.crash_id, reason=d.reason, actor=actor, bundle_since=since)
            is not None
        ):
            done.append(d)
    n, size = remove_blobs(hub, (d.digest for d in done), now=t)
    if p.shortfall:
        log.warning(
            "blob store over blob_quota_bytes by %d bytes that only first, latest or held dumps fill",
            p.shortfall,
        )
    return Outcome(p, tuple(done), n, size, False)


def remove_blobs(hub: Hub, digests: Iterable[str], *, now: float | None = None) -> tuple[int, int]:
    """Remove the blobs of ``digests`` that no record points at and that are past the grace.
    Returns (blobs, bytes) removed."""
    t = time.time() if now is None else now
    grace = hub.settings.blob_gc_grace
    n = size = 0
    for digest in sorted(hub.store.retention.unreferenced(digests)):
        st = hub.blobs.stat(digest)
        if st is None or st[1] > t - grace:
            continue
        hub.blobs.delete(digest)
        n, size = n + 1, size + st[0]
    return n, size


def delete_crash(hub: Hub, crash_id: str, actor: str) -> tuple[DeletedCrash, int]:
    """Delete one crash (audited) and the blobs only it used; returns it and the bytes removed."""
    gone = hub.store.retention.delete_crash(crash_id, actor)
    if gone is None:
        raise InputError(f"no crash {crash_id!r}", "crash")
    hub.blobs.upload_abort(crash_id)
    _, size = remove_blobs(hub, (f.digest for f in gone.files))
    return gone, size


def delete_host(hub: Hub, host: str, actor: str) -> tuple[list[DeletedCrash], int]:
    """Delete every crash and the host report of ``host`` (audited), and the blobs only they used."""
    gone = hub.store.retention.delete_host(host, actor)
    for d in gone:
        hub.blobs.upload_abort(d.crash_id)
    _, size = remove_blobs(hub, (f.digest for d in gone for f in d.files))
    return gone, size


def lines(outcome: Outcome) -> list[str]:
    """One line per dump that goes: crash id, bucket, size, reason; then a summary."""
    p = outcome.plan
    out = [f"{d.crash_id}  {d.bucket_id}  {d.size}  {d.reason}: {REASONS[d.reason]}" for d in outcome.evicted]
    verb = "would evict" if outcome.dry_run else "evicted"
    summary = f"{verb} {len(outcome.evicted)} dump(s); blob store {p.usage_before} bytes"
    summary += f", about {p.usage_after} after" if outcome.dry_run else f", {outcome.bytes_removed} removed"
    if p.shortfall:
        summary += f"; still {p.shortfall} bytes over blob_quota_bytes (first, latest or held dumps)"
    return [*out, summary]
