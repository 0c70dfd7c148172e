"""The access repository on SQL: tokens, the audit log, UI password users, ended UI sessions,
rate-limit counters and shared secrets.

Users and counters live in the database, not on a node, so hub nodes behind a load balancer agree
on who may log in and on how many attempts a client has left (issue 9: nodes hold no state of their own).

Rate limits are fixed windows: a row per (key, window start) counted up by one atomic
``INSERT ... ON CONFLICT DO UPDATE SET count = count + n RETURNING count`` (PostgreSQL; SQLite since
3.35), so two nodes counting the same key at once never lose a hit.  A fixed window lets a burst of
up to twice the limit through around a window's edge; that is the price of one row and one
statement per hit, and it is enough to stop password guessing and an agent gone wild.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from crashhub.errors import StoreError
from crashhub.store import _models as m
from crashhub.store._access import Access
from crashhub.store._base import AuditRecord, TokenRecord, UiUserRecord, now
from crashhub.store._sql import SqlRepository, new_id

MAX_KEY = 255
# Old windows are deleted by whichever hit comes first after this many seconds (per process): a
# DELETE per hit would double the writes, and a few minutes of dead rows cost nothing.
PRUNE_EVERY = 60.0


def _user(u: m.UiUser) -> UiUserRecord:
    return UiUserRecord(
        name=u.name,
        role=u.role,
        password_hash=u.password_hash,
        created_at=u.created_at,
        updated_at=u.updated_at,
    )


class SqlAccess(SqlRepository, Access):
    _prune_lock = threading.Lock()
    _pruned_at: float = 0.0

    # ------------------------------------------------------------------ tokens, audit
    def create_token(self, name: str, role: str, token_hash: str, host: str | None = None) -> TokenRecord:
        t = m.Token(
            id=new_id("t"),
            name=name,
            role=role,
            token_hash=token_hash,
            created_at=now(),
            revoked=False,
            host=host,
        )
        with self._write() as s:
            s.add(t)
        return _token(t)

    def bind_token(self, token_id: str, host: str) -> str | None:
        with self._write() as s:
            # One conditional UPDATE: of two first uses racing, exactly one binds and both read it back.
            # A host another active token speaks for is not taken by a first use: that would give a
            # stray old token a say over the host's crashes.
            other = aliased(m.Token)
            taken = (
                select(other.id)
                .where(other.host == host, other.revoked.is_(False), other.id != token_id)
                .exists()
            )
            s.execute(
                update(m.Token)
                .where(m.Token.id == token_id, m.Token.host.is_(None), ~taken)
                .values(host=host)
            )
            return s.scalar(select(m.Token.host).where(m.Token.id == token_id))

    def token_by_hash(self, token_hash: str) -> TokenRecord | None:
        with self._read() as s:
            t = s.scalar(select(m.Token).where(m.Token.token_hash == token_hash))
            if t is None or t.revoked:
                return None
            return _token(t)

    def list_tokens(self) -> list[TokenRecord]:
        with self._read() as s:
            return [_token(t) for t in s.scalars(select(m.Token).order_by(m.Token.created_at))]

    def revoke_token(self, token_id: str) -> bool:
        with self._write() as s:
            r = s.execute(update(m.Token).where(m.Token.id == token_id).values(revoked=True))
            return bool(getattr(r, "rowcount", 0))

    def audit(self, actor: str, action: str, target: str, detail: dict[str, Any] | None = None) -> None:
        with self._write() as s:
            s.add(m.Audit(at=now(), actor=actor, action=action, target=target, detail=detail or {}))

    def list_audit(self, limit: int = 100) -> list[AuditRecord]:
        with self._read() as s:
            return [
                AuditRecord(at=a.at, actor=a.actor, action=a.action, target=a.target, detail=dict(a.detail))
                for a in s.scalars(select(m.Audit).order_by(m.Audit.id.desc()).limit(limit))
            ]

    def get_or_create_secret(self, name: str, candidate: str) -> str:
        try:
            with self._write() as s:
                row = s.get(m.Secret, name)
                if row is not None:
                    return row.value
                s.add(m.Secret(name=name, value=candidate, created_at=now()))
                return candidate
        except IntegrityError:
            with self._read() as s:
                row = s.get(m.Secret, name)
                if row is None:
                    raise
                return row.value

    # ------------------------------------------------------------------ UI users
    def put_ui_user(self, name: str, role: str, password_hash: str, *, replace: bool = True) -> bool:
        t = now()
        try:
            with self._write() as s:
                u = s.get(m.UiUser, name)
                if u is None:
                    row = m.UiUser(name=name, role=role, password_hash=password_hash, created_at=t)
                    row.updated_at = t
                    s.add(row)
                    return True
                if not replace:
                    return False
                u.role, u.password_hash, u.updated_at = role, password_hash, t
                return True
        except IntegrityError:
            # Another node added the same name between our read and our insert.
            if not replace:
                return False
            with self._write() as s:
                s.execute(
                    update(m.UiUser)
                    .where(m.UiUser.name == name)
                    .values(role=role, password_hash=password_hash, updated_at=t)
                )
            return True

    def get_ui_user(self, name: str) -> UiUserRecord | None:
        with self._read() as s:
            u = s.get(m.UiUser, name)
            return None if u is None else _user(u)

    def list_ui_users(self) -> list[UiUserRecord]:
        with self._read() as s:
            return [_user(u) for u in s.scalars(select(m.UiUser).order_by(m.UiUser.name))]

    def delete_ui_user(self, name: str) -> bool:
        with self._write() as s:
            return bool(s.execute(delete(m.UiUser).where(m.UiUser.name == name)).rowcount)  # type: ignore[attr-defined]

    # ------------------------------------------------------------------ ended UI sessions
    def revoke_session(self, nonce: str, expires_at: float) -> None:
        if not nonce or len(nonce) > 64:
            raise StoreError(f"session nonce of {len(nonce)} characters (1 to 64)")
        t = time.time()
        with self._write() as s:
            s.execute(delete(m.SessionRevocation).where(m.SessionRevocation.expires_at < t))
            if s.get(m.SessionRevocation, nonce) is None:
                s.add(m.SessionRevocation(nonce=nonce, expires_at=float(expires_at)))

    def session_revoked(self, nonce: str) -> bool:
        if not nonce or len(nonce) > 64:
            return True  # no session of ours has such a nonce
        with self._read() as s:
            return s.get(m.SessionRevocation, nonce) is not None

    # ------------------------------------------------------------------ rate limits
    def rate_hit(self, key: str, window_s: float, limit: int, *, cost: int = 1) -> float | None:
        if limit <= 0 or window_s <= 0:
            return None
        if not key or len(key) > MAX_KEY:
            raise StoreError(f"rate-limit key of {len(key)} characters (1 to {MAX_KEY})")
        t = time.time()
        start = math.floor(t / window_s) * window_s
        end = start + window_s
        self._maybe_prune(t)
        row = m.RateLimit.__table__
        where = (row.c.key == key, row.c.window_start == start)
        with self._write() as s:
            if cost <= 0:
                # Taking hits back never makes a row, and never goes below zero.
                s.execute(
                    update(m.RateLimit).where(*where, row.c.count > 0).values(count=m.RateLimit.count + cost)
                )
                return None
            stmt: Any
            if self.dialect == "postgresql":
                from sqlalchemy.dialects.postgresql import insert as pg_insert  # noqa: PLC0415

                stmt = pg_insert(m.RateLimit)
            else:
                from sqlalchemy.dialects.sqlite import insert as sl_insert  # noqa: PLC0415

                stmt = sl_insert(m.RateLimit)
            stmt = stmt.values(key=key, window_start=start, count=cost, expires_at=end)
            stmt = stmt.on_conflict_do_update(
                index_elements=["key", "window_start"], set_={"count": row.c.count + cost}
            ).returning(row.c.count)
            count = int(s.execute(stmt).scalar_one())
        if count <= limit:
            return None
        return max(end - t, 0.001)

    def rate_count(self, key: str, window_s: float) -> int:
        if window_s <= 0 or not key or len(key) > MAX_KEY:
            return 0
        start = math.floor(time.time() / window_s) * window_s
        with self._read() as s:
            row = s.get(m.RateLimit, (key, start))
            return max(0, int(row.count)) if row is not None else 0

    def _maybe_prune(self, t: float) -> None:
        with self._prune_lock:
            if t - self._pruned_at < PRUNE_EVERY:
                return
            self._pruned_at = t
        with self._write() as s:
            s.execute(delete(m.RateLimit).where(m.RateLimit.expires_at < t))


def _token(t: m.Token) -> TokenRecord:
    return TokenRecord(
        id=t.id, name=t.name, role=t.role, created_at=t.created_at, revoked=t.revoked, host=t.host
    )
