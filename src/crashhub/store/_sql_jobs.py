"""The jobs repository on SQL: the job queue's table and the Celery ledger's two tables.

The ledger (tables ``celery_jobs`` and ``celery_workers``) gives each job a broker delivers a lease
and an attempt count, apart from the job's own row (see ``crashhub.jobs._celery_queue``).  Its
statements are Core ones on the store's engine and transactions: one conditional UPDATE decides
which of two racing deliveries runs, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Table, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from crashhub.store import _models as m
from crashhub.store._base import JobRecord, now
from crashhub.store._jobs import Jobs
from crashhub.store._sql import SqlRepository, _job, new_id

LEDGER: Table = m.Base.metadata.tables["celery_jobs"]
WORKERS: Table = m.Base.metadata.tables["celery_workers"]


class SqlJobs(SqlRepository, Jobs):
    def enqueue_job(self, kind: str, payload: dict[str, Any], key: str | None = None) -> tuple[str, bool]:
        if key is not None:
            with self._read() as s:
                j = s.scalar(select(m.Job.id).where(m.Job.key == key))
                if j is not None:
                    return j, False
        jid = new_id("j")
        try:
            with self._write() as s:
                s.add(
                    m.Job(
                        id=jid,
                        kind=kind,
                        key=key,
                        payload=payload,
                        state="pending",
                        attempts=0,
                        created_at=now(),
                    )
                )
        except IntegrityError:
            with self._read() as s:
                j2 = s.scalar(select(m.Job.id).where(m.Job.key == key))
                if j2 is None:
                    raise
                return j2, False
        return jid, True

    def claim_job(self, owner: str, lease: float, kinds: Iterable[str] | None = None) -> JobRecord | None:
        t = now()
        with self._write() as s:
            q = select(m.Job).where(
                (m.Job.state == "pending") | ((m.Job.state == "running") & (m.Job.lease_until < t))
            )
            if kinds is not None:
                q = q.where(m.Job.kind.in_(list(kinds)))
            q = q.order_by(m.Job.created_at).limit(1)
            if self.dialect == "postgresql":
                q = q.with_for_update(skip_locked=True)
            j = s.scalar(q)
            if j is None:
                return None
            j.state, j.owner, j.lease_until, j.attempts = "running", owner, t + lease, j.attempts + 1
            s.flush()
            return _job(j)

    def finish_job(
        self, job_id: str, *, ok: bool, result: dict[str, Any] | None = None, error: str | None = None
    ) -> None:
        with self._write() as s:
            s.execute(
                update(m.Job)
                .where(m.Job.id == job_id)
                .values(
                    state="done" if ok else "failed",
                    result=result,
                    error=error,
                    finished_at=now(),
                    lease_until=None,
                )
            )

    def job_depth(self) -> int:
        with self._read() as s:
            return int(
                s.scalar(
                    select(func.count()).select_from(m.Job).where(m.Job.state.in_(["pending", "running"]))
                )
                or 0
            )

    def get_job(self, job_id: str) -> JobRecord | None:
        with self._read() as s:
            j = s.get(m.Job, job_id)
            return None if j is None else _job(j)

    def list_jobs(self, *, state: str | None = None, limit: int = 100) -> list[JobRecord]:
        q = select(m.Job)
        if state:
            q = q.where(m.Job.state == state)
        with self._read() as s:
            return [_job(j) for j in s.scalars(q.order_by(m.Job.created_at.desc()).limit(limit))]

    def release_claims(self) -> int:
        with self._write() as s:
            r = s.execute(
                update(m.Job)
                .where(m.Job.state == "running")
                .values(state="pending", owner=None, lease_until=None)
            )
            return int(getattr(r, "rowcount", 0) or 0)

    # ------------------------------------------------------------------ the Celery ledger
    def ledger_queued(self, job_id: str, kind: str) -> None:
        t = time.time()
        try:
            with self._write() as s:
                s.execute(
                    insert(LEDGER).values(job_id=job_id, kind=kind, state="queued", attempts=0, updated_at=t)
                )
        except IntegrityError:
            # A resend: the attempts and the lease stay; the clock of resend_pending() restarts.
            with self._write() as s:
                s.execute(
                    update(LEDGER)
                    .where(LEDGER.c.job_id == job_id, LEDGER.c.state.in_(["queued", "running", "retry"]))
                    .values(updated_at=t)
                )

    def ledger_state(self, job_id: str) -> tuple[str, int] | None:
        with self._read() as s:
            r = s.execute(select(LEDGER.c.state, LEDGER.c.attempts).where(LEDGER.c.job_id == job_id)).first()
        return None if r is None else (str(r[0]), int(r[1]))

    def ledger_info(self, job_id: str) -> tuple[str, float] | None:
        with self._read() as s:
            r = s.execute(
                select(LEDGER.c.state, LEDGER.c.updated_at).where(LEDGER.c.job_id == job_id)
            ).first()
        return None if r is None else (str(r[0]), float(r[1]))

    def ledger_claim(self, job_id: str, worker: str, lease: float) -> tuple[str, int] | None:
        t = time.time()
        j = LEDGER.c
        with self._write() as s:
            # One conditional UPDATE is atomic on SQLite and PostgreSQL alike: of two deliveries
            # racing for the same job, exactly one sees rowcount 1.
            r = s.execute(
                update(LEDGER)
                .where(j.job_id == job_id)
                .where(j.state.in_(["queued", "retry"]) | ((j.state == "running") & (j.lease_until < t)))
                .values(
                    state="running",
                    attempts=j.attempts + 1,
                    worker=worker,
                    lease_until=t + lease,
                    updated_at=t,
                )
            )
            if int(getattr(r, "rowcount", 0) or 0) == 1:
                return "run", int(s.execute(select(j.attempts).where(j.job_id == job_id)).scalar_one())
            row = s.execute(select(j.state, j.attempts).where(j.job_id == job_id)).first()
        return None if row is None else (str(row[0]), int(row[1]))

    def ledger_mark(self, job_id: str, state: str, error: str | None = None) -> None:
        with self._write() as s:
            s.execute(
                update(LEDGER)
                .where(LEDGER.c.job_id == job_id)
                .values(state=state, error=error, lease_until=None, updated_at=time.time())
            )

    def advertise_worker(self, worker: str, releases: Iterable[str]) -> None:
        t = time.time()
        rel = ",".join(sorted(set(releases)))
        with self._write() as s:
            r = s.execute(update(WORKERS).where(WORKERS.c.name == worker).values(releases=rel, heartbeat=t))
            if int(getattr(r, "rowcount", 0) or 0):
                return
        # A first heartbeat; a second one racing it (the same name twice) has made the row already.
        with contextlib.suppress(IntegrityError), self._write() as s:
            s.execute(insert(WORKERS).values(name=worker, releases=rel, heartbeat=t))

    def live_releases(self, max_age: float = 120.0) -> set[str]:
        with self._read() as s:
            rows = s.execute(
                select(WORKERS.c.releases).where(WORKERS.c.heartbeat > time.time() - max_age)
            ).all()
        return {r for (v,) in rows for r in str(v).split(",") if r}
