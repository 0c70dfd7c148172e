"""Aggregates over crashes for the dashboard and the knowledge base, each one SQL statement.

``crashes_per_day_by_release`` feeds the dashboard's chart ({release: {day: count}}); through the
crash list it would mean loading every crash of 30 days with its report.  ``latest_crashes`` gives
the newest crash of many buckets at once: the KB's "would match N buckets" preview and its
re-application look at every bucket's latest crash, one query each before.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import Integer, cast, func, select

from crashhub.store import models as m
from crashhub.store.base import CrashRecord
from crashhub.store.sql_base import SqlBase, _crash


class Aggregates(SqlBase):
    def crashes_per_day_by_release(self, since: float) -> dict[str, dict[str, int]]:
        """Crashes received since ``since``, by kernel release (``?`` when unknown) and UTC day of
        the crash (its crash time, else when it was received)."""
        t = func.coalesce(m.Crash.crash_time, m.Crash.received_at)
        # Whole days since the epoch: SQLite's CAST truncates (times are positive, so it floors);
        # PostgreSQL's CAST rounds, so it gets FLOOR first.
        day = cast(func.floor(t / 86400) if self.dialect == "postgresql" else t / 86400, Integer)
        q = (
            select(m.Crash.release, day, func.count())
            .where(m.Crash.received_at >= since)
            .group_by(m.Crash.release, day)
        )
        out: dict[str, dict[str, int]] = {}
        with self._read() as s:
            for rel, d, n in s.connection().execute(q):
                key = datetime.fromtimestamp(int(d) * 86400, UTC).strftime("%Y-%m-%d")
                per = out.setdefault(rel or "?", {})
                per[key] = per.get(key, 0) + int(n)
        return out

    def crash_releases(self) -> list[str]:
        """Every kernel release with a crash, sorted (the dashboard's kernel filter)."""
        with self._read() as s:
            return sorted(r for (r,) in s.connection().execute(select(m.Crash.release).distinct()) if r)

    def latest_crashes(self, bucket_ids: Iterable[str] | None = None) -> dict[str, CrashRecord]:
        """The newest crash (by received time, then id) of each bucket, every unmerged bucket when
        ``bucket_ids`` is None; one query with a window function (records without their files)."""
        rank = (
            func.row_number()
            .over(partition_by=m.Crash.bucket_id, order_by=(m.Crash.received_at.desc(), m.Crash.id.desc()))
            .label("rank")
        )
        inner = select(m.Crash.id, rank)
        if bucket_ids is not None:
            ids = list(bucket_ids)
            if not ids:
                return {}
            inner = inner.where(m.Crash.bucket_id.in_(ids))
        else:
            live = select(m.Bucket.id).where(m.Bucket.merged_into.is_(None))
            inner = inner.where(m.Crash.bucket_id.in_(live))
        sub = inner.subquery()
        q = select(m.Crash).join(sub, sub.c.id == m.Crash.id).where(sub.c.rank == 1)
        with self._read() as s:
            return {c.bucket_id: _crash(c) for c in s.scalars(q)}
