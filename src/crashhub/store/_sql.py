"""Plumbing shared by the SQL repositories: one engine, read/write transactions, row converters.

Concurrency: every write is one transaction.  On SQLite a write transaction starts with
``BEGIN IMMEDIATE`` so two writers (threads or processes such as ``crashhub ingest`` next to
``crashhub serve``) queue on the database lock instead of failing half-way with "database is
locked"; on PostgreSQL the unique keys (crash identity, bucket id, job key) settle races and the
loser retries once and finds the winner's row.
"""

# ruff: noqa: PLC0415 - imports inside functions are deliberate: each command and stage loads
# only what it uses (the host agent installs without the hub's web and database stack).

from __future__ import annotations

import hashlib
import os
import secrets
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from crashhub.errors import StoreError
from crashhub.store import _models as m
from crashhub.store._base import (
    CrashRecord,
    FileRecord,
    JobRecord,
)
from crashhub.store._cluster import Cluster
from crashhub.store._kb import Kb
from crashhub.store._retention_records import EvictedDump


def new_id(prefix: str = "") -> str:
    """Time-sortable id: 12 hex digits of milliseconds, 8 random."""
    return f"{prefix}{int(time.time() * 1000):012x}{secrets.token_hex(4)}"


def bucket_id_for(algorithm: str, key: str) -> str:
    # Deterministic, so two nodes creating the bucket of the same key at once collide on the primary key.
    return hashlib.sha256(f"{algorithm}\0{key}".encode()).hexdigest()[:16]


def _upsert_inc(s: Session, model: type[m.Base], keys: dict[str, Any], inc: int = 1) -> None:
    dialect = s.get_bind().dialect.name
    count = model.__table__.c["count"]
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        stmt = pg_insert(model).values(**keys, count=inc)
        s.execute(stmt.on_conflict_do_update(index_elements=list(keys), set_={"count": count + inc}))
    else:
        from sqlalchemy.dialects.sqlite import insert as sl_insert

        stmt2 = sl_insert(model).values(**keys, count=inc)
        s.execute(stmt2.on_conflict_do_update(index_elements=list(keys), set_={"count": count + inc}))


def _file(f: m.CrashFile) -> FileRecord:
    return FileRecord(name=f.name, role=f.role, digest=f.digest, size=f.size, created_at=f.created_at)


def _crash(c: m.Crash, files: Iterable[m.CrashFile] = ()) -> CrashRecord:
    return CrashRecord(
        id=c.id,
        identity=c.identity,
        received_at=c.received_at,
        crash_time=c.crash_time,
        crash_time_source=c.crash_time_source,
        host=c.host,
        host_source=c.host_source,
        release=c.release,
        kind=c.kind,
        title=c.title,
        bucket_id=c.bucket_id,
        signature_algorithm=c.signature_algorithm,
        signature_key=c.signature_key,
        hardware=c.hardware,
        report=c.report,
        reports=c.reports,
        source=c.source,
        crash_dir=c.crash_dir,
        has_vmcore=c.has_vmcore,
        dump_facts=c.dump_facts,
        versions=dict(c.versions or {}),
        kb=list(c.kb or []),
        analysis=c.analysis,
        files=tuple(_file(f) for f in files),
        pinned_by=c.pinned_by,
        pinned_at=c.pinned_at,
        dump_evicted=None if c.dump_evicted is None else EvictedDump.from_row(c.dump_evicted),
    )


def _job(j: m.Job) -> JobRecord:
    return JobRecord(
        id=j.id,
        kind=j.kind,
        key=j.key,
        payload=dict(j.payload or {}),
        state=j.state,
        attempts=j.attempts,
        created_at=j.created_at,
        result=j.result,
        error=j.error,
    )


class Db:
    """The engine and its transactions, one per store: every repository of the store shares it."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.dialect = url.split(":", 1)[0].split("+", 1)[0]
        self.shared = self.dialect != "sqlite"
        kwargs: dict[str, Any] = {"echo": echo, "future": True}
        if self.dialect == "sqlite":
            path = url.split("///", 1)[-1]
            if path and path != ":memory:":
                os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            # isolation_level=None hands BEGIN to us (pysqlite's own BEGIN is deferred and too late).
            kwargs["connect_args"] = {"check_same_thread": False, "isolation_level": None, "timeout": 60}
        else:
            kwargs["pool_pre_ping"] = True
            kwargs["pool_size"] = 10
        self.engine: Engine = create_engine(url, **kwargs)
        self._local = threading.local()
        from crashhub.store._cluster import SqlCluster
        from crashhub.store._kb import SqlKb

        # The repositories the nodes share (leases, alert keys, cursors; the KB), on this engine.
        self.cluster: Cluster = SqlCluster(self)
        self.kb: Kb = SqlKb(self)
        if self.dialect == "sqlite":

            @event.listens_for(self.engine, "connect")
            def _on_connect(dbapi_conn: Any, _rec: Any) -> None:
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=NORMAL")
                cur.execute("PRAGMA foreign_keys=ON")
                cur.execute("PRAGMA busy_timeout=60000")
                cur.close()

            @event.listens_for(self.engine, "begin")
            def _on_begin(conn: Any) -> None:
                conn.exec_driver_sql("BEGIN IMMEDIATE" if getattr(self._local, "write", False) else "BEGIN")

    @contextmanager
    def read(self) -> Iterator[Session]:
        try:
            with Session(self.engine, expire_on_commit=False) as s, s.begin():
                yield s
        except OperationalError as e:
            raise StoreError(f"database: {e.orig}") from None

    @contextmanager
    def write(self) -> Iterator[Session]:
        # The flag is read by the "begin" listener, which fires at the session's first statement.
        self._local.write = True
        try:
            with Session(self.engine, expire_on_commit=False) as s, s.begin():
                yield s
        except OperationalError as e:
            raise StoreError(f"database: {e.orig}") from None
        finally:
            self._local.write = False

    def migrate(self) -> None:
        from crashhub.store._migrate import upgrade

        upgrade(self.engine)

    def close(self) -> None:
        self.engine.dispose()


class SqlRepository:
    """A repository on the store's shared :class:`Db` (its transactions, its dialect)."""

    def __init__(self, db: Db) -> None:
        self.db = db
        self.dialect = db.dialect

    def _read(self) -> AbstractContextManager[Session]:
        return self.db.read()

    def _write(self) -> AbstractContextManager[Session]:
        return self.db.write()
