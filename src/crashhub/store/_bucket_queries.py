"""Bucket queries of the SQL store: lists sorted by count, last seen or trend, with their aggregates.

Counters live on the bucket row and aggregates in small per-bucket tables that ingest keeps up to
date, so a page of 100 buckets out of 10,000 never touches the crash table.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import TextClause, case, func, select, text
from sqlalchemy.orm import Session

from crashhub.errors import InputError
from crashhub.store import _models as m
from crashhub.store._base import (
    BucketRecord,
)
from crashhub.store._bucket_page import search_condition
from crashhub.store._workflow import KB_STATUSES, STATUSES, effective_status, kb_status


def trailing_days(today: str, window: int) -> list[str]:
    t = datetime.strptime(today, "%Y-%m-%d").replace(tzinfo=UTC)
    return [(t - timedelta(days=i)).strftime("%Y-%m-%d") for i in range(1, window + 1)]


def trend_and_spike(
    days: dict[str, int],
    today: str,
    window: int,
    factor: float,
    minimum: int,
    *,
    trailing: list[str] | None = None,
) -> tuple[float, bool]:
    """Today's count against the median of the ``window`` days before it (missing days count 0)."""
    back = trailing if trailing is not None else trailing_days(today, window)
    counts = sorted(days.get(d, 0) for d in back)
    k = len(counts)
    median = 0.0 if k == 0 else (counts[k // 2] if k % 2 else (counts[k // 2 - 1] + counts[k // 2]) / 2)
    n = days.get(today, 0)
    return float(n - median), bool(n >= minimum and n >= factor * max(median, 1.0))


@functools.lru_cache(maxsize=64)
def _top_query(table: str, column: str, parts: int) -> TextClause:
    """Top ``:n`` values of ``column`` by count for each of ``parts`` buckets (``:b0``...)."""
    one = (
        'SELECT * FROM (SELECT bucket_id, {c} AS v, "count" FROM {t} WHERE bucket_id = :b{i} '
        'ORDER BY "count" DESC, {c} LIMIT :n) AS top{i}'
    )
    return text(" UNION ALL ".join(one.format(c=column, t=table, i=i) for i in range(parts)))


def _filtered(
    q: Any,
    *,
    include_merged: bool,
    kind: str | None,
    kernel: str | None,
    host: str | None,
    kb_status: str | None,
    since: float | None,
    status: str | None = None,
    search: str | None = None,
) -> Any:
    """The bucket list's filters as WHERE clauses: kernel and host through their aggregate tables'
    (value, bucket) indexes, KB status through its column (kept with the matches); ``search`` is
    the free text (``_bucket_page.search_condition``)."""
    if not include_merged:
        q = q.where(m.Bucket.merged_into.is_(None), m.Bucket.count > 0)
    if kind:
        q = q.where(m.Bucket.kind == kind)
    if kernel:
        q = q.where(m.Bucket.id.in_(select(m.BucketKernel.bucket_id).where(m.BucketKernel.release == kernel)))
    if host:
        # The host itself: a link from the hosts page for 10.20.0.1 must not list 10.20.0.10's
        # buckets too.  Parts of names are the free-text search's (q).
        hosts = select(m.BucketHost.bucket_id).where(m.BucketHost.host == host)
        q = q.where(m.Bucket.id.in_(hosts))
    if kb_status:
        if kb_status not in KB_STATUSES:
            raise InputError(f"unknown KB status {kb_status!r} (one of {', '.join(KB_STATUSES)})", "kb")
        q = q.where(m.Bucket.kb_status == kb_status)
    if since is not None:
        q = q.where(m.Bucket.last_seen >= since)
    if status:
        if status not in STATUSES:
            raise InputError(f"unknown bucket status {status!r} (one of {', '.join(STATUSES)})", "status")
        cond = m.Bucket.status == status
        # A bucket from before the workflow (no status) counts as effective_status says.
        unset = m.Bucket.status.is_(None)
        if status == "new":
            cond = cond | (unset & (m.Bucket.kb_status.is_(None) | (m.Bucket.kb_status != "known")))
        elif status == "known_issue":
            cond = cond | (unset & (m.Bucket.kb_status == "known"))
        q = q.where(cond)
    if q_text := (search or "").strip():
        q = q.where(search_condition(q_text))
    return q


# Hosts, kernels and hardware shown per bucket in lists (the detail view shows up to LIST_FULL).
LIST_EACH = 20
LIST_FULL = 1000


def bucket_records(
    s: Session,
    *,
    rows: list[m.Bucket],
    today: str,
    window: int,
    factor: float,
    minimum: int,
    full: bool = False,
) -> list[BucketRecord]:
    if not rows:
        return []
    conn = s.connection()  # column queries skip the ORM's row processing
    ids = [b.id for b in rows]
    hosts: dict[str, list[str]] = defaultdict(list)
    kernels: dict[str, list[str]] = defaultdict(list)
    hardware: dict[str, list[str]] = defaultdict(list)
    days: dict[str, dict[str, int]] = defaultdict(dict)
    since = (datetime.strptime(today, "%Y-%m-%d") - timedelta(days=window)).strftime("%Y-%m-%d")
    each = LIST_FULL if full else LIST_EACH
    totals: dict[str, dict[str, int]] = defaultdict(dict)
    for chunk in range(0, len(ids), 100):
        part = ids[chunk : chunk + 100]
        for name, model, col, dest in (
            ("hosts", m.BucketHost, m.BucketHost.host, hosts),
            ("kernels", m.BucketKernel, m.BucketKernel.release, kernels),
            ("hardware", m.BucketHardware, m.BucketHardware.hardware, hardware),
        ):
            # Top N per bucket by count (a fleet-wide bug has thousands of hosts): one LIMIT query
            # per bucket, walked along the (bucket_id, count, value) index, all in one UNION ALL.
            # (A window function sorts every row of every bucket instead; building the same union
            # with SQLAlchemy constructs costs more Python time than the query.)
            got: dict[str, list[tuple[int, str]]] = defaultdict(list)
            params: dict[str, Any] = {f"b{i}": bid for i, bid in enumerate(part)}
            params["n"] = each
            for bid, v, n in conn.execute(_top_query(model.__tablename__, col.key, len(part)), params):
                got[bid].append((-n, v))
            for bid, vals in got.items():
                dest[bid].extend(v for _, v in sorted(vals))
            for bid, n in conn.execute(
                select(model.bucket_id, func.count())
                .where(model.bucket_id.in_(part))
                .group_by(model.bucket_id)
            ):
                totals[bid][name] = n
        dq = select(m.BucketDay.bucket_id, m.BucketDay.day, m.BucketDay.count).where(
            m.BucketDay.bucket_id.in_(part)
        )
        if not full:
            dq = dq.where(m.BucketDay.day >= since)
        for bid, d, n in conn.execute(dq):
            days[bid][d] = n
    back = trailing_days(today, window)
    out = []
    for b in rows:
        trend, spike = trend_and_spike(days[b.id], today, window, factor, minimum, trailing=back)
        out.append(
            BucketRecord(
                id=b.id,
                algorithm=b.algorithm,
                key=b.key,
                kind=b.kind,
                title=b.title,
                count=b.count,
                dumps=b.dumps,
                first_seen=b.first_seen,
                last_seen=b.last_seen,
                merged_into=b.merged_into,
                kb=list(b.kb or []),
                hosts=tuple(hosts[b.id]),
                kernels=tuple(sorted(kernels[b.id])),
                hardware=tuple(hardware[b.id]),
                days=dict(sorted(days[b.id].items())),
                trend=trend,
                spike=spike,
                frames=tuple(b.frames or ()),
                host_count=totals[b.id].get("hosts", 0),
                kernel_count=totals[b.id].get("kernels", 0),
                status=effective_status(b.status, b.kb or []),
                owner=b.owner,
                advice_deadline=b.advice_deadline,
                advice=b.advice,
                kb_status=b.kb_status or kb_status(b.kb or []),
            )
        )
    return out


def trend_order(s: Session, q: Any, *, today: str, window: int, factor: float, minimum: int) -> list[str]:
    """Bucket ids by trend, highest first; buckets quiet for the whole window come last."""
    conn = s.connection()
    since = (datetime.strptime(today, "%Y-%m-%d") - timedelta(days=window)).strftime("%Y-%m-%d")
    wanted = {r[0] for r in conn.execute(q.with_only_columns(m.Bucket.id))}
    # Today's count and the number of active trailing days, in SQL. With fewer than half the
    # days active the trailing median is 0 (most days are zero) and the trend is today's count;
    # only buckets busier than that need their days fetched for an exact median.
    today_n = func.sum(case((m.BucketDay.day == today, m.BucketDay.count), else_=0))
    active = func.sum(case((m.BucketDay.day < today, 1), else_=0))
    trend: dict[str, float] = {}
    busy: list[str] = []
    for bid, t, nz in conn.execute(
        select(m.BucketDay.bucket_id, today_n, active)
        .where(m.BucketDay.day >= since, m.BucketDay.day <= today)
        .group_by(m.BucketDay.bucket_id)
    ):
        if bid not in wanted:
            continue
        if 2 * nz >= window:
            busy.append(bid)
        else:
            trend[bid] = float(t)
    back = trailing_days(today, window)
    for chunk in range(0, len(busy), 500):
        days: dict[str, dict[str, int]] = defaultdict(dict)
        for bid, d, n in conn.execute(
            select(m.BucketDay.bucket_id, m.BucketDay.day, m.BucketDay.count).where(
                m.BucketDay.bucket_id.in_(busy[chunk : chunk + 500]), m.BucketDay.day >= since
            )
        ):
            days[bid][d] = n
        for bid, dd in days.items():
            trend[bid] = trend_and_spike(dd, today, window, factor, minimum, trailing=back)[0]
    ranked = sorted(trend, key=lambda i: (-trend[i], i))
    return ranked + sorted(wanted - trend.keys())
