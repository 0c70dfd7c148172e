"""Aggregates the dashboard needs that ``Store`` does not offer yet, done in SQL for ``SqlStore``.

The crashes-per-day-by-release chart wants ``{release: {day: count}}`` over 30 days.  Through the
store interface that means loading every crash record of the window (a second for 5,000 crashes,
each with its report); one ``GROUP BY`` on the crash table answers in milliseconds.  This module
only reads, and only while the store lacks ``crashes_per_day_by_release(since)`` (asked of the
hub's owner, see docs/ui.md): the page prefers the store's method whenever it exists.
"""

# ruff: noqa: PLC0415 - SQLAlchemy loads only for a SQL store

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def per_day_by_release_sql(store: Any, since: float) -> dict[str, dict[str, int]] | None:
    """The chart's series by one GROUP BY, or None when ``store`` is not a SQL store."""
    try:
        from sqlalchemy import Integer, cast, func, select

        from crashhub.store import models as m
        from crashhub.store.sql import SqlStore
    except ImportError:
        return None
    if not isinstance(store, SqlStore):
        return None
    t = func.coalesce(m.Crash.crash_time, m.Crash.received_at)
    # Whole days since the epoch: SQLite's CAST truncates (times are positive, so it floors);
    # PostgreSQL's CAST rounds, so it gets FLOOR first.
    day = cast(func.floor(t / 86400) if store.dialect == "postgresql" else t / 86400, Integer)
    q = (
        select(m.Crash.release, day, func.count())
        .where(m.Crash.received_at >= since)
        .group_by(m.Crash.release, day)
    )
    out: dict[str, dict[str, int]] = {}
    with store.engine.connect() as c:
        for rel, d, n in c.execute(q):
            key = datetime.fromtimestamp(int(d) * 86400, UTC).strftime("%Y-%m-%d")
            out.setdefault(rel or "?", {})[key] = int(n)
    return out


def releases_sql(store: Any) -> list[str] | None:
    """Every kernel release with a crash, by one DISTINCT (``Store.list_kernels`` also counts hosts
    and build-ids per release, which the filter's drop-down does not need)."""
    try:
        from sqlalchemy import select

        from crashhub.store import models as m
        from crashhub.store.sql import SqlStore
    except ImportError:
        return None
    if not isinstance(store, SqlStore):
        return None
    with store.engine.connect() as c:
        return sorted(r for (r,) in c.execute(select(m.Crash.release).distinct()) if r)
