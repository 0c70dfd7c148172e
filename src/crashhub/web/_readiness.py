"""The fleet's kernels and their readiness reports: what the kernels page, its report page and
``GET /api/v1/kernels/readiness`` show.

Read from the store each time: the newest report of each release checked (``store.readiness``) and
the kernels hosts report running or crashes came from (``store.hosts.list_kernels``).  Whether a
kernel is ready is the report's own verdict (``ReadinessReport.ready``), derived when read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from crashhub.model import JsonObject
from crashhub.readiness import ReadinessReport, report_of

if TYPE_CHECKING:
    from crashhub.store import KernelRecord, Store


@dataclass(frozen=True, slots=True)
class FleetReadiness:
    reports: dict[str, ReadinessReport]  # release -> its newest report
    unchecked: tuple[KernelRecord, ...]  # kernels of the fleet with no report, most crashes first


def fleet_readiness(store: Store) -> FleetReadiness:
    reports = {r.release: report_of(r) for r in store.readiness.latest_per_release()}
    unchecked = sorted((k for k in store.hosts.list_kernels() if k.release not in reports),
                       key=lambda k: (-k.crashes, -k.hosts, k.release))
    return FleetReadiness(reports, tuple(unchecked))


def summary(r: ReadinessReport) -> JsonObject:
    """One line of the list: the verdict, each kind's, the first advice, and the setup checked."""
    return {"release": r.release, "ready": r.ready, "checked_at": r.checked_at,
            "kinds": {k.kind: k.ok for k in r.kinds}, "advice": r.advice[:1],
            "makedumpfile": r.makedumpfile, "core_collector": r.core_collector, "crashkernel": r.crashkernel,
            "packages": r.packages}
