"""What the API's handlers are given (``Depends``): the hub context, its store, the caller's token and
the state the routes share (rate limits, resumable uploads, the debuginfo store), plus the small checks
several resources make alike."""

# ruff: noqa: PLC0415 - the upload and debuginfo code loads when the API is installed, not on import

# No ``from __future__ import annotations`` here: FastAPI reads the dependencies of ``principal`` from
# its annotations, and those name the factory's arguments, which a string annotation could not reach.

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from crashhub.errors import ApiError, InputError
from crashhub.model import JsonObject
from crashhub.store import CrashRecord, Store, TokenRecord
from crashhub.web import _auth as auth
from crashhub.web._app import Context
from crashhub.web._limits import Limit, retry_after

if TYPE_CHECKING:
    from crashhub.debuginfo import DebuginfoStore
    from crashhub.ingest import Uploads

SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,254}$")
# Past this an offset pages nothing real, and past 2**63 SQLite cannot even bind it (a 500).
MAX_OFFSET = 10_000_000


@dataclass
class ApiState:
    """What lives as long as the app, built once by ``install`` (one app, one set of limits)."""

    upload_limit: Limit
    report_limit: Limit
    kb_limit: Limit
    uploads: "Uploads"
    debuginfo: "DebuginfoStore"


def build_state(ctx: Context) -> ApiState:
    from crashhub.debuginfo import DebuginfoStore
    from crashhub.ingest import Uploads

    store, s = ctx.hub.store, ctx.settings
    return ApiState(
        # Counted per API token (one per host, as docs/host.md sets them up) in the database, so every
        # node behind the load balancer counts into one window; checked before the body is read, so a
        # refused upload stores nothing and costs no more than its headers.
        upload_limit=Limit(store, "upload", s.upload_rate_limit, s.upload_rate_window),
        # Host reports and KB writes are cheap to send and dear to keep (a database row, a re-apply of
        # the whole knowledge base): counted per token the same way.
        report_limit=Limit(
            store, "host-report", s.host_report_rate_limit, s.host_report_rate_window
        ),
        kb_limit=Limit(store, "kb-write", s.kb_write_rate_limit, s.kb_write_rate_window),
        # Any node continues an upload (ingest/_uploads.py): the bytes are in the blob store, the record
        # and a per-request write lease in the database.
        uploads=Uploads(ctx.pipeline, lease=s.upload_lease),
        debuginfo=DebuginfoStore(s.data_dir / "debuginfo"),
    )


def hub_context(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


def api_state(request: Request) -> ApiState:
    state: ApiState = request.app.state.api
    return state


def hub_store(ctx: Annotated[Context, Depends(hub_context)]) -> Store:
    return ctx.hub.store


def _principal(need: str) -> Callable[..., TokenRecord]:
    """A dependency answering the caller's token if its role grants ``need`` (else 401 or 403)."""

    def principal(request: Request, store: Annotated[Store, Depends(hub_store)]) -> TokenRecord:
        return auth.check(store, request.headers.get("authorization"), need)

    return principal


def principal_after(need: str, query: Callable[..., Any]) -> Callable[..., TokenRecord]:
    """The caller's token as :func:`_principal` checks it, once ``query`` (the route's query
    parameters) has read them: a malformed query is a 400 whoever sends it, and stays one.

    FastAPI calls a dependency only when its own dependencies resolved without an error, so the
    check of the token waits for the query's; the route takes ``Depends(query)`` too (called once,
    cached per request) for the values."""

    def principal(
        request: Request, store: Annotated[Store, Depends(hub_store)], _query: Annotated[Any, Depends(query)]
    ) -> TokenRecord:
        return auth.check(store, request.headers.get("authorization"), need)

    return principal


Ctx = Annotated[Context, Depends(hub_context)]
State = Annotated[ApiState, Depends(api_state)]
HubStore = Annotated[Store, Depends(hub_store)]
Reader = Annotated[TokenRecord, Depends(_principal("read"))]
Uploader = Annotated[TokenRecord, Depends(_principal("upload"))]
Admin = Annotated[TokenRecord, Depends(_principal("admin"))]


def actor(tok: TokenRecord) -> str:
    """How the audit log and bucket events name a token's action."""
    return f"token:{tok.id}:{tok.name}"


async def throttle(limit: Limit, tok: TokenRecord, what: str) -> None:
    """Count one hit of ``tok`` on ``limit``; past it a 429 with ``Retry-After``, before any body is read."""
    wait = await run_in_threadpool(limit.hit, f"token:{tok.id}") if limit.enabled else None
    if wait is not None:
        n = retry_after(wait)
        raise ApiError(
            429,
            f"too many {what} for token {tok.name or tok.id!r}: at most {limit.limit} per "
            f"{limit.window:g} s; try again in {n} s",
            retry_after=n,
        )


def parse_since(v: str | None) -> float | None:
    if v is None or v == "":
        return None
    try:
        return float(v)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(v.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise InputError(f"since: {v!r} is neither seconds since the epoch nor an ISO 8601 time") from None


def crash_or_404(store: Store, crash_id: str) -> CrashRecord:
    c = store.crashes.get_crash(crash_id)
    if c is None:
        raise ApiError(404, f"no crash {crash_id!r}")
    return c


def bucket_opts(ctx: Context) -> dict[str, Any]:
    s = ctx.settings
    return {
        "spike_days": s.spike_days,
        "spike_factor": s.spike_factor,
        "spike_min": s.spike_min,
    }


def crash_summary(d: JsonObject) -> JsonObject:
    return {
        k: d[k]
        for k in (
            "id",
            "received_at",
            "crash_time",
            "host",
            "release",
            "kind",
            "title",
            "bucket",
            "has_vmcore",
            "dump_kept",
            "source",
            "crash_dir",
        )
    } | {
        "kb": [m.get("id") for m in d.get("kb") or []],
        "dump_evicted": (d.get("dump_evicted") or {}).get("reason"),
    }
