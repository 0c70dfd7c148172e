"""The buckets repository on SQL: lists and counts with their filters, merges and splits, KB
matches and the response workflow, and the history of each (bucket events).

Every hand-made workflow change is a bucket event (action ``workflow``) holding what changed from
what to what, so a bucket's history shows who did it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update

from crashhub.errors import InputError, StoreError
from crashhub.store import models as m
from crashhub.store._bucket_queries import _filtered, bucket_records, trend_order
from crashhub.store._buckets import Buckets
from crashhub.store._counting import move, recompute_seen, set_kb
from crashhub.store._sql import SqlRepository, new_id
from crashhub.store.base import BucketEvent, BucketRecord, day_of, now
from crashhub.store.workflow import normalize_status

MAX_OWNER = 255
MAX_ADVICE = 64 * 1024


class SqlBuckets(SqlRepository, Buckets):
    def list_buckets(
        self,
        *,
        sort: str = "count",
        kind: str | None = None,
        limit: int = 100,
        offset: int = 0,
        today: str | None = None,
        spike_days: int = 14,
        spike_factor: float = 3.0,
        spike_min: int = 5,
        include_merged: bool = False,
        kernel: str | None = None,
        host: str | None = None,
        kb_status: str | None = None,
        since: float | None = None,
        status: str | None = None,
    ) -> list[BucketRecord]:
        today = today or day_of(now())
        q = _filtered(
            select(m.Bucket),
            include_merged=include_merged,
            kind=kind,
            kernel=kernel,
            host=host,
            kb_status=kb_status,
            since=since,
            status=status,
        )
        with self._read() as s:
            if sort == "trend":
                order = trend_order(
                    s, q, today=today, window=spike_days, factor=spike_factor, minimum=spike_min
                )
                page = order[offset : offset + limit]
                by_id = (
                    {b.id: b for b in s.scalars(select(m.Bucket).where(m.Bucket.id.in_(page)))}
                    if page
                    else {}
                )
                rows = [by_id[i] for i in page if i in by_id]
            else:
                if sort == "last_seen":
                    q = q.order_by(m.Bucket.last_seen.desc(), m.Bucket.id)
                elif sort == "count":
                    q = q.order_by(m.Bucket.count.desc(), m.Bucket.last_seen.desc(), m.Bucket.id)
                else:
                    raise StoreError(f"unknown bucket sort {sort!r} (count, last_seen, trend)")
                rows = list(s.scalars(q.limit(limit).offset(offset)))
            return bucket_records(
                s, rows=rows, today=today, window=spike_days, factor=spike_factor, minimum=spike_min
            )

    def count_buckets(
        self,
        *,
        kind: str | None = None,
        include_merged: bool = False,
        kernel: str | None = None,
        host: str | None = None,
        kb_status: str | None = None,
        since: float | None = None,
        status: str | None = None,
    ) -> int:
        q = _filtered(
            select(func.count()).select_from(m.Bucket),
            include_merged=include_merged,
            kind=kind,
            kernel=kernel,
            host=host,
            kb_status=kb_status,
            since=since,
            status=status,
        )
        with self._read() as s:
            return int(s.scalar(q) or 0)

    def get_bucket(
        self,
        bucket_id: str,
        *,
        today: str | None = None,
        spike_days: int = 14,
        spike_factor: float = 3.0,
        spike_min: int = 5,
    ) -> BucketRecord | None:
        with self._read() as s:
            b = s.get(m.Bucket, bucket_id)
            if b is None:
                return None
            return bucket_records(
                s,
                rows=[b],
                today=today or day_of(now()),
                window=spike_days,
                factor=spike_factor,
                minimum=spike_min,
                full=True,
            )[0]

    def bucket_ids(self) -> list[str]:
        with self._read() as s:
            return list(
                s.scalars(select(m.Bucket.id).where(m.Bucket.merged_into.is_(None)).order_by(m.Bucket.id))
            )

    def bucket_events_since(
        self, since: float, *, action: str | None = None, limit: int = 100_000
    ) -> list[BucketEvent]:
        q = select(m.BucketEventRow).where(m.BucketEventRow.at > since)
        if action is not None:
            q = q.where(m.BucketEventRow.action == action)
        q = q.order_by(m.BucketEventRow.at, m.BucketEventRow.id).limit(max(0, int(limit)))
        with self._read() as s:
            return [
                BucketEvent(
                    at=e.at,
                    action=e.action,
                    actor=e.actor,
                    detail=dict(e.detail or {}),
                    bucket_id=e.bucket_id,
                )
                for e in s.scalars(q)
            ]

    def bucket_events(self, bucket_id: str) -> list[BucketEvent]:
        with self._read() as s:
            return [
                BucketEvent(at=e.at, action=e.action, actor=e.actor, detail=dict(e.detail or {}))
                for e in s.scalars(
                    select(m.BucketEventRow)
                    .where(m.BucketEventRow.bucket_id == bucket_id)
                    .order_by(m.BucketEventRow.id)
                )
            ]

    def set_bucket_kb(self, bucket_id: str, matches: list[dict[str, Any]]) -> None:
        with self._write() as s:
            set_kb(s, bucket_id, matches, actor="kb")

    def set_bucket_workflow(
        self,
        bucket_id: str,
        *,
        status: str | None = None,
        owner: str | None = None,
        advice: str | None = None,
        actor: str,
    ) -> BucketRecord:
        """Change status, owner and/or advice (None: unchanged; an empty owner or advice clears it)."""
        new_status = normalize_status(status) if status is not None else None
        if owner is not None:
            owner = owner.strip()
            if len(owner) > MAX_OWNER or any(ord(c) < 32 for c in owner):
                raise InputError(f"owner: at most {MAX_OWNER} printable characters", "owner")
        if advice is not None and len(advice) > MAX_ADVICE:
            raise InputError(f"advice: at most {MAX_ADVICE} characters", "advice")
        with self._write() as s:
            b = s.get(m.Bucket, bucket_id)
            if b is None:
                raise StoreError(f"no bucket {bucket_id!r}")
            if b.merged_into:
                raise StoreError(f"bucket {bucket_id} is merged into {b.merged_into}; change that one")
            changed: dict[str, Any] = {}
            for name, value in (("status", new_status), ("owner", owner), ("advice", advice)):
                if value is None:
                    continue
                new = value or None  # "" clears owner / advice
                old = getattr(b, name)
                if old != new:
                    changed[name] = [old, new]
                    setattr(b, name, new)
            if changed:
                if "advice" in changed:  # the text is in the bucket; the history keeps its size
                    changed["advice"] = [len(changed["advice"][0] or ""), len(changed["advice"][1] or "")]
                s.add(
                    m.BucketEventRow(bucket_id=b.id, at=now(), action="workflow", actor=actor, detail=changed)
                )
            s.flush()
            bid = b.id
        rec = self.get_bucket(bid, today=day_of(now()))
        assert rec is not None
        return rec

    def merge_buckets(self, source: str, target: str, actor: str) -> BucketRecord:
        if source == target:
            raise StoreError("cannot merge a bucket into itself")
        with self._write() as s:
            src, dst = s.get(m.Bucket, source), s.get(m.Bucket, target)
            if src is None or dst is None:
                raise StoreError(f"no bucket {source if src is None else target!r}")
            if dst.merged_into:
                raise StoreError(f"bucket {target!r} is itself merged into {dst.merged_into!r}")
            crashes = list(s.scalars(select(m.Crash).where(m.Crash.bucket_id == source)))
            move(s, crashes, target)
            src.merged_into = target
            s.execute(update(m.Bucket).where(m.Bucket.merged_into == source).values(merged_into=target))
            recompute_seen(s, target)
            detail = {"source": source, "target": target, "crashes": len(crashes)}
            for bid in (source, target):
                s.add(m.BucketEventRow(bucket_id=bid, at=now(), action="merge", actor=actor, detail=detail))
        rec = self.get_bucket(target)
        assert rec is not None
        return rec

    def split_bucket(
        self, bucket_id: str, crash_ids: list[str], actor: str, title: str | None = None
    ) -> BucketRecord:
        if not crash_ids:
            raise StoreError("a split needs at least one crash id")
        with self._write() as s:
            b = s.get(m.Bucket, bucket_id)
            if b is None:
                raise StoreError(f"no bucket {bucket_id!r}")
            crashes = list(s.scalars(select(m.Crash).where(m.Crash.id.in_(crash_ids))))
            wrong = sorted(set(crash_ids) - {c.id for c in crashes if c.bucket_id == bucket_id})
            if wrong:
                raise StoreError(f"crashes not in bucket {bucket_id}: {', '.join(wrong)}")
            if len(crashes) == b.count:
                raise StoreError("a split must leave at least one crash in the bucket")
            t = now()
            nb = m.Bucket(
                id=new_id("s"),
                algorithm=b.algorithm,
                key=b.key,
                primary=False,
                kind=b.kind,
                title=title or b.title,
                frames=list(b.frames or []),
                count=0,
                dumps=0,
                first_seen=t,
                last_seen=0.0,
                kb=list(b.kb or []),
                created_at=t,
                status=b.status,
                owner=b.owner,
                advice_deadline=b.advice_deadline,
                advice=b.advice,
                kb_status=b.kb_status,
            )
            s.add(nb)
            s.flush()
            move(s, crashes, nb.id)
            recompute_seen(s, nb.id)
            recompute_seen(s, bucket_id)
            detail = {"source": bucket_id, "new": nb.id, "crashes": sorted(crash_ids)}
            for bid in (bucket_id, nb.id):
                s.add(m.BucketEventRow(bucket_id=bid, at=t, action="split", actor=actor, detail=detail))
            new_bid = nb.id
        rec = self.get_bucket(new_bid)
        assert rec is not None
        return rec
