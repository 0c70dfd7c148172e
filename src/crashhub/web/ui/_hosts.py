"""The fleet: hosts by their crashes, kernels with whether their debuginfo is here."""

# ruff: noqa: PLC0415 - the jobs package loads only when the kernels are listed

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from crashhub.web.ui.base import UIState, page

router = APIRouter()


@router.get("/ui/hosts", include_in_schema=False)
@page
def hosts(request: Request, ui: UIState) -> Response:
    ui.require(request)
    rows = sorted(ui.store.hosts.list_hosts(), key=lambda h: (-h.crashes, h.name))
    return ui.render(request, "hosts.html", {"hosts": rows})


@router.get("/ui/kernels", include_in_schema=False)
@page
def kernels_page(request: Request, ui: UIState) -> Response:
    ui.require(request)
    from crashhub.jobs import find_vmlinux

    vdir = ui.ctx.settings.vmlinux_dir
    rows = [
        {"k": k, "debuginfo": find_vmlinux(vdir, k.release) is not None}
        for k in sorted(ui.store.hosts.list_kernels(), key=lambda k: (-k.crashes, k.release))
    ]
    return ui.render(request, "kernels.html", {"kernels": rows})
