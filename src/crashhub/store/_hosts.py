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
    ) -> None: ...

    @abc.abstractmethod
    def list_hosts(self) -> list[HostRecord]: ...

    @abc.abstractmethod
    def list_kernels(self) -> list[KernelRecord]: ...
