"""The hub's web application: API v1, health, metrics; spool watcher and workers started with it.

``create_app(settings)`` builds everything from settings; ``crashhub serve`` runs it under uvicorn.
One process holds the API, the spool watcher and the in-process workers (the embedded default);
with ``background=False`` the app only serves requests (tests, or a node behind a load balancer
whose workers run elsewhere).
"""

# ruff: noqa: PLC0415 - imports inside functions are deliberate: each command and stage loads
# only what it uses (the host agent installs without the hub's web and database stack).

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from crashhub import __version__
from crashhub.config import Settings
from crashhub.errors import (
    ApiError,
    AuthError,
    CrashhubError,
    DumpError,
    DumpMismatchError,
    DumpTooLargeError,
    Forbidden,
    InputError,
    KbError,
    MultipartError,
    StoreError,
    disk_full,
)
from crashhub.ingest import NetconsoleReceiver, Pipeline, SpoolWatcher
from crashhub.jobs import Queue
from crashhub.knowledge import KnowledgeBase
from crashhub.store import Hub, node_name, open_store
from crashhub.web._alerting import AlertPump, build_engine

log = logging.getLogger("crashhub.web")


class Metrics:
    """Prometheus metrics in a registry of this app's own (several apps may live in one test process)."""

    def __init__(self, queue_depth: Any) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry()
        self.ingested = Counter(
            "crashhub_crashes_ingested_total",
            "Crashes ingested",
            ["source", "created"],
            registry=self.registry,
        )
        self.triage = Histogram(
            "crashhub_triage_seconds",
            "Time to triage one log",
            registry=self.registry,
            buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5),
        )
        self.ingest = Histogram(
            "crashhub_ingest_seconds",
            "Time to ingest one crash",
            registry=self.registry,
            buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120),
        )
        self.errors = Counter(
            "crashhub_errors_total", "Errors by stage and type", ["stage", "type"], registry=self.registry
        )
        self.requests = Counter(
            "crashhub_http_requests_total",
            "HTTP requests by method and status",
            ["method", "status"],
            registry=self.registry,
        )
        depth = Gauge("crashhub_queue_depth", "Jobs waiting or running", registry=self.registry)
        depth.set_function(queue_depth)

    def observe(self, event: str, data: dict[str, Any]) -> None:
        if event == "ingested":
            self.ingested.labels(data.get("source", "?"), str(bool(data.get("created"))).lower()).inc()
            self.ingest.observe(float(data.get("seconds", 0.0)))
        elif event == "triage":
            self.triage.observe(float(data.get("seconds", 0.0)))
        elif event == "error":
            self.errors.labels(data.get("stage", "?"), data.get("error", "?")).inc()

    def render(self) -> bytes:
        from prometheus_client import generate_latest

        return bytes(generate_latest(self.registry))


class _NetconsoleCollector:
    """The netconsole receiver's counters in /metrics (``crashhub_netconsole_<counter>``)."""

    GAUGES = ("senders", "kept_bytes")

    def __init__(self, receiver: NetconsoleReceiver) -> None:
        self.receiver = receiver

    def collect(self) -> Any:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        for name, value in self.receiver.snapshot().items():
            full = f"crashhub_netconsole_{name}"
            if name in self.GAUGES:
                yield GaugeMetricFamily(full, f"netconsole receiver: {name}", value=value)
            else:
                yield CounterMetricFamily(full, f"netconsole receiver: {name}", value=value)


@dataclass
class Context:
    settings: Settings
    hub: Hub
    kb: KnowledgeBase
    queue: Queue
    pipeline: Pipeline
    metrics: Metrics
    watcher: SpoolWatcher | None = None
    alerts: AlertPump | None = None
    netconsole: NetconsoleReceiver | None = None  # with netconsole_listen, while the app runs
    started: float = field(default_factory=time.time)
    node: str = field(default_factory=node_name)  # this process among the hub's nodes (leases)


def build_context(settings: Settings, *, hub: Hub | None = None) -> Context:
    from crashhub.jobs import LocalQueue, handlers

    hub = hub or open_store(settings)
    kb = KnowledgeBase(settings.kb_path, starter=settings.starter_kb, store=hub.store)
    queue: Queue
    if settings.queue == "celery":
        from crashhub.jobs import queue_from_settings

        queue = queue_from_settings(settings, hub.store)
    else:
        queue = LocalQueue(hub.store, workers=settings.workers, lease=settings.job_lease)
    handlers.register(queue, hub, kb)
    metrics = Metrics(lambda: _safe_depth(queue))
    pipeline = Pipeline(hub, kb, queue, observer=metrics.observe)
    # Until the app's lifespan starts the pump's thread, alerts are delivered in the caller's
    # thread (``crashhub serve --demo`` ingesting before it listens).
    node = node_name()
    alerts = AlertPump(build_engine(settings, hub.store), hub.store, settings.alert_interval, node=node)
    pipeline.add_listener(alerts.on_outcome)
    return Context(
        settings=settings, hub=hub, kb=kb, queue=queue, pipeline=pipeline, metrics=metrics, alerts=alerts,
        node=node,
    )


def _safe_depth(q: Queue) -> float:
    try:
        return float(q.depth())
    except CrashhubError:
        return float("nan")


def collect_garbage(ctx: Context) -> dict[str, int]:
    """Temp files of dead writers, unreferenced blobs and stale upload files past the grace period."""
    from crashhub.ingest import expire_uploads

    hub = ctx.hub
    grace = ctx.settings.blob_gc_grace
    out = hub.blobs.gc(hub.store.retention.referenced_digests, grace=grace)
    out["uploads_expired"] = expire_uploads(hub)
    # An upload record keeps its bytes (any node may resume it); bytes without one are debris.
    keep = {u.crash_id for u in hub.store.uploads.list_uploads()}
    out["uploads"] = hub.blobs.clean_uploads(keep, time.time() - grace)
    return out


def leased(ctx: Context, name: str, every: float) -> bool:
    """Whether this node is the one to run the periodic work ``name`` now: it holds (or takes) the
    work's lease in the store, which outlives two missed rounds and then passes to another node."""
    return ctx.hub.store.cluster.try_lease(name, ctx.node, 2 * every)


def periodic_retention(ctx: Context, stop: threading.Event, every: float) -> None:
    """Run the retention policy every ``every`` seconds (``crashhub gc`` by hand does the same), on
    one node of the cluster at a time."""
    from crashhub.retention import apply

    while not stop.wait(every):
        try:
            if not leased(ctx, "retention", every):
                continue
            out = apply.run(ctx.hub, actor="gc")
            if out.evicted:
                log.info("retention: %s", apply.lines(out)[-1])
        except Exception:
            log.exception("retention failed")


def single_node(settings: Settings) -> bool:
    """Whether this hub is the only node on its database (SQLite: one machine, one process tree).

    Only then may a start free every claim at once; nodes sharing PostgreSQL would free each other's
    live jobs, spool items and uploads, so there claims of a dead node end with their lease.
    """
    return settings.db_url.startswith("sqlite")


def create_app(
    settings: Settings, *, background: bool = True, ctx: Context | None = None, mount_ui: bool = True
) -> FastAPI:
    ctx = ctx or build_context(settings)
    app = FastAPI(
        title="crashhub",
        version=__version__,
        lifespan=_lifespan(ctx, background),
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/v1/docs",
        redoc_url=None,
        description="The central crash host of a Linux fleet: API v1.",
    )
    app.state.ctx = ctx
    _install_errors(app, ctx)
    _install_middleware(app, ctx)
    _install_health(app, ctx)

    from crashhub.web import api

    api.install(app, ctx)
    if mount_ui:
        from crashhub.web import ui

        # After the API, so the UI's "/" never shadows an API route.
        ui.install(app, ctx)
    return app


def _lifespan(ctx: Context, background: bool) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """What runs beside the requests (with ``background``): queue, spool watcher, gc, retention, alerts."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stop = threading.Event()
        if background:
            _start_background(ctx, stop)
            if ctx.settings.netconsole_listen:
                # In the server's event loop: datagrams are read there, cuts judged in a thread.
                ctx.netconsole = NetconsoleReceiver(ctx.pipeline, ctx.settings)
                await ctx.netconsole.start()
                ctx.metrics.registry.register(_NetconsoleCollector(ctx.netconsole))
        try:
            yield
        finally:
            if ctx.netconsole is not None:
                await ctx.netconsole.close()
            stop.set()
            if ctx.watcher is not None:
                ctx.watcher.stop()
            ctx.queue.stop()
            if ctx.alerts is not None:
                ctx.alerts.stop()

    return lifespan


def _start_background(ctx: Context, stop: threading.Event) -> None:
    settings = ctx.settings
    if single_node(settings):
        # The embedded hub is the only node: whatever a killed predecessor held is free again.
        n = ctx.hub.store.release_claims()
        if n:
            log.info("released %d claims of a previous run", n)
    log.info("garbage collection: %s", collect_garbage(ctx))
    ctx.queue.start()
    from crashhub.jobs import submit_if_needed

    submit_if_needed(ctx.hub.store, ctx.queue)  # buckets of an older signature algorithm: re-key them
    spool = settings.spool_path
    if spool is not None:
        ctx.watcher = SpoolWatcher(
            spool,
            ctx.pipeline,
            settle=settings.spool_settle,
            interval=settings.spool_interval,
            lease=settings.job_lease,
            max_files=settings.spool_max_files,
        )
        ctx.watcher.start()

    def periodic_gc() -> None:
        every = max(60.0, settings.blob_gc_grace)
        while not stop.wait(every):
            try:
                if leased(ctx, "gc", every):  # the blobs and uploads are the cluster's
                    collect_garbage(ctx)
            except Exception:
                log.exception("garbage collection failed")

    threading.Thread(target=periodic_gc, name="crashhub-gc", daemon=True).start()
    every = settings.retention_interval
    if every > 0:
        threading.Thread(
            target=periodic_retention, args=(ctx, stop, every), name="crashhub-retention", daemon=True
        ).start()
    if ctx.alerts is not None:
        ctx.alerts.start()


def _install_middleware(app: FastAPI, ctx: Context) -> None:
    # The UI's forms are read whole, into memory, before a handler checks who sent them (FastAPI
    # resolves Form parameters first), so their size is bounded here, by the announced length: the
    # server reads no more than that (h11).  The largest form is a knowledge-base entry.
    form_cap = max(UI_MAX_FORM, 4 * ctx.settings.max_kb_entry_bytes)  # %XX: 3 bytes per byte

    @app.middleware("http")
    async def cap_forms(request: Request, call_next: Any) -> Any:
        if request.method == "POST" and request.url.path.startswith("/ui/"):
            clen = request.headers.get("content-length", "")
            if not clen.isdigit():
                return _plain_error(411, "a form must be sent with a Content-Length")
            if int(clen) > form_cap:
                return _plain_error(413, f"form of {clen} bytes is larger than the limit of {form_cap} bytes")
        return await call_next(request)

    @app.middleware("http")
    async def count_requests(request: Request, call_next: Any) -> Any:
        response = await call_next(request)
        ctx.metrics.requests.labels(request.method, str(response.status_code)).inc()
        return response

    # Outermost: every request, answered by a route or refused by a middleware above, is one line.
    @app.middleware("http")
    async def access_log(request: Request, call_next: Any) -> Any:
        t0 = time.monotonic()
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
            return response
        finally:
            if access.isEnabledFor(logging.INFO):
                client = request.client.host if request.client else "-"
                access.info("%s %s %s %d %.0f ms", client, request.method,
                            access_target(request.url.path, request.url.query), status,
                            (time.monotonic() - t0) * 1000)


access = logging.getLogger("crashhub.access")
# Query parameters whose values never go into a log line (the API takes tokens in headers, but a
# client may still put one in a URL).
_SECRET_PARAM = re.compile(r"token|passw|secret|key|csrf|session|auth|sig", re.I)


def access_target(path: str, query: str) -> str:
    """The request target as the access log writes it: secret-looking parameters' values hidden."""
    if not query:
        return path
    parts = []
    for item in query.split("&"):
        name, eq, _value = item.partition("=")
        parts.append(f"{name}=***" if eq and _SECRET_PARAM.search(name) else item)
    return f"{path}?{'&'.join(parts)}"


def _install_health(app: FastAPI, ctx: Context) -> None:
    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, Any]:
        return {"ok": True}

    @app.get("/metrics", tags=["health"], response_class=PlainTextResponse)
    def metrics() -> PlainTextResponse:
        return PlainTextResponse(ctx.metrics.render(), media_type="text/plain; version=0.0.4")


class PathScrubber:
    """Error text for clients, without the hub's temp and upload paths.

    A dump refused while still in its temp file is named by that file (``<data>/blobs/tmp/vmcore.<node>_
    <pid>.<random>``): the client learns the data directory's layout and nothing it can use.  The
    answer names what the client sent instead ("uploaded vmcore"); the log keeps the full path.
    """

    def __init__(self, roots: list[Path]) -> None:
        names = sorted({str(p) for r in roots for p in (r, r.resolve())}, key=len, reverse=True)
        self._rx = re.compile("(?:" + "|".join(re.escape(n) for n in names) + r")/([^\s'\":]+)")

    @staticmethod
    def _name(m: re.Match[str]) -> str:
        base = m[1]
        if base.endswith(".part"):
            return "the resumable upload"
        field = base.split(".", 1)[0]
        return f"uploaded {field}" if field in ("log", "vmcore", "kexec_log") else "the uploaded file"

    def __call__(self, message: str) -> str:
        return self._rx.sub(self._name, message)


UI_MAX_FORM = 1 << 20
DISK_FULL = "the hub's data disk is full; nothing of this request was kept, try again later"


def _plain_error(status: int, message: str) -> JSONResponse:
    """An error answer whose text is ours alone (no path or input in it to scrub)."""
    return JSONResponse({"error": message}, status_code=status)


def _disk_full(request: Request, e: BaseException, ctx: Context) -> JSONResponse:
    # One line for the operator (what filled up), one for the client (no path of ours in it).
    log.error("data disk full: %s %s refused with 507: %s", request.method, request.url.path, e)
    ctx.metrics.errors.labels("api", "DiskFull").inc()
    return _plain_error(507, DISK_FULL)


def _install_errors(app: FastAPI, ctx: Context) -> None:
    blobs = ctx.hub.blobs
    public = PathScrubber([blobs.temp_path().parent, blobs.upload_path("x").parent])

    def _err(status: int, message: str, **extra: Any) -> JSONResponse:
        return JSONResponse({"error": public(message), **extra}, status_code=status)

    @app.exception_handler(ApiError)
    async def api_error(_r: Request, e: ApiError) -> JSONResponse:
        r = _err(e.status, e.message, **e.extra)
        if e.status == 429 and "retry_after" in e.extra:  # a rate limit: the header clients honour
            r.headers["Retry-After"] = str(e.extra["retry_after"])
        return r

    @app.exception_handler(OSError)
    async def os_error(r: Request, e: OSError) -> JSONResponse:
        if disk_full(e):
            return _disk_full(r, e, ctx)
        log.error("%s %s failed: %s", r.method, r.url.path, e)
        return _err(500, f"{type(e).__name__}: the hub could not read or write its data")

    @app.exception_handler(CrashhubError)
    async def crashhub_error(request: Request, e: CrashhubError) -> JSONResponse:
        if disk_full(e):
            return _disk_full(request, e, ctx)
        if isinstance(e, Forbidden):
            return _err(403, str(e))
        if isinstance(e, AuthError):
            return JSONResponse({"error": str(e)}, status_code=401, headers={"WWW-Authenticate": "Bearer"})
        ctx.metrics.errors.labels("api", type(e).__name__).inc()
        log.info("%s %s: %s: %s", request.method, request.url.path, type(e).__name__, e)
        if isinstance(e, MultipartError):
            return _err(e.status, str(e))
        if isinstance(e, DumpMismatchError):
            return _err(409, f"{type(e).__name__}: {e}")
        if isinstance(e, DumpTooLargeError):
            return _err(413, f"{type(e).__name__}: {e}")
        if isinstance(e, KbError | DumpError):
            return _err(422, f"{type(e).__name__}: {e}")
        if isinstance(e, InputError):
            return _err(400, f"{type(e).__name__}: {e}")
        if isinstance(e, StoreError):
            # The database failing (store/_sql.py says "database: ...") is the hub's trouble, for a
            # while; any other store error is about the request.  The prefix, not a word anywhere in
            # the message: a rule or bucket id the caller chose may be "database".
            return _err(503 if str(e).startswith("database:") else 400, f"{type(e).__name__}: {e}")
        return _err(500, f"{type(e).__name__}: {e}")

    @app.exception_handler(RequestValidationError)
    async def validation(_r: Request, e: RequestValidationError) -> JSONResponse:
        first = e.errors()[0] if e.errors() else {}
        where = ".".join(str(x) for x in first.get("loc", ()))
        return _err(400, f"{where}: {first.get('msg', 'invalid request')}")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_r: Request, e: StarletteHTTPException) -> JSONResponse:
        return _err(e.status_code, str(e.detail))
