"""Hosts and kernels: a host's report of itself (its own token only), the fleet's hosts and kernels."""

# ruff: noqa: PLC0415 - the debuginfo code loads only when the kernels are listed

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from crashhub.errors import ApiError
from crashhub.ingest import peer_ip
from crashhub.model import HostReport, JsonObject
from crashhub.web import _auth as auth
from crashhub.web import _jsonbody as jsonbody
from crashhub.web.api._deps import SAFE_NAME, Ctx, HubStore, Reader, State, Uploader, throttle

router = APIRouter(tags=["hosts"])


@router.post("/api/v1/hosts/report")
async def host_report(request: Request, tok: Uploader, ctx: Ctx, state: State) -> JsonObject:
    store = ctx.hub.store
    await throttle(state.report_limit, tok, "host reports")
    body = await jsonbody.parse(request, ctx.settings.max_host_report_bytes, "max_host_report_bytes")
    if not isinstance(body, dict) or not isinstance(body.get("host"), str) or not body["host"]:
        raise ApiError(400, "field 'host': a non-empty string is required")
    if not SAFE_NAME.match(body["host"]):
        raise ApiError(400, f"field 'host': {body['host']!r} is not a plain host name")
    # A host token reports its own host only: host B's token cannot overwrite host A's report.
    await run_in_threadpool(auth.host_of, store, tok, body["host"])

    try:
        rep = HostReport.from_dict(body)
    except ValueError as e:
        raise ApiError(400, str(e)) from None

    def opt(v: str | None) -> str | None:
        return v[:512] if v else None

    # The address the request came from (uvicorn puts the forwarded client there only for the
    # proxies of forwarded_allow_ips): evidence, never a field of the report.
    address = peer_ip(request.client.host if request.client else None)

    await run_in_threadpool(
        lambda: store.hosts.report_host(
            rep.host,
            release=opt(rep.release),
            build_id=opt(rep.build_id),
            hardware=opt(rep.hardware),
            machine=opt(rep.machine),
            agent_version=opt(rep.agent_version),
            kdump=rep.kdump,
            address=address,
        )
    )
    if ctx.netconsole is not None and address is not None:
        ctx.netconsole.learn(address, rep.host)
    return {"ok": True}


@router.get("/api/v1/hosts")
def hosts(_tok: Reader, store: HubStore) -> JsonObject:
    return {"hosts": [h.to_dict() for h in store.hosts.list_hosts()]}


@router.get("/api/v1/kernels")
def kernels(_tok: Reader, ctx: Ctx, state: State) -> JsonObject:
    """Every kernel of the fleet with its debuginfo from the store (vmlinux, modules, sources, the
    store's build-id against the crashes') and the crashes whose dump waits for it."""
    from crashhub.web._fleet import fleet_kernels

    rows = fleet_kernels(ctx.hub.store, state.debuginfo, ctx.settings.vmlinux_dir)
    return {"kernels": [k.to_dict() for k in rows]}


@router.get("/api/v1/coverage")
def coverage(_tok: Reader, ctx: Ctx) -> JsonObject:
    """Crashes by channel (kdump, pstore, netconsole) per host and per kernel over the last
    ``coverage_days``, the crashes whose dump never came (``dump_missing``: no kdump channel after
    ``dump_grace_hours``), and each host's kdump check as its agent reported it."""
    import time

    from crashhub.store import fleet_coverage

    s = ctx.settings
    cov = fleet_coverage(ctx.hub.store, now=time.time(), days=s.coverage_days, grace_hours=s.dump_grace_hours)
    return cov.to_dict()
