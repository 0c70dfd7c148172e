"""API v1 for retention (admin only): pin a crash's dump, delete a crash or a host, preview gc.

- ``PUT|DELETE /api/v1/crashes/{id}/pin``: pin or unpin the dump (a pinned dump is never evicted).
- ``DELETE /api/v1/crashes/{id}``: the crash, its files and its count in its bucket.
- ``DELETE /api/v1/hosts/{host}``: every crash of the host and its host report.
- ``GET /api/v1/retention``: what ``crashhub gc --dry-run`` would evict, and why.

Deletions and pins are audited by the store in the same transaction; blobs no record points at
are removed afterwards (``crashhub.retention.apply``).
"""

# ruff: noqa: PLC0415 - the retention package loads only when these routes are used

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request

from crashhub.errors import StoreError
from crashhub.store.base import TokenRecord
from crashhub.web import auth

if TYPE_CHECKING:
    from crashhub.web.app import Context


def install(app: FastAPI, ctx: Context) -> None:
    from crashhub.retention import apply
    from crashhub.retention.policy import REASONS
    from crashhub.web.app import ApiError

    hub, store = ctx.hub, ctx.hub.store

    def admin(request: Request) -> str:
        tok: TokenRecord = auth.check(store, request.headers.get("authorization"), "admin")
        return f"token:{tok.id}:{tok.name}"

    def pin(request: Request, crash_id: str, on: bool) -> dict[str, Any]:
        actor = admin(request)
        c = store.crashes.get_crash(crash_id)
        if c is None:
            raise ApiError(404, f"no crash {crash_id!r}")
        if on and not c.dump_kept:
            why = "it has no dump" if not c.has_vmcore else "its dump was evicted"
            raise ApiError(409, f"crash {crash_id}: nothing to pin, {why}")
        d = store.retention.pin_dump(crash_id, actor, pinned=on).to_dict()
        return {k: d[k] for k in ("id", "dump_kept", "dump_pinned", "dump_evicted")}

    @app.put("/api/v1/crashes/{crash_id}/pin", tags=["retention"])
    def pin_dump(request: Request, crash_id: str) -> dict[str, Any]:
        return pin(request, crash_id, True)

    @app.delete("/api/v1/crashes/{crash_id}/pin", tags=["retention"])
    def unpin_dump(request: Request, crash_id: str) -> dict[str, Any]:
        return pin(request, crash_id, False)

    @app.delete("/api/v1/crashes/{crash_id}", tags=["retention"])
    def delete_crash(request: Request, crash_id: str) -> dict[str, Any]:
        actor = admin(request)
        if store.crashes.get_crash(crash_id) is None:
            raise ApiError(404, f"no crash {crash_id!r}")
        gone, size = apply.delete_crash(hub, crash_id, actor)
        return {"deleted": gone.crash_id, "host": gone.host, "bucket": gone.bucket_id, "bytes_removed": size}

    @app.delete("/api/v1/hosts/{host}", tags=["retention"])
    def delete_host(request: Request, host: str) -> dict[str, Any]:
        actor = admin(request)
        if len(host) > 255:
            raise ApiError(400, "host: longer than 255 characters")
        try:
            gone, size = apply.delete_host(hub, host, actor)
        except StoreError as e:
            raise ApiError(404, str(e)) from None
        return {"host": host, "crashes": [d.crash_id for d in gone], "bytes_removed": size}

    @app.get("/api/v1/retention", tags=["retention"])
    def retention(request: Request) -> dict[str, Any]:
        admin(request)
        p = apply.make_plan(hub)
        return {
            "keep_dumps_per_bucket": int(ctx.settings.keep_dumps_per_bucket),
            "blob_quota_bytes": int(ctx.settings.blob_quota_bytes),
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
