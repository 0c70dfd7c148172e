"""API v1 (see docs/hub.md and the host-agent contract), one router per resource.

``install(app, ctx)`` builds the state the routes share (rate limits, resumable uploads, the debuginfo
store) on ``app.state.api`` and mounts the routers; each handler is given the hub context, the store
and the caller's token by ``Depends`` (``_deps``), so a router holds no state of its own.

The debuginfod protocol (``/buildid/<id>/debuginfo|executable``, ``/source/<path>``) is served over
the same debuginfo store, so engineers' drgn, gdb and crash can use the hub
(``DEBUGINFOD_URLS=http://hub:8470``).  These routes carry no token, as debuginfod clients send none:
a hub that must not hand out its kernels' debuginfo turns them off with ``debuginfod = false``.
"""

# ruff: noqa: PLC0415 - the debuginfod router loads only when it is served

from __future__ import annotations

from fastapi import FastAPI

from crashhub.web._app import Context
from crashhub.web.api import _admin, _buckets, _crashes, _debuginfo, _hosts, _kb, _readiness, _uploads
from crashhub.web.api._deps import MAX_OFFSET, ApiState, build_state
from crashhub.web.api._uploads import upload_answer

__all__ = ["MAX_OFFSET", "ApiState", "install", "upload_answer"]

# In the order they were always served; no two of them answer the same method and path.
_ROUTERS = (
    _uploads.router,
    _crashes.router,
    _buckets.router,
    _kb.router,
    _readiness.router,  # before _hosts: /api/v1/kernels/readiness is not a release
    _hosts.router,
    _admin.router,
    _debuginfo.router,
)


def install(app: FastAPI, ctx: Context) -> None:
    state = build_state(ctx)
    app.state.api = state
    for router in _ROUTERS:
        app.include_router(router)
    if ctx.settings.debuginfod:
        from crashhub.debuginfo import router as debuginfod

        app.include_router(debuginfod(state.debuginfo))
