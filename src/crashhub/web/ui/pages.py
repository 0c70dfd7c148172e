"""Reading pages: dashboard, bucket, crash, hosts, kernels, file downloads; login and logout."""

# ruff: noqa: PLC0415 - imports inside functions are deliberate: report and bundle code loads on use.

from __future__ import annotations

import asyncio
import os
import time
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from crashhub.errors import AuthError
from crashhub.store.base import BucketRecord, day_of
from crashhub.store.workflow import KB_STATUSES, effective_status, is_overdue
from crashhub.web.limits import backoff, retry_after
from crashhub.web.ui import views
from crashhub.web.ui.base import UI, PageError, Redirect, harden
from crashhub.web.ui.session import COOKIE

PAGE = 100
CHART_DAYS = 30
SORTS = ("count", "last_seen", "trend")
LOGIN_MAX_DELAY = 16.0  # seconds: the longest a login attempt on a much-guessed user name is held


def workflow(ui: UI, b: BucketRecord, now: float) -> dict[str, Any]:
    """The bucket's response state as the pages show it ("advice given" for ``advice_given``).

    A bucket stored before the workflow existed has no deadline: first seen + ``first_advice_hours``.
    """
    deadline = b.advice_deadline if b.advice_deadline is not None else b.first_seen + ui.advice_hours * 3600
    return {
        "status": effective_status(b.status, b.kb).replace("_", " "),
        "owner": b.owner,
        "advice": b.advice,
        "deadline": deadline,
        "overdue": is_overdue(b.status, b.kb, deadline, now),
    }


def _filtered(
    ui: UI,
    *,
    sort: str,
    kind: str | None,
    kernel: str | None,
    host: str | None,
    kb: str | None,
    since: float | None,
    offset: int,
) -> tuple[list[BucketRecord], int]:
    """One page of buckets under the filters (all done by the store, in SQL), and how many match."""
    if kb and kb not in KB_STATUSES:
        raise PageError(400, f"unknown KB status {kb!r} ({', '.join(KB_STATUSES)})")
    filters: dict[str, Any] = {"kind": kind, "kernel": kernel, "host": host, "kb_status": kb, "since": since}
    rows = ui.store.buckets.list_buckets(sort=sort, limit=PAGE, offset=offset, **filters, **ui.bucket_opts())
    return rows, ui.store.buckets.count_buckets(**filters)


def release_chart(ui: UI, now: float) -> views.Chart:
    def make() -> views.Chart:
        today = day_of(now)
        days = views.days_back(today, CHART_DAYS)
        since = now - CHART_DAYS * 86400
        return views.stacked_days(ui.store.crashes.crashes_per_day_by_release(since), days)

    return ui.cached("release-chart", 60.0, make)  # type: ignore[no-any-return]


def install(r: APIRouter, ui: UI) -> None:
    store = ui.store

    @r.get("/", include_in_schema=False)
    def root() -> Response:
        return RedirectResponse("/ui/", status_code=307)

    @r.get("/ui/login", include_in_schema=False)
    @ui.page
    def login_form(request: Request, next: str = "/ui/") -> Response:
        return ui.render(request, "login.html", {"next": _safe_next(next), "error": None})

    def _login_page(request: Request, nxt: str, error: str, status: int) -> Response:
        return ui.render(request, "login.html", {"next": _safe_next(nxt), "error": error}, status)

    def _login_gate(request: Request, csrf: str, username: str, token: str, nxt: str) -> Response | float:
        """A refusal page, or how long to hold this attempt (the user name's growing delay)."""
        try:
            ui.check_csrf(request, csrf)
        except PageError as e:
            return _login_page(request, nxt, e.message, e.status)
        # Behind a reverse proxy this is the client's address only when uvicorn trusts the proxy's
        # X-Forwarded-For (setting forwarded_allow_ips, docs/deploy.md); else every login shares the proxy's.
        addr = request.client.host if request.client else "unknown"
        # Every attempt is counted before its password is checked (so parallel guesses cannot slip
        # past the limit between a check and a count); a login that succeeds is taken back, so the
        # limits count failed attempts.  An address past the limit is refused: it only locks itself out.
        wait = ui.login_by_addr.hit(addr)
        if wait is not None:
            n = retry_after(wait)
            page = _login_page(request, nxt, f"Too many login attempts: try again in {n} s.", 429)
            page.headers["Retry-After"] = str(n)
            return page
        if token.strip():
            return 0.0
        # A user name is never refused (that let anyone lock a known user out from anywhere): past
        # the limit each attempt on it waits longer, 1, 2, 4 … up to LOGIN_MAX_DELAY seconds.
        failures = ui.login_by_user.count(username)
        ui.login_by_user.hit(username)
        return backoff(failures, ui.login_by_user.limit, LOGIN_MAX_DELAY)

    def _login_check(request: Request, username: str, password: str, token: str, nxt: str) -> Response:
        try:
            if token.strip():
                _s, cookie = ui.sessions.login_token(token)
            else:
                role = ui.users.verify(username, password)
                if role is None:
                    raise AuthError("wrong user name or password")
                _s, cookie = ui.sessions.issue(username, role)
        except AuthError as e:
            store.access.audit(f"ui:{username or 'token'}", "ui-login-failed", "ui", {"error": str(e)})
            return _login_page(request, nxt, str(e), 401)
        ui.login_by_addr.take_back(request.client.host if request.client else "unknown")
        if not token.strip():
            ui.login_by_user.take_back(username)
        resp = RedirectResponse(_safe_next(nxt), status_code=303)
        secure = request.url.scheme == "https"
        resp.set_cookie(COOKIE, cookie, httponly=True, samesite="lax", secure=secure, path="/")
        return resp

    @r.post("/ui/login", include_in_schema=False)
    async def login(
        request: Request,
        *,
        csrf: str = Form(""),
        username: str = Form(""),
        password: str = Form(""),
        token: str = Form(""),
        next: str = Form("/ui/"),
    ) -> Response:
        gate = await run_in_threadpool(_login_gate, request, csrf, username, token, next)
        if isinstance(gate, Response):
            return gate
        if gate > 0:
            # Held in the event loop, not in a worker thread: guesses waiting here tie up nothing.
            await asyncio.sleep(gate)
        return await run_in_threadpool(_login_check, request, username, password, token, next)

    @r.post("/ui/logout", include_in_schema=False)
    @ui.page
    def logout(request: Request, csrf: str = Form("")) -> Response:
        ui.check_csrf(request, csrf)
        s = ui.session(request)
        if s is not None:
            # Server-side: deleting the browser's cookie alone left every copy of it valid for 12 h.
            ui.guard("logout", lambda: ui.sessions.end(s))
            store.access.audit(s.actor, "ui-logout", "ui")
        resp = RedirectResponse("/ui/login", status_code=303)
        resp.delete_cookie(COOKIE, path="/")
        return resp

    @r.get("/ui/lang/{lang}", include_in_schema=False)
    def set_lang(lang: str, next: str = "/ui/") -> Response:
        resp = RedirectResponse(_safe_next(next), status_code=303)
        if lang in ("en", "zh"):
            resp.set_cookie("chub_lang", lang, samesite="lax", path="/", max_age=365 * 86400)
        return resp

    @r.get("/ui/static/{name}", include_in_schema=False)
    def static(name: str) -> Response:
        from crashhub.web.ui.base import HERE

        allowed = {"ui.css": "text/css", "ui.js": "text/javascript"}
        if name not in allowed:
            return Response("not found", status_code=404)
        return FileResponse(HERE / "static" / name, media_type=allowed[name])

    @r.get("/ui/", include_in_schema=False)
    @ui.page
    def dashboard(
        request: Request,
        *,
        sort: str = Query("count"),
        kind: str = "",
        kernel: str = "",
        host: str = "",
        kb: str = "",
        window: str = "",
        offset: int = Query(0, ge=0, le=10_000_000),
    ) -> Response:
        ui.require(request)
        if sort not in SORTS:
            raise PageError(400, f"unknown sort {sort!r} ({', '.join(SORTS)})")
        now = time.time()
        rows, total = _filtered(
            ui,
            sort=sort,
            kind=kind or None,
            kernel=kernel or None,
            host=host or None,
            kb=kb or None,
            since=views.since_of(window, now),
            offset=offset,
        )
        today = day_of(now)
        buckets = [
            {
                "b": b,
                "kb": views.kb_status(b.kb),
                "spark": views.sparkline(b.days, today),
                "wf": workflow(ui, b, now),
            }
            for b in rows
        ]
        kernels = ui.cached("kernels", 60.0, store.crashes.crash_releases)
        from crashhub.kb import KINDS

        filt = {"sort": sort, "kind": kind, "kernel": kernel, "host": host, "kb": kb, "window": window}

        def link(**kw: Any) -> str:
            q = {k: v for k, v in {**filt, **kw}.items() if v not in ("", None, 0)}
            return "/ui/?" + urlencode(q)

        ctx = {
            "buckets": buckets,
            "total": total,
            "offset": offset,
            "page": PAGE,
            "f": filt,
            "kinds": KINDS,
            "kernels": kernels,
            "chart": release_chart(ui, now),
            "link": link,
            "overdue": sum(1 for x in buckets if _overdue(x)),
        }
        return ui.render(request, "dashboard.html", ctx)

    @r.get("/ui/buckets/{bucket_id}", include_in_schema=False)
    @ui.page
    def bucket(request: Request, bucket_id: str) -> Response:
        ui.require(request)
        b = store.buckets.get_bucket(bucket_id, **ui.bucket_opts())
        if b is None:
            raise PageError(404, f"No bucket {bucket_id!r}.")
        now = time.time()
        first = day_of(b.first_seen)
        today = day_of(now)
        span = max(14, min(180, (int(now - b.first_seen) // 86400) + 2))
        days = views.days_back(today, span)
        if days[0] > first:
            days = views.days_back(today, 180)
        chart = views.stacked_days({"crashes": b.days}, days)
        crashes = store.crashes.list_crashes(bucket=bucket_id, limit=50)
        entries = [(m, ui.ctx.kb.get(str(m.get("id") or m.get("entry_id")))) for m in b.kb]
        ctx = {
            "b": b,
            "kbs": views.kb_status(b.kb),
            "chart": chart,
            "crashes": crashes,
            "entries": entries,
            "events": store.buckets.bucket_events(bucket_id),
            "similar": similar_buckets(ui, b),
            "wf": workflow(ui, b, now),
            "can_workflow": True,
        }
        return ui.render(request, "bucket.html", ctx)

    @r.post("/ui/buckets/{bucket_id}/merge", include_in_schema=False)
    @ui.page
    def merge(request: Request, bucket_id: str, csrf: str = Form(""), into: str = Form("")) -> Response:
        s = ui.require(request, admin=True)
        ui.check_csrf(request, csrf)
        target = ui.guard("merge", lambda: store.buckets.merge_buckets(bucket_id, into.strip(), s.actor))
        ui.invalidate()
        raise Redirect(f"/ui/buckets/{target.id}")

    @r.post("/ui/buckets/{bucket_id}/split", include_in_schema=False)
    @ui.page
    def split(
        request: Request,
        bucket_id: str,
        csrf: str = Form(""),
        crash: list[str] = Form([]),  # noqa: B008
        title: str = Form(""),
    ) -> Response:
        s = ui.require(request, admin=True)
        ui.check_csrf(request, csrf)
        if not crash:
            raise PageError(400, "Tick the crashes to move into a new bucket.")
        new = ui.guard(
            "split", lambda: store.buckets.split_bucket(bucket_id, crash, s.actor, title.strip() or None)
        )
        ui.invalidate()
        raise Redirect(f"/ui/buckets/{new.id}")

    @r.post("/ui/buckets/{bucket_id}/workflow", include_in_schema=False)
    @ui.page
    def set_workflow(
        request: Request,
        bucket_id: str,
        *,
        csrf: str = Form(""),
        status: str = Form(""),
        owner: str = Form(""),
        advice: str = Form(""),
    ) -> Response:
        s = ui.require(request, admin=True)
        ui.check_csrf(request, csrf)
        ui.guard(
            "workflow",
            lambda: store.buckets.set_bucket_workflow(
                bucket_id, status=status or None, owner=owner, advice=advice, actor=s.actor
            ),
        )
        ui.invalidate()
        raise Redirect(f"/ui/buckets/{bucket_id}")

    @r.get("/ui/crashes/{crash_id}", include_in_schema=False)
    @ui.page
    def crash(request: Request, crash_id: str) -> Response:
        ui.require(request)
        c = store.crashes.get_crash(crash_id)
        if c is None:
            raise PageError(404, f"No crash {crash_id!r}.")
        best = next((m for m in c.kb if not m.get("generic")), None) or (c.kb[0] if c.kb else None)
        entry = ui.ctx.kb.get(str(best.get("id") or best.get("entry_id"))) if best else None
        ctx = {
            "c": c,
            "best": best,
            "entry": entry,
            "kbs": views.kb_status(c.kb),
            "oops": views.oops_excerpt(c.report),
            "frames": views.frames_of(c.report),
            "facts": views.dump_facts(c.dump_facts),
            "an": views.analysis_view(c.analysis),
            "taint": (c.report or {}).get("taint") or {},
        }
        return ui.render(request, "crash.html", ctx)

    @r.post("/ui/crashes/{crash_id}/pin", include_in_schema=False)
    @ui.page
    def pin(request: Request, crash_id: str, csrf: str = Form(""), on: int = Form(1)) -> Response:
        s = ui.require(request, admin=True)
        ui.check_csrf(request, csrf)
        c = store.crashes.get_crash(crash_id)
        if c is None:
            raise PageError(404, f"No crash {crash_id!r}.")
        if on and not c.dump_kept:
            raise PageError(409, "This crash has no dump left to pin.")
        ui.guard("pin", lambda: store.retention.pin_dump(crash_id, s.actor, pinned=bool(on)))
        raise Redirect(f"/ui/crashes/{crash_id}#dump")

    @r.get("/ui/crashes/{crash_id}/files/{name}", include_in_schema=False)
    @ui.page
    def crash_file(request: Request, crash_id: str, name: str) -> Response:
        s = ui.require(request)
        c = store.crashes.get_crash(crash_id)
        f = next((x for x in c.files if x.name == name), None) if c else None
        if c is None or f is None:
            raise PageError(404, f"Crash {crash_id!r} has no file {name!r}.")
        if f.role == "vmcore":
            if not s.is_admin:
                raise PageError(403, "Only admins may download dumps.")
            client = request.client.host if request.client else None
            detail = {"size": f.size, "client": client}
            store.access.audit(s.actor, "download-dump", f"{crash_id}/{name}", detail)
        media = "application/octet-stream" if f.role == "vmcore" else "text/plain; charset=utf-8"
        return FileResponse(ui.ctx.hub.blobs.local_path(f.digest), media_type=media, filename=name)

    @r.get("/ui/crashes/{crash_id}/report", include_in_schema=False)
    @ui.page
    def crash_report(request: Request, crash_id: str, format: str = "html") -> Response:
        ui.require(request)
        from crashhub.report import render

        lang = ui.lang(request)
        doc = ui.guard("report", lambda: render.crash_doc(ui.ctx.hub, ui.ctx.kb, crash_id))
        return _report_response(render, doc, format, lang, f"crash-{crash_id}")

    @r.get("/ui/buckets/{bucket_id}/report", include_in_schema=False)
    @ui.page
    def bucket_report(request: Request, bucket_id: str, format: str = "html") -> Response:
        ui.require(request)
        from crashhub.report import render

        lang = ui.lang(request)
        doc = ui.guard("report", lambda: render.bucket_doc(ui.ctx.hub, ui.ctx.kb, bucket_id))
        return _report_response(render, doc, format, lang, f"bucket-{bucket_id}")

    @r.get("/ui/weekly", include_in_schema=False)
    @ui.page
    def weekly(request: Request, format: str = "html") -> Response:
        ui.require(request)
        from crashhub.report import render

        doc = ui.guard("report", lambda: render.weekly_doc(ui.ctx.hub))
        return _report_response(render, doc, format, ui.lang(request), "weekly")

    @r.get("/ui/crashes/{crash_id}/bundle", include_in_schema=False)
    @ui.page
    def bundle(request: Request, crash_id: str, dump: int = 0) -> Response:
        s = ui.require(request, admin=bool(dump))
        import tempfile
        from pathlib import Path

        from starlette.background import BackgroundTask

        from crashhub.report.bundle import make_bundle

        fd, name = tempfile.mkstemp(prefix="crashhub-bundle-", suffix=".tar.gz")
        os.close(fd)
        out = Path(name)
        ui.guard("bundle", lambda: make_bundle(ui.ctx.hub, ui.ctx.kb, crash_id, out, with_dump=bool(dump)))
        store.access.audit(s.actor, "bundle" + ("-with-dump" if dump else ""), crash_id)
        return FileResponse(
            out,
            media_type="application/gzip",
            filename=f"crashhub-{crash_id}.tar.gz",
            background=BackgroundTask(out.unlink, missing_ok=True),
        )

    @r.get("/ui/hosts", include_in_schema=False)
    @ui.page
    def hosts(request: Request) -> Response:
        ui.require(request)
        rows = sorted(store.hosts.list_hosts(), key=lambda h: (-h.crashes, h.name))
        return ui.render(request, "hosts.html", {"hosts": rows})

    @r.get("/ui/kernels", include_in_schema=False)
    @ui.page
    def kernels_page(request: Request) -> Response:
        ui.require(request)
        from crashhub.jobs.handlers import find_vmlinux

        vdir = ui.ctx.settings.vmlinux_dir
        rows = [
            {"k": k, "debuginfo": find_vmlinux(vdir, k.release) is not None}
            for k in sorted(store.hosts.list_kernels(), key=lambda k: (-k.crashes, k.release))
        ]
        return ui.render(request, "kernels.html", {"kernels": rows})


def _overdue(row: dict[str, Any]) -> bool:
    return bool(row["wf"]["overdue"])


def similar_buckets(ui: UI, b: BucketRecord, limit: int = 5) -> list[tuple[BucketRecord, float]]:
    """Buckets whose stacks look like this one's (``crashhub.classify.similarity``), best first."""
    try:
        from crashhub.classify.similarity import similarity
    except ImportError:
        return []
    from crashhub.model import Signature

    def sig(x: BucketRecord) -> Signature:
        return Signature(x.algorithm, x.key, x.title, frames=x.frames, kind=x.kind)

    me = sig(b)
    pool = ui.cached(
        "similar-pool",
        30.0,
        lambda: ui.store.buckets.list_buckets(sort="count", limit=1000, **ui.bucket_opts()),
    )
    scored = [(o, similarity(me, sig(o))) for o in pool if o.id != b.id and o.frames]
    scored = [x for x in scored if x[1] >= 0.3]
    scored.sort(key=lambda x: -x[1])
    return scored[:limit]


def _report_response(render: Any, doc: dict[str, Any], fmt: str, lang: str, stem: str) -> Response:
    # The headers of every other page (issue 14): the report shows the same crash data.  Its one
    # inline style is allowed by hash; nothing else loads, runs, frames it or submits from it.
    csp = (f"default-src 'none'; style-src {render.STYLE_HASH}; img-src data:; base-uri 'none'; "
           "form-action 'none'; frame-ancestors 'none'")
    if fmt == "json":
        return harden(Response(render.to_json(doc), media_type="application/json"), csp)
    if fmt in ("md", "markdown"):
        return harden(Response(
            render.to_markdown(doc, lang),
            media_type="text/markdown; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{stem}.md"'},
        ), csp)
    if fmt == "html":
        return harden(Response(render.to_html(doc, lang), media_type="text/html; charset=utf-8"), csp)
    raise PageError(400, f"unknown format {fmt!r} (html, md, json)")


def _safe_next(nxt: str) -> str:
    # Only local paths: a login link must not bounce the user to another site.
    return nxt if nxt.startswith("/") and not nxt.startswith("//") and "\\" not in nxt else "/ui/"
