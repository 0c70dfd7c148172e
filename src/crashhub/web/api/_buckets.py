"""Buckets: the list and one bucket (read, with its similar buckets, keys, rules and re-keys), the
admin's merge, split and response workflow, and the grouping rules and re-keys (``/api/v1/bucket-rules``,
``/api/v1/rekeys``, ``POST /api/v1/rekey``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from crashhub.classify import Condition
from crashhub.errors import ApiError, InputError
from crashhub.store import MAX_QUERY, TokenRecord
from crashhub.web import _jsonbody as jsonbody
from crashhub.web._similar import for_store
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
    q: str | None = Query(
        None, max_length=MAX_QUERY,
        description="text the bucket's title, a key function, a host or a kernel contains (any case)",
    ),
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
) -> BucketQuery:
    """The list's filters; ``host`` and ``kernel`` are whole values, ``q`` the free text."""
    filters: dict[str, Any] = {
        "kind": kind, "kernel": kernel, "host": host, "kb_status": kb, "since": since, "status": status,
        "search": (q or "").strip() or None,
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
    """One bucket.  An id or key from before a merge or a re-key answers with the bucket that took
    its crashes over (``resolved_from`` says what was asked)."""
    store = ctx.hub.store
    b = store.buckets.get_bucket(bucket_id, **bucket_opts(ctx))
    asked = bucket_id
    if b is None or b.merged_into:
        survivor = store.grouping.resolve(bucket_id)
        if survivor is not None and survivor != bucket_id:
            bucket_id, b = survivor, store.buckets.get_bucket(survivor, **bucket_opts(ctx))
    if b is None:
        raise ApiError(404, f"no bucket {asked!r}")
    d = b.to_dict()
    if asked != bucket_id:
        d["resolved_from"] = asked
    d["events"] = [
        {"at": e.at, "action": e.action, "actor": e.actor, "detail": e.detail}
        for e in store.buckets.bucket_events(bucket_id)
    ]
    recent = store.crashes.list_crashes(bucket=bucket_id, limit=20)
    d["crashes"] = [crash_summary(c.to_dict()) for c in recent]
    bd = store.buckets.bucket_breakdown(bucket_id)
    d["breakdown"] = bd.to_dict() if bd is not None else None  # by kernel, host, hardware, module, taint
    d["similar"] = [x.to_dict() for x in for_store(store).similar(b)]
    d["keys"] = [a.to_dict() for a in store.grouping.aliases(bucket_id)]
    d["rules"] = [r.to_dict() for r in store.grouping.rules(bucket=bucket_id)]
    d["rekeys"] = [e.to_dict() for e in store.grouping.ledger(bucket=bucket_id, limit=50)]
    return d


@router.get("/api/v1/buckets/{bucket_id}/similar")
def similar(
    _tok: Reader, ctx: Ctx, bucket_id: str, limit: int = Query(10, ge=1, le=100)
) -> dict[str, Any]:
    """The buckets most like this one across kernels, best first, with the parts of each score."""
    b = ctx.hub.store.buckets.get_bucket(bucket_id)
    if b is None:
        raise ApiError(404, f"no bucket {bucket_id!r}")
    found = for_store(ctx.hub.store).similar(b, limit=limit)
    return {"bucket": bucket_id, "similar": [x.to_dict() for x in found]}


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
    """Split crashes off into a new bucket, for good: ``{"crashes": [ids], "when": [{"field",
    "pattern"}], "title"}`` (crashes, conditions or both); the split is kept as a rule that later
    crashes follow (``crashhub.classify._rules``)."""
    body = await jsonbody.parse(request)
    usage = ('body must be {"crashes": ["<crash id>", ...], "when": [{"field": ..., "pattern": ...}], '
             '"title": "..."}')
    if not isinstance(body, dict):
        raise ApiError(400, usage)
    crashes = body.get("crashes", [])
    when = body.get("when", [])
    if not isinstance(crashes, list) or not all(isinstance(x, str) for x in crashes):
        raise ApiError(400, usage)
    if not isinstance(when, list) or not all(isinstance(x, dict) for x in when):
        raise ApiError(400, usage)
    try:
        conditions = [Condition.from_dict(x) for x in when]
    except InputError as e:
        raise ApiError(400, str(e)) from None
    title = body.get("title") if isinstance(body.get("title"), str) else None
    b = await run_in_threadpool(
        lambda: store.buckets.split_bucket(bucket_id, crashes, actor(tok), title, conditions)
    )
    return b.to_dict()


@router.get("/api/v1/bucket-rules")
def list_rules(
    _tok: Reader, store: HubStore, bucket: str | None = None, retired: bool = False
) -> dict[str, Any]:
    """Users' merges and splits as the rules later crashes follow (``retired``: with the ended ones)."""
    rules = store.grouping.rules(bucket=bucket, include_retired=retired)
    return {"rules": [r.to_dict() for r in rules]}


@router.delete("/api/v1/bucket-rules/{rule_id}")
async def delete_rule(tok: Admin, store: HubStore, rule_id: str) -> dict[str, Any]:
    """End a rule and undo it: a merged key's crashes go back to its own bucket, split-off crashes
    back to their source."""
    live = await run_in_threadpool(store.grouping.rules)
    if not any(r.id == rule_id for r in live):
        raise ApiError(404, f"no live rule {rule_id!r}")  # unknown or already ended: the caller's error
    rule = await run_in_threadpool(store.grouping.delete_rule, rule_id, actor(tok))
    return {"deleted": rule.to_dict()}


@router.get("/api/v1/rekeys")
def rekeys(
    _tok: Reader,
    store: HubStore,
    bucket: str | None = None,
    run: str | None = None,
    limit: int = Query(1000, ge=1, le=100_000),
) -> dict[str, Any]:
    """The re-key ledger, newest first: which crashes went from which old key and bucket to which."""
    from crashhub.classify import ALGORITHM  # noqa: PLC0415

    return {
        "algorithm": ALGORITHM,
        "algorithms": store.grouping.algorithms(),
        "rekeys": [e.to_dict() for e in store.grouping.ledger(bucket=bucket, run=run, limit=limit)],
    }


@router.post("/api/v1/rekey")
async def rekey(tok: Admin, ctx: Ctx) -> JSONResponse:
    """Queue a re-key of every bucket to the current algorithm (a hub does it by itself at start when
    buckets carry an older one); answers the job's id."""
    from crashhub.classify import ALGORITHM  # noqa: PLC0415
    from crashhub.jobs import KIND  # noqa: PLC0415

    job = await run_in_threadpool(ctx.queue.submit, KIND, {"algorithm": ALGORITHM, "by": actor(tok)})
    return JSONResponse({"job": job, "algorithm": ALGORITHM}, status_code=202)
