"""Deep analysis and debuginfo (see ``crashhub.web.api``'s docstring for the debuginfod routes).

- ``POST /api/v1/crashes/{id}/analyze`` (admin): queue the analysis job for a stored crash now.
- ``GET /api/v1/debuginfo`` (read): what the debuginfo store holds, and every kernel seen in crashes
  or host reports with whether its debuginfo is here (``alert`` where it is not).
"""

from __future__ import annotations

import time

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from crashhub.errors import ApiError
from crashhub.model import JsonObject
from crashhub.web.api._deps import Admin, Ctx, HubStore, Reader, State

router = APIRouter()


@router.post("/api/v1/crashes/{crash_id}/analyze", tags=["crashes"], status_code=202)
def analyze_now(_tok: Admin, ctx: Ctx, crash_id: str) -> JSONResponse:
    store = ctx.hub.store
    crash = store.crashes.get_crash(crash_id)
    if crash is None:
        raise ApiError(404, f"no crash {crash_id!r}")
    if not crash.dump_kept:
        why = "its dump was evicted (retention)" if crash.has_vmcore else "it has no dump"
        raise ApiError(409, f"crash {crash_id}: nothing to analyse, {why}")
    # A new key per request: asking again re-runs the analysis (the result replaces the old one).
    job = ctx.queue.submit("analyze", {"crash_id": crash_id}, key=f"analyze:{crash_id}:{time.time_ns()}")
    return JSONResponse({"job": job, "crash": crash_id, "state": "queued"}, status_code=202)


@router.get("/api/v1/debuginfo", tags=["debuginfo"])
def debuginfo_list(_tok: Reader, store: HubStore, state: State) -> JsonObject:
    kernels = [{"release": k.release, "build_id": next(iter(k.build_ids), None)}
               for k in store.hosts.list_kernels()]
    return {
        "entries": [e.to_dict() for e in state.debuginfo.list()],
        "kernels": state.debuginfo.readiness(kernels),
    }
