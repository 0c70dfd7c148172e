"""Buckets: the list and one bucket (read), and the admin's merge, split and response workflow."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from crashhub.errors import ApiError
from crashhub.store.base import TokenRecord
from crashhub.web import jsonbody
from crashhub.web.api._deps import (
    MAX_OFFSET,
    Admin,
    Ctx,
    HubStore,
    Reader,
    actor,
    bucket_opts,
    crash_summary,
    principal_after,
)

router = APIRouter(tags=["buckets"])


@dataclass(frozen=True)
class BucketQuery:
    sort: str
    filters: dict[str, Any]  # the store's filter arguments
    limit: int
    offset: int


def bucket_query(
    *,
    sort: str = Query("count", pattern="^(count|last_seen|trend)$"),
    kind: str | None = None,
    kernel: str | None = None,
    host: str | None = None,
    kb: str | None = Query(None, pattern="^(known|new|regression)$"),
    since: float | None = None,
    status: str | None = Query(None, pattern="^(new|investigating|advice_given|known_issue|fixed)$"),
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
) -> BucketQuery:
    filters: dict[str, Any] = {
        "kind": kind, "kernel": kernel, "host": host, "kb_status": kb, "since": since, "status": status
    }
    return BucketQuery(sort, filters, limit, offset)


@router.get("/api/v1/buckets")
def list_buckets(
    _tok: Annotated[TokenRecord, Depends(principal_after("read", bucket_query))],
    ctx: Ctx,
    q: Annotated[BucketQuery, Depends(bucket_query)],
) -> JSONResponse:
    store = ctx.hub.store
    sort, filters, limit, offset = q.sort, q.filters, q.limit, q.offset
    rows = store.buckets.list_buckets(sort=sort, limit=limit, offset=offset, **filters, **bucket_opts(ctx))
    # A JSONResponse skips FastAPI's recursive jsonable_encoder: the records are plain JSON already.
    return JSONResponse(
        {
            "total": store.buckets.count_buckets(**filters),
            "sort": sort,
            "limit": limit,
            "offset": offset,
            "buckets": [b.to_dict() for b in rows],
        }
    )


@router.get("/api/v1/buckets/{bucket_id}")
def get_bucket(_tok: Reader, ctx: Ctx, bucket_id: str) -> dict[str, Any]:
    store = ctx.hub.store
    b = store.buckets.get_bucket(bucket_id, **bucket_opts(ctx))
    if b is None:
        raise ApiError(404, f"no bucket {bucket_id!r}")
    d = b.to_dict()
    d["events"] = [
        {"at": e.at, "action": e.action, "actor": e.actor, "detail": e.detail}
        for e in store.buckets.bucket_events(bucket_id)
    ]
    recent = store.crashes.list_crashes(bucket=bucket_id, limit=20)
    d["crashes"] = [crash_summary(c.to_dict()) for c in recent]
    return d


@router.post("/api/v1/buckets/{bucket_id}/merge")
async def merge(request: Request, tok: Admin, store: HubStore, bucket_id: str) -> dict[str, Any]:
    body = await jsonbody.parse(request)
    into = body.get("into") if isinstance(body, dict) else None
    if not isinstance(into, str):
        raise ApiError(400, 'body must be {"into": "<bucket id>"}')
    b = await run_in_threadpool(store.buckets.merge_buckets, bucket_id, into, actor(tok))
    return b.to_dict()


@router.patch("/api/v1/buckets/{bucket_id}")
async def set_workflow(request: Request, tok: Admin, store: HubStore, bucket_id: str) -> dict[str, Any]:
    """The response workflow: ``{"status", "owner", "advice"}`` (any of them; "" clears owner
    or advice). Recorded as a bucket event; answers the bucket."""
    body = await jsonbody.parse(request)
    fields = ("status", "owner", "advice")
    if (
        not isinstance(body, dict)
        or not body
        or set(body) - set(fields)
        or not all(isinstance(body[k], str) for k in body)
    ):
        raise ApiError(400, 'body must be {"status": "...", "owner": "...", "advice": "..."} (strings)')
    if await run_in_threadpool(store.buckets.get_bucket, bucket_id) is None:
        raise ApiError(404, f"no bucket {bucket_id!r}")
    b = await run_in_threadpool(
        lambda: store.buckets.set_bucket_workflow(
            bucket_id, **{k: body[k] for k in fields if k in body}, actor=actor(tok)
        )
    )
    return b.to_dict()


@router.post("/api/v1/buckets/{bucket_id}/split")
async def split(request: Request, tok: Admin, store: HubStore, bucket_id: str) -> dict[str, Any]:
    body = await jsonbody.parse(request)
    crashes = body.get("crashes") if isinstance(body, dict) else None
    if not isinstance(crashes, list) or not all(isinstance(x, str) for x in crashes):
        raise ApiError(400, 'body must be {"crashes": ["<crash id>", ...], "title": "..."}')
    title = body.get("title") if isinstance(body.get("title"), str) else None
    b = await run_in_threadpool(store.buckets.split_bucket, bucket_id, crashes, actor(tok), title)
    return b.to_dict()
