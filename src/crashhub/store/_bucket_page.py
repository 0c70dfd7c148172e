"""What a bucket's page reads besides the bucket: its breakdowns with counts (kernel, host, hardware
from the per-bucket count tables; guilty and stack modules and taint letters from its crashes'
reports), the free-text search condition of the bucket lists, and the crash list's order.

Module and taint counts are read from the crashes' stored report JSON by the database
(``json_extract``/``json_each`` on SQLite, ``->>``/``json_array_elements`` on PostgreSQL), walking
the crashes of one bucket along ``ix_crashes_bucket``: no column to migrate, nothing parsed in
Python.
"""

from __future__ import annotations

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

    ``total`` is the bucket's crash count, the base of every percentage; a crash counts once per
    module it names (guilty frame or stack), so module shares may add up to more than 100 %.
    ``*_count`` say how many distinct values there are beyond the ones listed."""

    total: int
    kernels: tuple[Share, ...] = ()
    hosts: tuple[Share, ...] = ()
    hardware: tuple[Share, ...] = ()
    modules: tuple[Share, ...] = ()
    taints: tuple[Share, ...] = ()
    kernel_count: int = 0
    host_count: int = 0
    hardware_count: int = 0

    def to_dict(self) -> JsonObject:
        out: JsonObject = {"total": self.total}
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
        )


# Per dialect: the guilty frame's module, every stack frame's module, the taint letters.
_MODULES = {
    "sqlite": (
        "SELECT mod, COUNT(DISTINCT id) AS n FROM ("
        " SELECT c.id AS id, json_extract(c.report, '$.guilty.module') AS mod FROM crashes c"
        " WHERE c.bucket_id = :b"
        " UNION ALL"
        " SELECT c.id, json_extract(f.value, '$.module') FROM crashes c, json_each(c.report, '$.frames') f"
        " WHERE c.bucket_id = :b"
        ") AS x WHERE mod IS NOT NULL AND mod != '' GROUP BY mod ORDER BY n DESC, mod LIMIT :n"
    ),
    "postgresql": (
        "SELECT mod, COUNT(DISTINCT id) AS n FROM ("
        " SELECT c.id AS id, c.report -> 'guilty' ->> 'module' AS mod FROM crashes c WHERE c.bucket_id = :b"
        " UNION ALL"
        " SELECT c.id, f.value ->> 'module' FROM crashes c CROSS JOIN LATERAL json_array_elements("
        "  CASE WHEN json_typeof(c.report -> 'frames') = 'array' THEN c.report -> 'frames' END) AS f(value)"
        " WHERE c.bucket_id = :b"
        ") AS x WHERE mod IS NOT NULL AND mod <> '' GROUP BY mod ORDER BY n DESC, mod LIMIT :n"
    ),
}
_TAINTS = {
    "sqlite": (
        "SELECT NULLIF(json_extract(report, '$.taint.letters'), '') AS t, COUNT(*) AS n FROM crashes"
        " WHERE bucket_id = :b GROUP BY t ORDER BY n DESC, t LIMIT :n"
    ),
    "postgresql": (
        "SELECT NULLIF(report -> 'taint' ->> 'letters', '') AS t, COUNT(*) AS n FROM crashes"
        " WHERE bucket_id = :b GROUP BY t ORDER BY n DESC, t LIMIT :n"
    ),
}


def breakdown(s: Session, dialect: str, bucket_id: str, total: int, limit: int) -> Breakdown:
    """The bucket's breakdowns: three from the count tables ingest keeps (top ``limit`` along
    their (bucket, count, value) indexes), modules and taint from its crashes' reports."""
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
    sql = "sqlite" if dialect == "sqlite" else "postgresql"
    params = {"b": bucket_id, "n": limit}
    modules = tuple(Share(str(v), int(c)) for v, c in conn.execute(text(_MODULES[sql]), params))
    taints = tuple(Share(v, int(c)) for v, c in conn.execute(text(_TAINTS[sql]), params))
    return Breakdown(
        total=total,
        kernels=tables["kernels"][0],
        hosts=tables["hosts"][0],
        hardware=tables["hardware"][0],
        modules=modules,
        taints=taints,
        kernel_count=tables["kernels"][1],
        host_count=tables["hosts"][1],
        hardware_count=tables["hardware"][1],
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
