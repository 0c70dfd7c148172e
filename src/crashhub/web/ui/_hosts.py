"""The fleet: hosts by their crashes, kernels with whether their debuginfo is here and whether a
kernel check found their crashes captured and read (``crashhub kernel check``)."""

# ruff: noqa: PLC0415 - the debuginfo code loads only when the kernels are listed

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from crashhub.errors import PageError
from crashhub.web._fleet import kdump_check
from crashhub.web.ui.base import UIState, page

router = APIRouter()


@router.get("/ui/hosts", include_in_schema=False)
@page
def hosts(request: Request, ui: UIState) -> Response:
    ui.require(request)
    rows = sorted(ui.store.hosts.list_hosts(), key=lambda h: (-h.crashes, h.name))
    return ui.render(request, "hosts.html", {"hosts": [(h, kdump_check(h.kdump)) for h in rows]})


@router.get("/ui/kernels", include_in_schema=False)
@page
def kernels_page(request: Request, ui: UIState) -> Response:
    ui.require(request)
    from crashhub.debuginfo import DebuginfoStore
    from crashhub.web._fleet import fleet_kernels

    di = DebuginfoStore(ui.ctx.settings.data_dir / "debuginfo")
    from crashhub.web._readiness import fleet_readiness

    rows = fleet_kernels(ui.store, di, ui.ctx.settings.vmlinux_dir)
    return ui.render(request, "kernels.html", {"kernels": rows, "readiness": fleet_readiness(ui.store)})


@router.get("/ui/kernels/{release}/readiness", include_in_schema=False)
@page
def kernel_readiness(request: Request, ui: UIState, release: str) -> Response:
    ui.require(request)
    from crashhub.readiness import report_of

    rec = ui.store.readiness.latest(release) if len(release) <= 255 else None
    if rec is None:
        raise PageError(404, "No readiness report for kernel {release}: check it with crashhub kernel check.",
                        release=release[:255])
    others = [report_of(o) for o in ui.store.readiness.list(release=release, limit=20)]
    return ui.render(request, "kernel_readiness.html", {"r": report_of(rec), "others": others})
