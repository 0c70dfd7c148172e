"""What a bucket's page reads besides the bucket: its breakdowns with counts (kernel, host, hardware
from the per-bucket count tables; guilty and stack modules and taint letters from its crashes'
reports), the free-text search condition of the bucket lists, and the crash list's order.

Module and taint counts are read from the crashes' stored report JSON: the database picks the three
parts out (``json_extract`` on SQLite, ``->``/``->>`` on PostgreSQL) of the bucket's newest
crashes along ``ix_crashes_bucket``, Python counts them; no column to migrate.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Text, cast, func, or_, select, text
from sqlalchemy.orm import Session

from crashhub.errors import InputError
from crashhub.model import JsonObject
from crashhub.store import _models as m

# A search is a few words typed into a box; longer input is refused rather than sent to LIKE.
MAX_QUERY = 200

CrashSort = Literal["time", "host", "kernel"]
CRASH_SORTS: tuple[CrashSort, ...] = ("time", "host", "kernel")


@dataclass(frozen=True, slots=True)
class Share:
    """One value of a breakdown and the number of the bucket's crashes that have it."""

    value: str | None  # None: the crashes that do not say (no taint line: not tainted or not known)
    count: int

    def to_dict(self) -> JsonObject:
        return {"value": self.value, "count": self.count}

    @classmethod
    def from_dict(cls, d: JsonObject) -> Share:
        v = d.get("value")
        return cls(None if v is None else str(v), int(d["count"]))


@dataclass(frozen=True, slots=True)
class Breakdown:
    """A bucket's crashes broken down five ways, most frequent first (at most ``limit`` each).

    ``total`` is the bucket's crash count, the base of the kernel, host and hardware shares;
    modules and taint are read from the reports of the newest ``sampled`` crashes (all of them
    up to ``REPORT_SCAN``), the base of their shares.  A crash counts once per module it names
    (guilty frame or stack), so module shares may add up to more than 100 %.  ``*_count`` say how
    many distinct values there are, listed or not."""

    total: int
    kernels: tuple[Share, ...] = ()
    hosts: tuple[Share, ...] = ()
    hardware: tuple[Share, ...] = ()
    modules: tuple[Share, ...] = ()
    taints: tuple[Share, ...] = ()
    kernel_count: int = 0
    host_count: int = 0
    hardware_count: int = 0
    sampled: int = 0

    def to_dict(self) -> JsonObject:
        out: JsonObject = {"total": self.total, "sampled": self.sampled}
        for name in ("kernels", "hosts", "hardware", "modules", "taints"):
            out[name] = [x.to_dict() for x in getattr(self, name)]
        out.update(kernel_count=self.kernel_count, host_count=self.host_count,
                   hardware_count=self.hardware_count)
        return out

    @classmethod
    def from_dict(cls, d: JsonObject) -> Breakdown:
        def shares(name: str) -> tuple[Share, ...]:
            return tuple(Share.from_dict(x) for x in d.get(name) or ())

        return cls(
            total=int(d["total"]),
            kernels=shares("kernels"),
            hosts=shares("hosts"),
            hardware=shares("hardware"),
            modules=shares("modules"),
            taints=shares("taints"),
            kernel_count=int(d.get("kernel_count") or 0),
            host_count=int(d.get("host_count") or 0),
            hardware_count=int(d.get("hardware_count") or 0),
            sampled=int(d.get("sampled") or 0),
        )


# Module and taint counts read the crashes' report JSON (kilobytes each, the oops text included): at
# most this many of a bucket's newest crashes are read, so a bucket of 100,000 costs what one of
# 200 does (a bucket is one signature: its modules and taint vary little).  ``Breakdown.sampled``
# says how many were read.
REPORT_SCAN = 200

# Per dialect: the guilty frame's module, the taint letters and the frames, one row per crash.
_REPORT_PARTS = {
    "sqlite": (
        "SELECT json_extract(report, '$.guilty.module', '$.taint.letters', '$.frames') FROM crashes"
        " WHERE bucket_id = :b ORDER BY received_at DESC LIMIT :n"
    ),
    "postgresql": (
        "SELECT json_build_array(report -> 'guilty' ->> 'module', report -> 'taint' ->> 'letters',"
        " report -> 'frames')::text FROM crashes WHERE bucket_id = :b ORDER BY received_at DESC LIMIT :n"
    ),
}


def _report_parts(raw: str | None) -> tuple[set[str], str | None]:
    """A crash's modules (guilty frame and stack) and taint letters from its ``_REPORT_PARTS`` row."""
    try:
        guilty, letters, frames = json.loads(raw) if raw else (None, None, None)
    except (ValueError, TypeError):
        return set(), None
    mods = {str(guilty)} if guilty else set()
    for f in frames if isinstance(frames, list) else ():
        if isinstance(f, dict) and f.get("module"):
            mods.add(str(f["module"]))
    return mods, (str(letters) if letters else None)


def _from_reports(
    s: Session, dialect: str, bucket_id: str, limit: int
) -> tuple[int, Counter[str], Counter[str | None]]:
    sql = _REPORT_PARTS["sqlite" if dialect == "sqlite" else "postgresql"]
    modules: Counter[str] = Counter()
    taints: Counter[str | None] = Counter()
    n = 0
    for (raw,) in s.connection().execute(text(sql), {"b": bucket_id, "n": limit}):
        n += 1
        mods, letters = _report_parts(raw)
        modules.update(mods)
        taints[letters] += 1
    return n, modules, taints


def _top(c: Counter[Any], limit: int) -> tuple[Share, ...]:
    ranked = sorted(c.items(), key=lambda kv: (-kv[1], kv[0] is None, kv[0] or ""))
    return tuple(Share(v, n) for v, n in ranked[:limit])


def breakdown(
    s: Session, dialect: str, bucket_id: str, *, total: int, limit: int, scan: int = REPORT_SCAN
) -> Breakdown:
    """The bucket's breakdowns: three from the count tables ingest keeps (top ``limit`` along
    their (bucket, count, value) indexes), modules and taint from the reports of its newest
    ``scan`` crashes (along ix_crashes_bucket)."""
    conn = s.connection()
    tables: dict[str, tuple[tuple[Share, ...], int]] = {}
    for name, model, col in (
        ("kernels", m.BucketKernel, m.BucketKernel.release),
        ("hosts", m.BucketHost, m.BucketHost.host),
        ("hardware", m.BucketHardware, m.BucketHardware.hardware),
    ):
        rows = conn.execute(
            select(col, model.count).where(model.bucket_id == bucket_id)
            .order_by(model.count.desc(), col).limit(limit)
        )
        n = conn.execute(select(func.count()).select_from(model).where(model.bucket_id == bucket_id))
        tables[name] = (tuple(Share(v, c) for v, c in rows), int(n.scalar() or 0))
    sampled, modules, taints = _from_reports(s, dialect, bucket_id, scan)
    return Breakdown(
        total=total,
        kernels=tables["kernels"][0],
        hosts=tables["hosts"][0],
        hardware=tables["hardware"][0],
        modules=_top(modules, limit),
        taints=_top(taints, limit),
        kernel_count=tables["kernels"][1],
        host_count=tables["hosts"][1],
        hardware_count=tables["hardware"][1],
        sampled=sampled,
    )


def like_part(q: str) -> str:
    """``q`` lower-cased for a case-blind ``contains`` (its LIKE wildcards escaped by the caller's
    ``autoescape``); refused when empty after trimming or longer than :data:`MAX_QUERY`."""
    q = q.strip()
    if len(q) > MAX_QUERY:
        raise InputError(f"search text longer than {MAX_QUERY} characters", "q")
    return q.lower()


def search_condition(q: str) -> Any:
    """Buckets whose title, key functions, hosts or kernels contain ``q`` (any case): the dashboard's
    and the API's ``q``.  Hosts and kernels through their per-bucket tables."""
    part = like_part(q)

    def has(col: Any) -> Any:
        return func.lower(col).contains(part, autoescape=True)

    hosts = select(m.BucketHost.bucket_id).where(has(m.BucketHost.host))
    kernels = select(m.BucketKernel.bucket_id).where(has(m.BucketKernel.release))
    return or_(
        has(m.Bucket.title),
        has(cast(m.Bucket.frames, Text)),
        m.Bucket.id.in_(hosts),
        m.Bucket.id.in_(kernels),
    )


def crash_order(sort: str, descending: bool) -> list[Any]:
    """ORDER BY of the crash list: by time (received), host or kernel, the time and id breaking ties."""
    if sort not in CRASH_SORTS:
        raise InputError(f"unknown crash sort {sort!r} ({', '.join(CRASH_SORTS)})", "sort")
    t = [m.Crash.received_at.desc(), m.Crash.id.desc()] if descending else [m.Crash.received_at, m.Crash.id]
    if sort == "host":
        return [m.Crash.host.desc() if descending else m.Crash.host, *t]
    if sort == "kernel":
        return [m.Crash.release.desc() if descending else m.Crash.release, *t]
    return t
