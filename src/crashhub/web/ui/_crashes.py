"""A crash's page, its files (a dump for admins only, audited), pinning its dump and its bundle."""

# ruff: noqa: PLC0415 - imports inside functions are deliberate: bundle code loads on use.

from __future__ import annotations

import os
from collections.abc import Callable

from fastapi import APIRouter, Form, Request
from fastapi.responses import FileResponse, Response

from crashhub import i18n
from crashhub.errors import PageError, Redirect
from crashhub.kernel import TAINT
from crashhub.model import JsonObject
from crashhub.web.ui import views
from crashhub.web.ui.base import UIState, page

router = APIRouter()


def _taint(report: JsonObject | None, _: Callable[[str], str]) -> JsonObject:
    """The report's taint with each flag's meaning in the reader's language (the stored ``flags``
    are English sentences; the letters name the kernel's table, whose meanings the catalog has)."""
    taint = (report or {}).get("taint") or {}
    letters = str(taint.get("letters") or "")
    if not letters or not all(ch in TAINT for ch in letters):
        return dict(taint)
    return {**taint, "flags": [f"{ch}: {_(TAINT[ch].meaning)}" for ch in letters]}


@router.get("/ui/crashes/{crash_id}", include_in_schema=False)
@page
def crash(request: Request, ui: UIState, crash_id: str) -> Response:
    ui.require(request)
    c = ui.store.crashes.get_crash(crash_id)
    if c is None:
        raise PageError(404, "No crash {id}.", id=repr(crash_id))
    # The KB of now, not of the crash's arrival: an entry written since answers here at once.
    kv = ui.ctx.kb.crash_view(ui.store, c)
    best = kv.best
    entry = ui.ctx.kb.get(best.entry_id) if best else None
    entry = entry.localized(ui.lang(request)) if entry is not None else None
    ctx = {
        "c": c,
        "kv": kv,
        "best": best,
        "entry": entry,
        "kbs": kv.answer,
        "oops": views.oops_excerpt(c.report),
        "frames": views.frames_of(c.report),
        "facts": views.dump_facts(c.dump_facts, i18n.gettext(ui.lang(request))),
        "an": views.analysis_view(c.analysis, c.report, ui.lang(request)),
        "taint": _taint(c.report, i18n.gettext(ui.lang(request))),
    }
    return ui.render(request, "crash.html", ctx)


@router.post("/ui/crashes/{crash_id}/pin", include_in_schema=False)
@page
def pin(request: Request, ui: UIState, crash_id: str, csrf: str = Form(""), on: int = Form(1)) -> Response:
    s = ui.require(request, admin=True)
    ui.check_csrf(request, csrf)
    c = ui.store.crashes.get_crash(crash_id)
    if c is None:
        raise PageError(404, "No crash {id}.", id=repr(crash_id))
    if on and not c.dump_kept:
        raise PageError(409, "This crash has no dump left to pin.")
    ui.guard("pin", lambda: ui.store.retention.pin_dump(crash_id, s.actor, pinned=bool(on)))
    raise Redirect(f"/ui/crashes/{crash_id}#dump")


@router.get("/ui/crashes/{crash_id}/files/{name}", include_in_schema=False)
@page
def crash_file(request: Request, ui: UIState, crash_id: str, name: str) -> Response:
    s = ui.require(request)
    c = ui.store.crashes.get_crash(crash_id)
    f = next((x for x in c.files if x.name == name), None) if c else None
    if c is None or f is None:
        raise PageError(404, "Crash {id} has no file {name}.", id=repr(crash_id), name=repr(name))
    if f.role == "vmcore":
        if not s.is_admin:
            raise PageError(403, "Only admins may download dumps.")
        client = request.client.host if request.client else None
        detail = {"size": f.size, "client": client}
        ui.store.access.audit(s.actor, "download-dump", f"{crash_id}/{name}", detail)
    media = "application/octet-stream" if f.role == "vmcore" else "text/plain; charset=utf-8"
    return FileResponse(ui.ctx.hub.blobs.local_path(f.digest), media_type=media, filename=name)


@router.get("/ui/crashes/{crash_id}/bundle", include_in_schema=False)
@page
def bundle(request: Request, ui: UIState, crash_id: str, dump: int = 0) -> Response:
    s = ui.require(request, admin=bool(dump))
    import tempfile
    from pathlib import Path

    from starlette.background import BackgroundTask

    from crashhub.report import make_bundle

    fd, name = tempfile.mkstemp(prefix="crashhub-bundle-", suffix=".tar.gz")
    os.close(fd)
    out = Path(name)
    ui.guard("bundle", lambda: make_bundle(ui.ctx.hub, ui.ctx.kb, crash_id, out, with_dump=bool(dump)))
    ui.store.access.audit(s.actor, "bundle" + ("-with-dump" if dump else ""), crash_id)
    return FileResponse(
        out,
        media_type="application/gzip",
        filename=f"crashhub-{crash_id}.tar.gz",
        background=BackgroundTask(out.unlink, missing_ok=True),
    )
