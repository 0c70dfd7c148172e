"""Operational tables of the SQL store: tokens, audit, hosts and kernels, uploads, jobs, spool items."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from crashhub.store import models as m
from crashhub.store.base import (
    AuditRecord,
    HostRecord,
    JobRecord,
    KernelRecord,
    TokenRecord,
    UploadRecord,
    now,
)
from crashhub.store.sql_base import SqlBase, _job, new_id


class Operations(SqlBase):
    # ------------------------------------------------------------------ tokens, audit
    def create_token(
        self, name: str, role: str, token_hash: str, host: str | None = None
    ) -> TokenRecord:
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

    # ------------------------------------------------------------------ hosts, kernels
    def report_host(
        self,
        name: str,
        *,
        release: str | None,
        build_id: str | None,
        hardware: str | None,
        machine: str | None,
        agent_version: str | None,
        kdump: dict[str, Any] | None,
    ) -> None:
        t = now()
        for attempt in range(2):
            try:
                with self._write() as s:
                    h = s.get(m.Host, name)
                    if h is None:
                        s.add(
                            m.Host(
                                name=name,
                                first_seen=t,
                                last_seen=t,
                                release=release,
                                build_id=build_id,
                                hardware=hardware,
                                machine=machine,
                                agent_version=agent_version,
                                kdump=kdump,
                            )
                        )
                    else:
                        h.last_seen, h.release, h.build_id, h.hardware = t, release, build_id, hardware
                        h.machine, h.agent_version, h.kdump = machine, agent_version, kdump
                return
            except IntegrityError:
                if attempt:
                    raise

    def list_hosts(self) -> list[HostRecord]:
        with self._read() as s:
            counts: dict[str, int] = dict(
                (r[0], r[1])
                for r in s.execute(select(m.Crash.host, func.count()).group_by(m.Crash.host)).all()
            )
            seen: dict[str, float] = dict(
                (r[0], r[1])
                for r in s.execute(
                    select(m.Crash.host, func.min(m.Crash.received_at)).group_by(m.Crash.host)
                ).all()
            )
            last: dict[str, float] = dict(
                (r[0], r[1])
                for r in s.execute(
                    select(m.Crash.host, func.max(m.Crash.received_at)).group_by(m.Crash.host)
                ).all()
            )
            out: dict[str, HostRecord] = {}
            for h in s.scalars(select(m.Host)):
                out[h.name] = HostRecord(
                    name=h.name,
                    first_seen=min(h.first_seen, seen.get(h.name, h.first_seen)),
                    last_seen=max(h.last_seen, last.get(h.name, h.last_seen)),
                    release=h.release,
                    build_id=h.build_id,
                    hardware=h.hardware,
                    machine=h.machine,
                    agent_version=h.agent_version,
                    kdump=h.kdump,
                    crashes=counts.get(h.name, 0),
                )
            for name, n in counts.items():
                if name not in out:
                    out[name] = HostRecord(
                        name=name,
                        first_seen=seen[name],
                        last_seen=last[name],
                        release=None,
                        build_id=None,
                        hardware=None,
                        machine=None,
                        agent_version=None,
                        kdump=None,
                        crashes=n,
                    )
            return sorted(out.values(), key=lambda r: r.name)

    def list_kernels(self) -> list[KernelRecord]:
        with self._read() as s:
            crashes: dict[str, int] = dict(
                (str(r[0]), r[1])
                for r in s.execute(
                    select(m.Crash.release, func.count())
                    .where(m.Crash.release.is_not(None))
                    .group_by(m.Crash.release)
                ).all()
            )
            hosts: dict[str, set[str]] = defaultdict(set)
            builds: dict[str, set[str]] = defaultdict(set)
            for rel, host in s.execute(
                select(m.Crash.release, m.Crash.host).where(m.Crash.release.is_not(None)).distinct()
            ):
                hosts[str(rel)].add(host)
            for h in s.scalars(select(m.Host).where(m.Host.release.is_not(None))):
                assert h.release is not None
                hosts[h.release].add(h.name)
                if h.build_id:
                    builds[h.release].add(h.build_id)
            return [
                KernelRecord(
                    release=r,
                    crashes=crashes.get(r, 0),
                    hosts=len(hosts[r]),
                    build_ids=tuple(sorted(builds[r])),
                )
                for r in sorted(set(crashes) | set(hosts))
            ]

    # ------------------------------------------------------------------ uploads
    def get_upload(self, crash_id: str) -> UploadRecord | None:
        with self._read() as s:
            u = s.get(m.Upload, crash_id)
            return (
                None if u is None else UploadRecord(crash_id=u.crash_id, size=u.size, started_at=u.started_at)
            )

    def start_upload(self, crash_id: str, size: int | None) -> UploadRecord:
        with self._write() as s:
            u = s.get(m.Upload, crash_id)
            if u is None:
                u = m.Upload(crash_id=crash_id, size=size, started_at=now())
                s.add(u)
            elif size is not None:
                u.size = size
            return UploadRecord(crash_id=u.crash_id, size=u.size, started_at=u.started_at)

    def end_upload(self, crash_id: str) -> None:
        with self._write() as s:
            s.execute(delete(m.Upload).where(m.Upload.crash_id == crash_id))

    def claim_upload(self, crash_id: str, owner: str, lease: float) -> bool:
        t = now()
        try:
            with self._write() as s:
                if s.get(m.Upload, crash_id) is None:
                    up = m.Upload(crash_id=crash_id, size=None, started_at=t)
                    up.owner, up.lease_until = owner, t + lease
                    s.add(up)
                    return True
        except IntegrityError:
            pass  # another node made it first: compete for its lease below
        # One conditional UPDATE, so two nodes racing for an expired lease cannot both win.
        with self._write() as s:
            r = s.execute(
                update(m.Upload)
                .where(
                    m.Upload.crash_id == crash_id,
                    (m.Upload.owner.is_(None)) | (m.Upload.owner == owner) | (m.Upload.lease_until < t),
                )
                .values(owner=owner, lease_until=t + lease)
            )
            return int(getattr(r, "rowcount", 0) or 0) == 1

    def release_upload(self, crash_id: str, owner: str) -> None:
        with self._write() as s:
            s.execute(
                update(m.Upload)
                .where(m.Upload.crash_id == crash_id, m.Upload.owner == owner)
                .values(owner=None, lease_until=None)
            )

    def list_uploads(self) -> list[UploadRecord]:
        with self._read() as s:
            rows = s.scalars(select(m.Upload).order_by(m.Upload.started_at)).all()
            return [UploadRecord(crash_id=u.crash_id, size=u.size, started_at=u.started_at) for u in rows]

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

    # ------------------------------------------------------------------ jobs
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

    def list_jobs(self, *, state: str | None = None, limit: int = 100) -> list[JobRecord]:
        q = select(m.Job)
        if state:
            q = q.where(m.Job.state == state)
        with self._read() as s:
            return [_job(j) for j in s.scalars(q.order_by(m.Job.created_at.desc()).limit(limit))]

    def release_claims(self) -> int:
        with self._write() as s:
            a = s.execute(
                update(m.Job)
                .where(m.Job.state == "running")
                .values(state="pending", owner=None, lease_until=None)
            )
            b = s.execute(delete(m.SpoolItem).where(m.SpoolItem.state == "running"))
            # Upload leases are freed too, but not counted: an upload record outlives its leases.
            held = m.Upload.owner.is_not(None)
            s.execute(update(m.Upload).where(held).values(owner=None, lease_until=None))
            return int(getattr(a, "rowcount", 0) or 0) + int(getattr(b, "rowcount", 0) or 0)

    # ------------------------------------------------------------------ spool items
    def claim_spool_item(self, key: str, owner: str, lease: float) -> bool:
        t = now()
        try:
            with self._write() as s:
                it = s.get(m.SpoolItem, key)
                if it is None:
                    s.add(
                        m.SpoolItem(
                            key=key, state="running", owner=owner, lease_until=t + lease, updated_at=t
                        )
                    )
                    return True
                if it.state == "running" and (it.lease_until or 0) < t:
                    it.owner, it.lease_until, it.updated_at = owner, t + lease, t
                    return True
                return False
        except IntegrityError:
            return False

    def finish_spool_item(self, key: str, *, crash_id: str | None, error: str | None) -> None:
        with self._write() as s:
            it = s.get(m.SpoolItem, key)
            if it is None:
                it = m.SpoolItem(key=key, state="running", updated_at=now())
                s.add(it)
            it.state = "failed" if error else "done"
            it.crash_id, it.error, it.lease_until, it.updated_at = crash_id, error, None, now()

    def spool_item_state(self, key: str) -> str | None:
        with self._read() as s:
            it = s.get(m.SpoolItem, key)
            return None if it is None else it.state

    def release_spool_item(self, key: str) -> None:
        with self._write() as s:
            s.execute(delete(m.SpoolItem).where(m.SpoolItem.key == key, m.SpoolItem.state == "running"))

    def renew_spool_item(self, key: str, owner: str, lease: float) -> bool:
        t = now()
        with self._write() as s:
            r = s.execute(
                update(m.SpoolItem)
                .where(m.SpoolItem.key == key, m.SpoolItem.state == "running", m.SpoolItem.owner == owner)
                .values(lease_until=t + lease, updated_at=t)
            )
            return int(getattr(r, "rowcount", 0) or 0) == 1


def _token(t: m.Token) -> TokenRecord:
    return TokenRecord(
        id=t.id, name=t.name, role=t.role, created_at=t.created_at, revoked=t.revoked, host=t.host
    )
