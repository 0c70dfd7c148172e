"""A bucket's counters and aggregates, kept in the transaction that adds, moves or deletes a crash.

Shared by the crashes, buckets and retention repositories: each changes which crashes a bucket
holds, and the counts on the bucket row and in its per-day/host/kernel/hardware tables must change
with it, in the same transaction, or a bucket list would disagree with the crashes behind it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from crashhub.store import _models as m
from crashhub.store._base import day_of, now
from crashhub.store._sql import _upsert_inc
from crashhub.store._workflow import kb_status


def count_in(s: Session, bucket_id: str, c: m.Crash, sign: int) -> None:
    """Add (+1) or remove (-1) one crash from a bucket's counters and aggregates."""
    seen = c.crash_time if c.crash_time is not None else c.received_at
    sqlite = s.get_bind().dialect.name == "sqlite"
    vals: dict[str, Any] = {
        "count": m.Bucket.count + sign,
        "dumps": m.Bucket.dumps + (sign if c.has_vmcore else 0),
    }
    if sign > 0:
        vals["first_seen"] = (
            func.min(m.Bucket.first_seen, seen) if sqlite else func.least(m.Bucket.first_seen, seen)
        )
        vals["last_seen"] = (
            func.max(m.Bucket.last_seen, seen) if sqlite else func.greatest(m.Bucket.last_seen, seen)
        )
    s.execute(update(m.Bucket).where(m.Bucket.id == bucket_id).values(**vals))
    _upsert_inc(s, m.BucketDay, {"bucket_id": bucket_id, "day": day_of(seen)}, sign)
    _upsert_inc(s, m.BucketHost, {"bucket_id": bucket_id, "host": c.host}, sign)
    if c.release:
        _upsert_inc(s, m.BucketKernel, {"bucket_id": bucket_id, "release": c.release}, sign)
    if c.hardware:
        _upsert_inc(s, m.BucketHardware, {"bucket_id": bucket_id, "hardware": c.hardware[:512]}, sign)
    if sign < 0:
        for model in (m.BucketDay, m.BucketHost, m.BucketKernel, m.BucketHardware):
            s.execute(delete(model).where(model.bucket_id == bucket_id, model.count <= 0))


def move(s: Session, crashes: list[m.Crash], target: str) -> None:
    """Move crashes to bucket ``target``, counted out of theirs and into it."""
    for c in crashes:
        count_in(s, c.bucket_id, c, -1)
        c.bucket_id = target
        s.flush()
        count_in(s, target, c, +1)


def recompute_seen(s: Session, bucket_id: str) -> None:
    """Set a bucket's first and last seen from the crashes it holds (after some left it)."""
    seen = func.coalesce(m.Crash.crash_time, m.Crash.received_at)
    lo, hi = s.execute(select(func.min(seen), func.max(seen)).where(m.Crash.bucket_id == bucket_id)).one()
    if lo is not None:
        s.execute(update(m.Bucket).where(m.Bucket.id == bucket_id).values(first_seen=lo, last_seen=hi))


def sticky_kb(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A bucket's matches after one more crash: the crash's, except that an entry the bucket was
    already regressed on stays regressed (a crash on an older kernel does not undo a regression
    another crash of the bucket showed).  Ranked as the matcher ranks (specific, score, id)."""
    kept = {str(x.get("id") or x.get("entry_id")): x for x in old if x.get("regression")}
    out = {str(x.get("id") or x.get("entry_id")): x for x in new}
    for eid, x in kept.items():
        if not (out.get(eid) or {}).get("regression"):
            out[eid] = x
    return sorted(out.values(), key=lambda x: (bool(x.get("generic")), -int(x.get("score") or 0),
                                               str(x.get("id") or x.get("entry_id"))))


def set_kb(s: Session, bucket_id: str, matches: list[dict[str, Any]], *, actor: str,
           sticky: bool = False) -> bool:
    """Keep a bucket's KB matches with their status (True when they changed); a KB entry that
    starts to explain a bucket nobody has answered yet (``new``) makes it ``known_issue``, recorded
    as a workflow event.  ``sticky`` (an ingest): regressions already shown are kept (see
    :func:`sticky_kb`); a KB edit recomputes them from every kernel of the bucket instead."""
    b = s.get(m.Bucket, bucket_id)
    if b is None:
        return False
    if sticky:
        matches = sticky_kb(list(b.kb or []), matches)
    if b.kb == matches:
        return False
    b.kb = matches
    ks = kb_status(matches)
    b.kb_status = ks
    if ks == "known" and (b.status or "new") == "new":
        entry = next((x.get("id") for x in matches if not x.get("generic")), None)
        s.add(
            m.BucketEventRow(
                bucket_id=b.id,
                at=now(),
                action="workflow",
                actor=actor,
                detail={"status": [b.status, "known_issue"], "kb_entry": entry},
            )
        )
        b.status = "known_issue"
    return True


def recount(s: Session, bucket_ids: Iterable[str]) -> None:
    """Count buckets again from the crashes they hold: counters, first/last seen and aggregates.

    For changes of many crashes at once (a re-key): one read of the crashes' few columns instead
    of six statements per crash moved.
    """
    ids = sorted(set(bucket_ids))
    for chunk in range(0, len(ids), 500):
        part = ids[chunk : chunk + 500]
        for model in (m.BucketDay, m.BucketHost, m.BucketKernel, m.BucketHardware):
            s.execute(delete(model).where(model.bucket_id.in_(part)))
        agg: dict[str, _Agg] = {b: _Agg() for b in part}
        cols = (m.Crash.bucket_id, m.Crash.crash_time, m.Crash.received_at, m.Crash.host, m.Crash.release,
                m.Crash.hardware, m.Crash.has_vmcore)
        q = select(*cols).where(m.Crash.bucket_id.in_(part))
        for bid, ct, rt, host, release, hw, dump in s.execute(q):
            agg[bid].add(ct if ct is not None else rt, host, release, hw, bool(dump))
        for bid, a in agg.items():
            vals: dict[str, Any] = {"count": a.count, "dumps": a.dumps}
            if a.count:
                vals.update(first_seen=a.first, last_seen=a.last)
            s.execute(update(m.Bucket).where(m.Bucket.id == bid).values(**vals))
            rows: list[tuple[type[m.Base], str, Counter[str]]] = [
                (m.BucketDay, "day", a.days), (m.BucketHost, "host", a.hosts),
                (m.BucketKernel, "release", a.kernels), (m.BucketHardware, "hardware", a.hardware),
            ]
            for table, col, counts in rows:
                if counts:
                    values = [{"bucket_id": bid, col: v, "count": n} for v, n in counts.items()]
                    s.execute(insert(table), values)


class _Agg:
    """One bucket's counters and aggregates, summed from its crashes."""

    def __init__(self) -> None:
        self.count = self.dumps = 0
        self.first = float("inf")
        self.last = float("-inf")
        self.days: Counter[str] = Counter()
        self.hosts: Counter[str] = Counter()
        self.kernels: Counter[str] = Counter()
        self.hardware: Counter[str] = Counter()

    def add(self, seen: float, host: str, release: str | None, hardware: str | None, dump: bool) -> None:
        self.count += 1
        self.dumps += dump
        self.first, self.last = min(self.first, seen), max(self.last, seen)
        self.days[day_of(seen)] += 1
        self.hosts[host] += 1
        if release:
            self.kernels[release] += 1
        if hardware:
            self.hardware[hardware[:512]] += 1
