"""Administration: the job queue and the audit log, and retention (admin only): pin a crash's dump,
delete a crash or a host, preview what gc would evict.

- ``PUT|DELETE /api/v1/crashes/{id}/pin``: pin or unpin the dump (a pinned dump is never evicted).
- ``DELETE /api/v1/crashes/{id}``: the crash, its files and its count in its bucket.
- ``DELETE /api/v1/hosts/{host}``: every crash of the host and its host report.
- ``GET /api/v1/retention``: what ``crashhub gc --dry-run`` would evict, and why.
- ``GET /api/v1/netconsole``: the netconsole receiver's counters and its latest senders.

Deletions and pins are audited by the store in the same transaction; blobs no record points at
are removed afterwards (``crashhub.retention._apply``).
"""

# ruff: noqa: PLC0415 - the retention package loads only when these routes are used

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from crashhub.errors import ApiError, StoreError
from crashhub.model import JsonObject
from crashhub.store import Store, TokenRecord
from crashhub.web.api._deps import Admin, Ctx, HubStore, actor, principal_after

router = APIRouter()


def _jobs_query(state: str | None = None, limit: int = Query(100, ge=1, le=1000)) -> tuple[str | None, int]:
    return state, limit


def _audit_query(limit: int = Query(100, ge=1, le=1000)) -> int:
    return limit


@router.get("/api/v1/jobs", tags=["admin"])
def jobs(
    _tok: Annotated[TokenRecord, Depends(principal_after("read", _jobs_query))],
    store: HubStore,
    q: Annotated[tuple[str | None, int], Depends(_jobs_query)],
) -> JsonObject:
    state, limit = q
    return {
        "depth": store.jobs.job_depth(),
        "jobs": [
            {
                "id": j.id,
                "kind": j.kind,
                "state": j.state,
                "attempts": j.attempts,
                "payload": j.payload,
                "result": j.result,
                "error": j.error,
            }
            for j in store.jobs.list_jobs(state=state, limit=limit)
        ],
    }


@router.get("/api/v1/audit", tags=["admin"])
def audit(
    _tok: Annotated[TokenRecord, Depends(principal_after("admin", _audit_query))],
    store: HubStore,
    limit: Annotated[int, Depends(_audit_query)],
) -> JsonObject:
    return {
        "audit": [
            {"at": a.at, "actor": a.actor, "action": a.action, "target": a.target, "detail": a.detail}
            for a in store.access.list_audit(limit)
        ]
    }


def _pin(store: Store, who: str, crash_id: str, on: bool) -> JsonObject:
    c = store.crashes.get_crash(crash_id)
    if c is None:
        raise ApiError(404, f"no crash {crash_id!r}")
    if on and not c.dump_kept:
        why = "it has no dump" if not c.has_vmcore else "its dump was evicted"
        raise ApiError(409, f"crash {crash_id}: nothing to pin, {why}")
    d = store.retention.pin_dump(crash_id, who, pinned=on).to_dict()
    return {k: d[k] for k in ("id", "dump_kept", "dump_pinned", "dump_evicted")}


@router.put("/api/v1/crashes/{crash_id}/pin", tags=["retention"])
def pin_dump(tok: Admin, store: HubStore, crash_id: str) -> JsonObject:
    return _pin(store, actor(tok), crash_id, True)


@router.delete("/api/v1/crashes/{crash_id}/pin", tags=["retention"])
def unpin_dump(tok: Admin, store: HubStore, crash_id: str) -> JsonObject:
    return _pin(store, actor(tok), crash_id, False)


@router.delete("/api/v1/crashes/{crash_id}", tags=["retention"])
def delete_crash(tok: Admin, ctx: Ctx, crash_id: str) -> JsonObject:
    from crashhub.retention import apply

    store = ctx.hub.store
    if store.crashes.get_crash(crash_id) is None:
        raise ApiError(404, f"no crash {crash_id!r}")
    gone, size = apply.delete_crash(ctx.hub, crash_id, actor(tok))
    return {"deleted": gone.crash_id, "host": gone.host, "bucket": gone.bucket_id, "bytes_removed": size}


@router.delete("/api/v1/hosts/{host}", tags=["retention"])
def delete_host(tok: Admin, ctx: Ctx, host: str) -> JsonObject:
    from crashhub.retention import apply

    if len(host) > 255:
        raise ApiError(400, "host: longer than 255 characters")
    try:
        gone, size = apply.delete_host(ctx.hub, host, actor(tok))
    except StoreError as e:
        raise ApiError(404, str(e)) from None
    return {"host": host, "crashes": [d.crash_id for d in gone], "bytes_removed": size}


@router.get("/api/v1/netconsole", tags=["admin"])
def netconsole(_tok: Admin, ctx: Ctx) -> JsonObject:
    """The netconsole receiver's counters and the senders heard from most recently (docs/hub.md)."""
    rec = ctx.netconsole
    if rec is None:
        return {"listening": None, "counters": {}, "senders": []}
    where = f"{rec.address[0]}:{rec.address[1]}" if rec.address else ctx.settings.netconsole_listen
    return {"listening": where, "counters": dict(rec.snapshot()), "senders": list(rec.senders())}


@router.get("/api/v1/retention", tags=["retention"])
def retention(_tok: Admin, ctx: Ctx) -> JsonObject:
    from crashhub.retention import REASONS, apply

    p = apply.make_plan(ctx.hub)
    return {
        "keep_dumps_per_bucket": ctx.settings.keep_dumps_per_bucket,
        "blob_quota_bytes": ctx.settings.blob_quota_bytes,
        "usage": p.usage_before,
        "usage_after": p.usage_after,
        "shortfall": p.shortfall,
        "evict": [
            {
                "crash": d.crash_id,
                "bucket": d.bucket_id,
                "size": d.size,
                "sha256": d.digest,
                "reason": d.reason,
                "why": REASONS[d.reason],
            }
            for d in p.evict
        ],
    }
