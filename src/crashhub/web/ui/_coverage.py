"""Coverage: which channels (kdump, pstore, netconsole) saw the fleet's crashes, per host and per
kernel, and where kdump failed (a crash seen through netconsole or pstore whose dump never came),
beside each host's kdump check as its agent reported it."""

from __future__ import annotations

import time
from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import Response

from crashhub.store import Coverage, CoverageRow, fleet_coverage
from crashhub.web._fleet import KdumpView, kdump_check
from crashhub.web.ui.base import UI, UIState, page

router = APIRouter()
PANEL_HOSTS = 5  # the dashboard's panel names the hosts where kdump failed most


@dataclass(frozen=True, slots=True)
class HostCoverage:
    row: CoverageRow
    kdump: KdumpView | None  # the agent's kdump check: why its dumps may not come


def coverage_of(ui: UI) -> Coverage:
    """The fleet's coverage, kept a minute (one read of the window's crashes and the hosts)."""
    s = ui.ctx.settings
    def make() -> Coverage:
        return fleet_coverage(ui.store, now=time.time(), days=s.coverage_days, grace_hours=s.dump_grace_hours)

    cov: Coverage = ui.cached("coverage", 60.0, make)
    return cov


def host_rows(cov: Coverage, limit: int | None = None) -> list[HostCoverage]:
    rows = cov.hosts if limit is None else tuple(r for r in cov.hosts if r.dump_missing)[:limit]
    return [HostCoverage(r, kdump_check(r.kdump)) for r in rows]


@router.get("/ui/coverage", include_in_schema=False)
@page
def coverage(request: Request, ui: UIState) -> Response:
    ui.require(request)
    cov = coverage_of(ui)
    return ui.render(request, "coverage.html", {
        "cov": cov, "hosts": host_rows(cov), "days": ui.ctx.settings.coverage_days,
    })
