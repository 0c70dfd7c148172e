"""The fleet: hosts by their crashes, kernels with whether their debuginfo is here."""

# ruff: noqa: PLC0415 - the debuginfo code loads only when the kernels are listed

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

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
    rows = fleet_kernels(ui.store, di, ui.ctx.settings.vmlinux_dir)
    return ui.render(request, "kernels.html", {"kernels": rows})
