"""What the nodes of one hub share besides crashes: leases, de-duplication keys and named cursors.

A node keeps no state of its own (docs/deploy.md, "Several nodes"): periodic work runs on the node
holding its lease (``try_lease``), an alert goes out once because one node claims its key first
(``claim_key``), and a position such as the owner advice's cursor is a named JSON value.

``store.cluster`` is a :class:`Cluster`; :class:`SqlCluster` keeps it in three tables of the
store's database (migration 0012), so SQLite and PostgreSQL behave alike.
"""

from __future__ import annotations

import abc
import os
import secrets
import socket
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from crashhub.store import _models as m

if TYPE_CHECKING:
    from crashhub.store._sql import Db


class Cluster(abc.ABC):
    """Leases, de-duplication keys and cursors shared by every node on one database."""

    # ------------------------------------------------------------------ leases
    @abc.abstractmethod
    def try_lease(self, name: str, owner: str, ttl: float, *, now: float | None = None) -> bool:
        """Take the lease ``name`` for ``ttl`` seconds if it is free or expired, or extend it if
        ``owner`` already holds it; False when another owner holds it."""

    @abc.abstractmethod
    def renew_lease(self, name: str, owner: str, ttl: float, *, now: float | None = None) -> bool:
        """Extend a lease ``owner`` holds (even one just expired but not yet taken); False otherwise."""

    @abc.abstractmethod
    def release_lease(self, name: str, owner: str) -> bool:
        """Give the lease up (a stopping node), so another node need not wait for it to expire."""

    @abc.abstractmethod
    def lease_holder(self, name: str, *, now: float | None = None) -> str | None:
        """The owner of a live lease, or None."""

    # ------------------------------------------------------------------ keys
    @abc.abstractmethod
    def claim_key(self, key: str, at: float, *, since: float | None = None) -> bool:
        """Record ``key`` at ``at`` unless it is already held from ``since`` on (``None``: held
        forever); True for the one caller that recorded it."""

    @abc.abstractmethod
    def key_time(self, key: str) -> float | None:
        """When ``key`` was last recorded."""

    @abc.abstractmethod
    def count_keys(self, prefix: str, since: float) -> int:
        """How many keys starting with ``prefix`` were recorded at or after ``since``."""

    @abc.abstractmethod
    def forget_keys(self, prefix: str, before: float) -> int:
        """Drop the keys starting with ``prefix`` recorded before ``before``; how many went."""

    # ------------------------------------------------------------------ cursors
    @abc.abstractmethod
    def get_cursor(self, name: str) -> Any:
        """The JSON value of a cursor, None when never set."""

    @abc.abstractmethod
    def set_cursor(self, name: str, value: Any, *, now: float | None = None) -> None:
        """Set a cursor to a JSON value."""

    @abc.abstractmethod
    def init_cursor(self, name: str, value: Any, *, now: float | None = None) -> Any:
        """Set a cursor only if it was never set; the value it holds afterwards (the first node's)."""


def node_name() -> str:
    """A name for this process among the hub's nodes (a lease's owner): host, pid and a random
    tail, so a restarted process does not inherit its predecessor's lease by accident."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def _now(t: float | None) -> float:
    from crashhub.store._base import now  # noqa: PLC0415 - base imports this module's ABC

    return now() if t is None else t


def _insert(s: Session, model: type[m.Base], values: dict[str, Any], key: str = "name") -> bool:
    """INSERT unless the primary key ``key`` exists; True if this call inserted the row.  RETURNING says
    so on both dialects (a driver's rowcount for ON CONFLICT DO NOTHING is not to be trusted)."""
    pk = model.__table__.c[key]
    if s.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert  # noqa: PLC0415

        stmt: Any = pg_insert(model).values(**values).on_conflict_do_nothing()
    else:
        from sqlalchemy.dialects.sqlite import insert as sl_insert  # noqa: PLC0415

        stmt = sl_insert(model).values(**values).on_conflict_do_nothing()
    return s.execute(stmt.returning(pk)).first() is not None


class SqlCluster(Cluster):
    """:class:`Cluster` on the SQL store's engine and transactions."""

    def __init__(self, db: Db) -> None:
        self._db = db

    def try_lease(self, name: str, owner: str, ttl: float, *, now: float | None = None) -> bool:
        t = _now(now)
        with self._db.write() as s:
            # Conditional UPDATE first: of two nodes racing for an expired lease, one row update wins.
            res = s.execute(
                update(m.ClusterLease)
                .where(m.ClusterLease.name == name,
                       (m.ClusterLease.owner == owner) | (m.ClusterLease.expires_at <= t))
                .values(owner=owner, expires_at=t + ttl, acquired_at=t)
            )
            if getattr(res, "rowcount", 0):
                return True
            return _insert(s, m.ClusterLease, {"name": name, "owner": owner, "expires_at": t + ttl,
                                               "acquired_at": t})

    def renew_lease(self, name: str, owner: str, ttl: float, *, now: float | None = None) -> bool:
        t = _now(now)
        with self._db.write() as s:
            res = s.execute(
                update(m.ClusterLease)
                .where(m.ClusterLease.name == name, m.ClusterLease.owner == owner)
                .values(expires_at=t + ttl)
            )
            return bool(getattr(res, "rowcount", 0))

    def release_lease(self, name: str, owner: str) -> bool:
        with self._db.write() as s:
            res = s.execute(
                delete(m.ClusterLease).where(m.ClusterLease.name == name, m.ClusterLease.owner == owner)
            )
            return bool(getattr(res, "rowcount", 0))

    def lease_holder(self, name: str, *, now: float | None = None) -> str | None:
        with self._db.read() as s:
            row = s.get(m.ClusterLease, name)
            return row.owner if row is not None and row.expires_at > _now(now) else None

    def claim_key(self, key: str, at: float, *, since: float | None = None) -> bool:
        with self._db.write() as s:
            if since is not None:
                # An expired key is taken over by one UPDATE: a second claimer finds it fresh.
                res = s.execute(
                    update(m.ClusterKey).where(m.ClusterKey.key == key, m.ClusterKey.at < since).values(at=at)
                )
                if getattr(res, "rowcount", 0):
                    return True
            return _insert(s, m.ClusterKey, {"key": key, "at": at}, "key")

    def key_time(self, key: str) -> float | None:
        with self._db.read() as s:
            row = s.get(m.ClusterKey, key)
            return None if row is None else row.at

    def count_keys(self, prefix: str, since: float) -> int:
        with self._db.read() as s:
            q = select(func.count()).where(
                m.ClusterKey.key.startswith(prefix, autoescape=True), m.ClusterKey.at >= since
            )
            return int(s.scalar(q) or 0)

    def forget_keys(self, prefix: str, before: float) -> int:
        with self._db.write() as s:
            res = s.execute(
                delete(m.ClusterKey).where(
                    m.ClusterKey.key.startswith(prefix, autoescape=True), m.ClusterKey.at < before
                )
            )
            return int(getattr(res, "rowcount", 0) or 0)

    def get_cursor(self, name: str) -> Any:
        with self._db.read() as s:
            row = s.get(m.ClusterCursor, name)
            return None if row is None else row.value

    def set_cursor(self, name: str, value: Any, *, now: float | None = None) -> None:
        t = _now(now)
        with self._db.write() as s:
            if not _insert(s, m.ClusterCursor, {"name": name, "value": value, "updated_at": t}):
                q = update(m.ClusterCursor).where(m.ClusterCursor.name == name)
                s.execute(q.values(value=value, updated_at=t))

    def init_cursor(self, name: str, value: Any, *, now: float | None = None) -> Any:
        with self._db.write() as s:
            if _insert(s, m.ClusterCursor, {"name": name, "value": value, "updated_at": _now(now)}):
                return value
            row = s.get(m.ClusterCursor, name)
            return None if row is None else row.value
