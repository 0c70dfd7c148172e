"""Hosts as their agents report them, and the kernels seen on hosts and in crashes."""

from __future__ import annotations

import abc

from crashhub.model import JsonObject
from crashhub.store._base import HostRecord, KernelRecord


class Hosts(abc.ABC):
    """One transaction per method."""

    @abc.abstractmethod
    def report_host(
        self,
        name: str,
        *,
        release: str | None,
        build_id: str | None,
        hardware: str | None,
        machine: str | None,
        agent_version: str | None,
        kdump: JsonObject | None,
        address: str | None = None,
    ) -> None:
        """Record a host's report; ``address``, the IP the report came from, replaces the one
        recorded unless None (a report that came through no network keeps it)."""

    @abc.abstractmethod
    def host_addresses(self) -> dict[str, str]:
        """IP -> host, for every address exactly one host's report came from last (an address
        several hosts share, behind NAT or a reused lease, names none of them)."""

    @abc.abstractmethod
    def list_hosts(self) -> list[HostRecord]: ...

    @abc.abstractmethod
    def list_kernels(self) -> list[KernelRecord]: ...
