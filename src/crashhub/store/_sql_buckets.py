"""The buckets repository on SQL: lists and counts with their filters, merges and splits, KB
matches and the response workflow, and the history of each (bucket events).

Every hand-made workflow change is a bucket event (action ``workflow``) holding what changed from
what to what, so a bucket's history shows who did it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from crashhub.classify import Condition, GroupingRule, check
from crashhub.errors import InputError, StoreError
from crashhub.store import _models as m
from crashhub.store._base import BucketEvent, BucketRecord, day_of, now
from crashhub.store._bucket_page import REPORT_SCAN, Breakdown, breakdown
from crashhub.store._bucket_queries import _filtered, bucket_records, trend_order
from crashhub.store._buckets import Buckets
from crashhub.store._counting import move, recompute_seen, set_kb
from crashhub.store._routing import crash_subject, row_of
from crashhub.store._sql import SqlRepository, new_id
from crashhub.store._workflow import normalize_status

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
        search: str | None = None,
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
            search=search,
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
        search: str | None = None,
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
            search=search,
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

    def bucket_breakdown(
        self, bucket_id: str, *, limit: int = 20, scan: int = REPORT_SCAN
    ) -> Breakdown | None:
        with self._read() as s:
            b = s.get(m.Bucket, bucket_id)
            if b is None:
                return None
            return breakdown(s, self.dialect, bucket_id, total=b.count, limit=limit, scan=scan)

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
        t = now()
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
            rules = []
            for alias in s.scalars(select(m.BucketKey).where(m.BucketKey.bucket_id == source)):
                rule = GroupingRule(new_id("r"), "merge", target, algorithm=alias.algorithm, key=alias.key,
                                    created_at=t, created_by=actor)
                s.add(row_of(rule))
                rules.append(rule.id)
            carried = _carry_splits(s, source, target)
            detail = {"source": source, "target": target, "crashes": len(crashes), "rules": rules,
                      "split_rules": carried}
            for bid in (source, target):
                s.add(m.BucketEventRow(bucket_id=bid, at=t, action="merge", actor=actor, detail=detail))
        rec = self.get_bucket(target)
        assert rec is not None
        return rec

    def split_bucket(
        self,
        bucket_id: str,
        crash_ids: list[str],
        actor: str,
        title: str | None = None,
        when: Sequence[Condition] = (),
    ) -> BucketRecord:
        if not crash_ids and not when:
            raise StoreError("a split needs at least one crash id or condition")
        t = now()
        with self._write() as s:
            b = s.get(m.Bucket, bucket_id)
            if b is None:
                raise StoreError(f"no bucket {bucket_id!r}")
            if b.merged_into:
                raise StoreError(f"bucket {bucket_id} is merged into {b.merged_into}; split that one")
            crashes = _split_off(s, bucket_id, crash_ids, when)
            if len(crashes) >= b.count:
                raise StoreError("a split must leave at least one crash in the bucket")
            nb = _split_bucket_row(b, new_id("s"), title, t)
            s.add(nb)
            s.flush()
            rule = GroupingRule(
                new_id("r"), "split", nb.id, source=_rule_source(s, b),
                when=(*when, *(Condition("crash", c) for c in sorted(crash_ids))),
                created_at=t, created_by=actor, note=title or "",
            )
            check(rule)
            s.add(row_of(rule))
            move(s, crashes, nb.id)
            recompute_seen(s, nb.id)
            recompute_seen(s, bucket_id)
            detail = {"source": bucket_id, "new": nb.id, "crashes": sorted(c.id for c in crashes),
                      "rule": rule.id, "when": [c.to_dict() for c in when]}
            for bid in (bucket_id, nb.id):
                s.add(m.BucketEventRow(bucket_id=bid, at=t, action="split", actor=actor, detail=detail))
            new_bid = nb.id
        rec = self.get_bucket(new_bid)
        assert rec is not None
        return rec


def _split_off(s: Session, bucket_id: str, crash_ids: list[str], when: Sequence[Condition]) -> list[m.Crash]:
    """The crashes a split moves: those named (all must be in the bucket) and those ``when`` takes."""
    named = list(s.scalars(select(m.Crash).where(m.Crash.id.in_(crash_ids)))) if crash_ids else []
    wrong = sorted(set(crash_ids) - {c.id for c in named if c.bucket_id == bucket_id})
    if wrong:
        raise StoreError(f"crashes not in bucket {bucket_id}: {', '.join(wrong)}")
    if not when:
        return named
    have = {c.id for c in named}
    for c in s.scalars(select(m.Crash).where(m.Crash.bucket_id == bucket_id)):
        subject = crash_subject(c)
        if c.id not in have and any(cond.holds(subject) for cond in when):
            named.append(c)
    return named


def _split_bucket_row(b: m.Bucket, bid: str, title: str | None, t: float) -> m.Bucket:
    """A split's new bucket: the source's key and workflow state, its own title if given."""
    return m.Bucket(
        id=bid, algorithm=b.algorithm, key=b.key, primary=False, kind=b.kind, title=title or b.title,
        frames=list(b.frames or []), count=0, dumps=0, first_seen=t, last_seen=0.0, kb=list(b.kb or []),
        created_at=t, status=b.status, owner=b.owner, advice_deadline=b.advice_deadline, advice=b.advice,
        kb_status=b.kb_status,
    )


def _rule_source(s: Session, b: m.Bucket) -> str:
    """The bucket a split rule takes crashes from: this one, or for a split's own bucket (which
    takes no crash by key) the source of the newest rule that fills it, so the new rule, newer,
    wins for the crashes it names."""
    if b.primary:
        return b.id
    feeding = s.scalar(
        select(m.BucketRule.source)
        .where(m.BucketRule.action == "split", m.BucketRule.target == b.id, m.BucketRule.retired_at.is_(None))
        .order_by(m.BucketRule.created_at.desc())
        .limit(1)
    )
    return feeding or b.id


def _carry_splits(s: Session, source: str, target: str) -> list[str]:
    """A merged bucket's split rules now split the crashes of the bucket it went into."""
    out = []
    live = m.BucketRule.retired_at.is_(None)
    for row in s.scalars(select(m.BucketRule).where(
            m.BucketRule.action == "split", m.BucketRule.source == source, live)):
        if row.target == target:
            row.retired_at, row.retired_by = now(), "merge"  # it would split the target from itself
        else:
            row.source = target
            out.append(row.id)
    return out
