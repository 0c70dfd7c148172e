"""A crash's page, its files (a dump for admins only, audited), pinning its dump and its bundle."""

# ruff: noqa: PLC0415 - imports inside functions are deliberate: bundle code loads on use.

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import FileResponse, Response

from crashhub import i18n
from crashhub.errors import PageError, Redirect
from crashhub.ingest import crash_reports, panic_line
from crashhub.kernel import TAINT
from crashhub.model import JsonObject, LogReport
from crashhub.store import unverified
from crashhub.web.ui import views
from crashhub.web.ui._source import SourceLinks, source_tree
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


@dataclass(frozen=True, slots=True)
class ReportView:
    """One report of the log as the "Reports in this log" section lists it (``n`` counts from 1)."""

    n: int
    primary: bool
    kind: str
    title: str
    guilty: str | None
    first_line: int  # 1-based, as an editor numbers the log
    last_line: int
    panic: str | None  # the panic this report raised (folded into it by triage, or its own header)
    panic_at: int | None  # the excerpt's line that prints it (a panic raised far later is not in it)
    stopped_by: int | None  # on the primary: the later report that stopped the machine
    stopped_panic: bool  # ... and whether that report printed a panic
    bug_in: int | None  # on that report: the primary, the bug behind it
    frames: list[dict[str, Any]]
    excerpt: list[views.Line]


def _stopper(reports: tuple[LogReport, ...], first: int | None) -> int | None:
    """The report after the primary that stopped the machine (SysRq-c after a BUG, the oops a KASAN
    report led to); None when the primary is fatal itself: then it is its own story."""
    if first is None or reports[first].report.fatal:
        return None
    return next((i for i in range(first + 1, len(reports)) if reports[i].report.fatal), None)


def report_views(reports: tuple[LogReport, ...]) -> list[ReportView]:
    """The log's reports in log order, the primary linked to the crash that stopped the machine."""
    first = next((i for i, r in enumerate(reports) if r.primary), None)
    ends = _stopper(reports, first)
    out = []
    for i, lr in enumerate(reports):
        r, d = lr.report, lr.report.to_dict()
        g = r.guilty or r.rip
        excerpt = views.oops_excerpt(d)
        panic = panic_line(r)
        at = next((ln.no for ln in excerpt if panic and panic in ln.text), None)
        out.append(ReportView(
            n=i + 1, primary=lr.primary, kind=r.kind, title=r.title,
            guilty=g.function if g is not None else None,
            first_line=r.start_line + 1, last_line=r.end_line + 1, panic=panic, panic_at=at,
            stopped_by=ends + 1 if i == first and ends is not None else None,
            stopped_panic=ends is not None and panic_line(reports[ends].report) is not None,
            bug_in=first + 1 if i == ends and first is not None else None,
            frames=views.frames_of(d), excerpt=excerpt,
        ))
    return out


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
    reports = crash_reports(ui.store.crashes, ui.ctx.hub.blobs, c)
    channels = ui.store.crashes.crash_channels(c.id)
    ctx = {
        "channels": channels,
        "unverified": unverified(ch.channel for ch in channels),
        "best_log": next((f.name for f in c.files if f.role in ("log", "log_from_dump")), None),
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
        "reports": report_views(reports),
        "src": SourceLinks(c.release, source_tree(ui.ctx.settings, c.release)),
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
