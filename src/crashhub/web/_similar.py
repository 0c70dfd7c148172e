"""Similar buckets, as a bucket's page and its API show them: the other buckets most like it across
kernels (``crashhub.classify._similarity.rank``).

A bucket's profile comes from its newest crash's stored report.  The pool is the busiest
``POOL`` live buckets, read again every ``TTL`` seconds or as soon as the number of live buckets
changes (a merge, a split, a new bucket: what a user just did shows at once); profiles are kept per
crash, so a refresh parses only the reports of buckets that got a newer crash.
"""

from __future__ import annotations

import threading
import time
import weakref
from dataclasses import dataclass
from typing import Any

from crashhub.classify import FLOOR, Likeness, Profile, profile, rank, signature
from crashhub.model import CrashReport
from crashhub.store import BucketRecord, CrashRecord, Store

POOL = 1000
TTL = 30.0
MAX_PROFILES = 20_000


@dataclass(frozen=True, slots=True)
class Similar:
    """One similar bucket and why."""

    bucket: BucketRecord
    likeness: Likeness

    def to_dict(self) -> dict[str, Any]:
        b = self.bucket
        return {
            "bucket": {"id": b.id, "title": b.title, "kind": b.kind, "count": b.count,
                       "kernels": list(b.kernels), "status": b.status},
            **self.likeness.to_dict(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Similar:
        """What :meth:`to_dict` shows: the bucket's summary (other fields at their defaults)."""
        b = d["bucket"]
        bucket = BucketRecord(
            id=str(b["id"]), algorithm="", key="", kind=str(b["kind"]), title=str(b["title"]),
            count=int(b["count"]), dumps=0, first_seen=0.0, last_seen=0.0, merged_into=None, kb=[],
            kernels=tuple(str(k) for k in b.get("kernels") or ()),
            status=None if b.get("status") is None else str(b["status"]),
        )
        return cls(bucket, Likeness.from_dict(d))


def crash_profile(bucket_id: str, crash: CrashRecord) -> Profile | None:
    if not crash.report:
        return None
    report = CrashReport.from_dict(crash.report)
    module = report.guilty.module if report.guilty else None
    return profile(bucket_id, signature(report), module=module, release=crash.release)


class SimilarIndex:
    """The pool of bucket profiles of one store (thread-safe; one per store, ``for_store``)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._profiles: dict[str, Profile | None] = {}  # "<bucket>/<crash>" -> profile
        self._pool: list[tuple[BucketRecord, Profile]] = []
        self._at = float("-inf")
        self._live = -1

    def _profile(self, bucket_id: str, crash: CrashRecord) -> Profile | None:
        k = f"{bucket_id}/{crash.id}"
        if k not in self._profiles:
            if len(self._profiles) > MAX_PROFILES:
                self._profiles.clear()
            self._profiles[k] = crash_profile(bucket_id, crash)
        return self._profiles[k]

    def pool(self) -> list[tuple[BucketRecord, Profile]]:
        live = self.store.buckets.count_buckets()
        with self._lock:
            if time.monotonic() - self._at > TTL or live != self._live:
                buckets = self.store.buckets.list_buckets(sort="count", limit=POOL)
                latest = self.store.crashes.latest_crashes([b.id for b in buckets])
                pool = []
                for b in buckets:
                    c = latest.get(b.id)
                    p = self._profile(b.id, c) if c is not None else None
                    if p is not None:
                        pool.append((b, p))
                self._pool, self._at, self._live = pool, time.monotonic(), live
            return self._pool

    def similar(self, bucket: BucketRecord, *, limit: int = 5, floor: float = FLOOR) -> list[Similar]:
        """The buckets most like ``bucket``, best first."""
        latest = self.store.crashes.latest_crash_of_bucket(bucket.id)
        with self._lock:
            me = self._profile(bucket.id, latest) if latest is not None else None
        if me is None:
            return []
        pool = self.pool()
        records = {b.id: b for b, _ in pool}
        ranked = rank(me, [p for _, p in pool], limit=limit, floor=floor)
        return [Similar(records[p.bucket], why) for p, why in ranked]


_INDEXES: weakref.WeakKeyDictionary[Store, SimilarIndex] = weakref.WeakKeyDictionary()
_INDEXES_LOCK = threading.Lock()


def for_store(store: Store) -> SimilarIndex:
    with _INDEXES_LOCK:
        index = _INDEXES.get(store)
        if index is None:
            index = _INDEXES[store] = SimilarIndex(store)
        return index
