"""Kernel readiness (``crashhub kernel check`` as a job; docs/hub.md, "Kernel readiness").

- ``POST /api/v1/kernels/check`` (admin): the kernel's packages (``package``, repeated), optionally
  its ``debuginfo`` package and the fleet's ``makedumpfile``, as multipart files, with the text fields
  ``core_collector``, ``crashkernel`` and ``kinds``.  Checked, stored as blobs and queued as the
  ``kernel-check`` job: 202 with the job's id.  A refused request keeps nothing.
- ``GET /api/v1/kernels/check/{job}`` (admin): the job's state, and its result once done.
- ``GET /api/v1/kernels/{release}/readiness`` (read): the newest report of a kernel.
- ``GET /api/v1/kernels/readiness`` (read): the newest report of every kernel checked, summed up,
  and the fleet's kernels that have none.
"""



from __future__ import annotations

import time

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from crashhub.errors import ApiError, InputError
from crashhub.model import JsonObject
from crashhub.readiness import (
    FILE_ROLES,
    MAX_PACKAGES,
    CheckFile,
    CheckKind,
    CheckRequest,
    FileRole,
    check_collector,
    check_crashkernel,
    check_name,
    parse_kinds,
    report_of,
)
from crashhub.store import Blob, TokenRecord
from crashhub.web import _multipart as multipart
from crashhub.web._app import Context
from crashhub.web._readiness import fleet_readiness, summary
from crashhub.web.api._deps import Admin, Ctx, HubStore, Reader, actor

router = APIRouter(tags=["kernels"])
JOB = "kernel-check"
DEFAULT_COLLECTOR = "makedumpfile -l --message-level 7 -d 31"
DEFAULT_CRASHKERNEL = "256M"
_TEXTS = {"core_collector": 512, "crashkernel": 128, "kinds": 128}

_CHECK_FORM = {
    "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
        "type": "object", "required": ["package"],
        "properties": {
            "package": {"type": "array", "items": {"type": "string", "format": "binary"},
                        "description": "the kernel as shipped: a linux-image .deb, or the kernel-core and "
                                       "kernel-modules RPMs (repeat the field)"},
            "debuginfo": {"type": "string", "format": "binary", "description": "its debuginfo package"},
            "makedumpfile": {"type": "string", "format": "binary",
                             "description": "the fleet's makedumpfile (a binary or a package)"},
            "core_collector": {"type": "string", "description": f"default: {DEFAULT_COLLECTOR}"},
            "crashkernel": {"type": "string", "description": f"default: {DEFAULT_CRASHKERNEL}"},
            "kinds": {"type": "string", "description": "sysrq, null, softlockup (comma-separated)"},
        }}}}}
}


@router.post("/api/v1/kernels/check", openapi_extra=_CHECK_FORM, status_code=202)
async def kernel_check(request: Request, tok: Admin, ctx: Ctx) -> JSONResponse:
    cap = ctx.settings.max_kernel_package_bytes
    max_body = (MAX_PACKAGES + 2) * cap + (1 << 20)
    clen = request.headers.get("content-length")
    if clen and clen.isdigit() and int(clen) > max_body:
        raise ApiError(413, f"request body of {clen} bytes is larger than the limit of {max_body}")
    form = await multipart.parse(
        request.stream(), request.headers.get("content-type"),
        files=dict.fromkeys(FILE_ROLES, cap), texts=_TEXTS, max_body=max_body,
        temp_path=ctx.hub.blobs.temp_path, repeat={"package": MAX_PACKAGES},
    )
    try:
        job = await run_in_threadpool(_queue, ctx, form, tok)
    finally:
        form.cleanup()
    return JSONResponse({"job": job, "state": "queued"}, status_code=202)


def _role(name: str) -> FileRole:
    # The multipart parser let only these fields through.
    return next(r for r in FILE_ROLES if r == name)


def _checked(form: multipart.Form) -> tuple[list[multipart.Part], str, str, tuple[CheckKind, ...] | None]:
    """The form's files and setup, or a 400 naming the field (before anything is stored)."""
    parts = [p for role in FILE_ROLES for p in form.all(role)]
    if not form.all("package"):
        raise InputError("field 'package' is required: the kernel's .deb or its RPMs")
    names: set[tuple[str, str]] = set()
    for p in parts:
        if p.path is None:
            raise InputError(f"field {p.name!r} must be a file")
        check_name(_role(p.name), p.filename)
        if p.size == 0:
            raise InputError(f"field {p.name!r}: {p.filename} is empty")
        if (p.name, str(p.filename)) in names:
            raise InputError(f"field {p.name!r}: {p.filename} is given twice")
        names.add((p.name, str(p.filename)))
    collector = check_collector(form.text("core_collector") or DEFAULT_COLLECTOR)
    crashkernel = check_crashkernel(form.text("crashkernel") or DEFAULT_CRASHKERNEL)
    return parts, collector, crashkernel, parse_kinds(form.text("kinds"))


def _queue(ctx: Context, form: multipart.Form, tok: TokenRecord) -> str:
    parts, collector, crashkernel, kinds = _checked(form)
    blobs, made = ctx.hub.blobs, []
    try:
        files = []
        for p in parts:
            assert p.path is not None
            b: Blob = blobs.adopt(p.path)
            if b.created:
                made.append(b.digest)
            files.append(CheckFile(role=_role(p.name), name=str(p.filename), digest=b.digest, size=b.size))
        req = CheckRequest(files=tuple(files), core_collector=collector, crashkernel=crashkernel,
                           kinds=kinds, requested_by=actor(tok))
        # A new key per request: asking again checks again (the report replaces the same setup's).
        return ctx.queue.submit(JOB, req.to_dict(), key=f"{JOB}:{time.time_ns()}")
    except BaseException:
        for d in made:  # nothing of a request that was not queued stays behind
            blobs.delete(d)
        raise


@router.get("/api/v1/kernels/check/{job_id}")
def kernel_check_state(_tok: Admin, store: HubStore, job_id: str) -> JsonObject:
    j = store.jobs.get_job(job_id) if len(job_id) <= 40 else None
    if j is None or j.kind != JOB:
        raise ApiError(404, f"no kernel check job {job_id[:40]!r}")
    return {"job": j.id, "state": j.state, "attempts": j.attempts, "result": j.result,
            "error": (j.error or "").splitlines()[0] if j.error else None}


@router.get("/api/v1/kernels/readiness")
def readiness_list(_tok: Reader, store: HubStore) -> JsonObject:
    view = fleet_readiness(store)
    return {"kernels": [summary(r) for _, r in sorted(view.reports.items())],
            "unchecked": [{"release": k.release, "crashes": k.crashes, "hosts": k.hosts}
                          for k in view.unchecked]}


@router.get("/api/v1/kernels/{release}/readiness")
def readiness_of(_tok: Reader, store: HubStore, release: str) -> JsonObject:
    rec = store.readiness.latest(release) if len(release) <= 255 else None
    if rec is None:
        raise ApiError(404, f"no readiness report for kernel {release[:255]!r}")
    return report_of(rec).to_dict()
