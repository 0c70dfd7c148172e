"""API v1 for deep analysis and debuginfo, and the debuginfod protocol served from the hub.

- ``POST /api/v1/crashes/{id}/analyze`` (admin): queue the analysis job for a stored crash now.
- ``GET /api/v1/debuginfo`` (read): what the debuginfo store holds, and every kernel seen in crashes
  or host reports with whether its debuginfo is here (``alert`` where it is not).
- ``/buildid/<id>/debuginfo|executable``, ``/source/<path>``: the debuginfod protocol over the same
  store, so engineers' drgn, gdb and crash can use the hub (``DEBUGINFOD_URLS=http://hub:8470``).
  These routes carry no token, as debuginfod clients send none: a hub that must not hand out its
  kernels' debuginfo turns them off with ``debuginfod = false``.
"""

# ruff: noqa: PLC0415 - the debuginfo package loads only when these routes are used

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from crashhub.web import auth

if TYPE_CHECKING:
    from crashhub.web.app import Context


def install(app: FastAPI, ctx: Context) -> None:
    from crashhub.debuginfo import DebuginfoStore
    from crashhub.web.app import ApiError

    store, s = ctx.hub.store, ctx.settings
    debuginfo = DebuginfoStore(s.data_dir / "debuginfo")

    def need(request: Request, what: str) -> None:
        auth.check(store, request.headers.get("authorization"), what)

    @app.post("/api/v1/crashes/{crash_id}/analyze", tags=["crashes"], status_code=202)
    def analyze_now(request: Request, crash_id: str) -> JSONResponse:
        need(request, "admin")
        crash = store.crashes.get_crash(crash_id)
        if crash is None:
            raise ApiError(404, f"no crash {crash_id!r}")
        if not crash.dump_kept:
            why = "its dump was evicted (retention)" if crash.has_vmcore else "it has no dump"
            raise ApiError(409, f"crash {crash_id}: nothing to analyse, {why}")
        # A new key per request: asking again re-runs the analysis (the result replaces the old one).
        job = ctx.queue.submit("analyze", {"crash_id": crash_id}, key=f"analyze:{crash_id}:{time.time_ns()}")
        return JSONResponse({"job": job, "crash": crash_id, "state": "queued"}, status_code=202)

    @app.get("/api/v1/debuginfo", tags=["debuginfo"])
    def debuginfo_list(request: Request) -> dict[str, Any]:
        need(request, "read")
        kernels = [{"release": k.release, "build_id": next(iter(k.build_ids), None)}
                   for k in store.hosts.list_kernels()]
        return {
            "entries": [e.to_dict() for e in debuginfo.list()],
            "kernels": debuginfo.readiness(kernels),
        }

    if bool(s.debuginfod):
        from crashhub.debuginfo.debuginfod import router

        app.include_router(router(debuginfo))
