"""The knowledge base over the API: read for viewers; write (JSON or YAML) and delete for admins, each
write re-applied to every bucket and rate-limited per token."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from crashhub.errors import ApiError, KbError
from crashhub.model import JsonObject
from crashhub.store import TokenRecord
from crashhub.web import _jsonbody as jsonbody
from crashhub.web._app import Context
from crashhub.web.api._deps import Admin, Ctx, Reader, State, actor, throttle

router = APIRouter(tags=["kb"])

_YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/plain")


def _entry(e: Any) -> JsonObject:
    d: JsonObject = e.to_dict()
    d["source"] = "starter" if (e.path or "").startswith("crashhub/kb/") else "local"
    return d


@router.get("/api/v1/kb")
def kb_list(_tok: Reader, ctx: Ctx) -> JsonObject:
    entries = [_entry(e) for e in ctx.kb.entries()]
    # Files in the KB directory that do not load (edited by hand): named with line and field.
    return {"entries": entries, "errors": [str(e) for e in ctx.kb.errors]}


@router.get("/api/v1/kb/{entry_id}")
def kb_get(_tok: Reader, ctx: Ctx, entry_id: str) -> JsonObject:
    e = ctx.kb.get(entry_id)
    if e is None:
        raise ApiError(404, f"no knowledge-base entry {entry_id!r}")
    return _entry(e)


async def _kb_write(
    request: Request, tok: TokenRecord, ctx: Context, entry_id: str | None
) -> tuple[Any, int]:
    cap = ctx.settings.max_kb_entry_bytes
    ctype = (request.headers.get("content-type") or "").split(";")[0].strip()
    if ctype in _YAML_TYPES:
        raw = await jsonbody.read(request, cap, "max_kb_entry_bytes")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise KbError("not UTF-8", "<request>") from None
        entry = await run_in_threadpool(ctx.kb.put_text, text, expect_id=entry_id)
    else:
        body = await jsonbody.parse(request, cap, "max_kb_entry_bytes")
        entry = await run_in_threadpool(ctx.kb.put_data, body, expect_id=entry_id)
    store = ctx.hub.store
    store.access.audit(actor(tok), "kb-put", entry.id)
    changed = await run_in_threadpool(ctx.kb.reapply, store)
    return entry, changed


@router.post("/api/v1/kb", status_code=201)
async def kb_create(request: Request, tok: Admin, ctx: Ctx, state: State) -> JSONResponse:
    await throttle(state.kb_limit, tok, "knowledge-base writes")
    entry, changed = await _kb_write(request, tok, ctx, None)
    return JSONResponse({"entry": _entry(entry), "buckets_changed": changed}, status_code=201)


@router.put("/api/v1/kb/{entry_id}")
async def kb_put(request: Request, tok: Admin, ctx: Ctx, state: State, entry_id: str) -> JsonObject:
    await throttle(state.kb_limit, tok, "knowledge-base writes")
    entry, changed = await _kb_write(request, tok, ctx, entry_id)
    return {"entry": _entry(entry), "buckets_changed": changed}


@router.delete("/api/v1/kb/{entry_id}")
async def kb_delete(tok: Admin, ctx: Ctx, state: State, entry_id: str) -> JsonObject:
    await throttle(state.kb_limit, tok, "knowledge-base writes")
    if not re.fullmatch(r"[a-z0-9][a-z0-9._-]{0,79}", entry_id):
        raise ApiError(400, f"bad entry id {entry_id!r}")
    if not await run_in_threadpool(ctx.kb.delete, entry_id):
        raise ApiError(
            404,
            f"no local knowledge-base entry {entry_id!r} (starter entries are "
            "overridden by a local entry of the same id, not deleted)",
        )
    store = ctx.hub.store
    store.access.audit(actor(tok), "kb-delete", entry_id)
    return {"deleted": entry_id, "buckets_changed": await run_in_threadpool(ctx.kb.reapply, store)}
