"""The hosts repository on SQL: host reports, and hosts and kernels as reports and crashes show them."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from crashhub.store import _models as m
from crashhub.store._base import HostRecord, KernelRecord, now
from crashhub.store._hosts import Hosts
from crashhub.store._sql import SqlRepository


class SqlHosts(SqlRepository, Hosts):
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
        address: str | None = None,
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
                                address=address,
                            )
                        )
                    else:
                        h.last_seen, h.release, h.build_id, h.hardware = t, release, build_id, hardware
                        h.machine, h.agent_version, h.kdump = machine, agent_version, kdump
                        if address is not None:
                            h.address = address
                return
            except IntegrityError:
                if attempt:
                    raise

    def host_addresses(self) -> dict[str, str]:
        with self._read() as s:
            rows = s.execute(select(m.Host.address, m.Host.name).where(m.Host.address.is_not(None))).all()
        seen: dict[str, str] = {}
        shared: set[str] = set()
        for addr, name in rows:
            if addr is None:
                continue
            if addr in seen:
                shared.add(addr)
            seen[addr] = name
        return {a: n for a, n in seen.items() if a not in shared}

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
                    address=h.address,
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
