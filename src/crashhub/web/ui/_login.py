"""Signing in and out, the language switch and the UI's static files; ``/`` leads to the dashboard."""

# ruff: noqa: PLC0415 - the UI's directory is looked up only when a static file is asked for

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Form, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from crashhub import i18n
from crashhub.errors import AuthError, PageError
from crashhub.web._limits import backoff, retry_after
from crashhub.web.ui.base import UI, UIState, page
from crashhub.web.ui.session import COOKIE

router = APIRouter()

LOGIN_MAX_DELAY = 16.0  # seconds: the longest a login attempt on a much-guessed user name is held


@router.get("/", include_in_schema=False)
def root() -> Response:
    return RedirectResponse("/ui/", status_code=307)


@router.get("/ui/login", include_in_schema=False)
@page
def login_form(request: Request, ui: UIState, next: str = "/ui/") -> Response:
    return ui.render(request, "login.html", {"next": _safe_next(next), "error": None})


@router.post("/ui/login", include_in_schema=False)
async def login(
    request: Request,
    ui: UIState,
    *,
    csrf: str = Form(""),
    username: str = Form(""),
    password: str = Form(""),
    token: str = Form(""),
    next: str = Form("/ui/"),
) -> Response:
    gate = await run_in_threadpool(
        _login_gate, ui, request, csrf=csrf, username=username, token=token, nxt=next
    )
    if isinstance(gate, Response):
        return gate
    if gate > 0:
        # Held in the event loop, not in a worker thread: guesses waiting here tie up nothing.
        await asyncio.sleep(gate)
    return await run_in_threadpool(
        _login_check, ui, request, username=username, password=password, token=token, nxt=next
    )


@router.post("/ui/logout", include_in_schema=False)
@page
def logout(request: Request, ui: UIState, csrf: str = Form("")) -> Response:
    ui.check_csrf(request, csrf)
    s = ui.session(request)
    if s is not None:
        # Server-side: deleting the browser's cookie alone left every copy of it valid for 12 h.
        ui.guard("logout", lambda: ui.sessions.end(s))
        ui.store.access.audit(s.actor, "ui-logout", "ui")
    resp = RedirectResponse("/ui/login", status_code=303)
    resp.delete_cookie(COOKIE, path="/")
    return resp


@router.get("/ui/lang/{lang}", include_in_schema=False)
def set_lang(lang: str, next: str = "/ui/") -> Response:
    resp = RedirectResponse(_safe_next(next), status_code=303)
    if lang in ("en", "zh"):
        resp.set_cookie("chub_lang", lang, samesite="lax", path="/", max_age=365 * 86400)
    return resp


@router.get("/ui/static/{name}", include_in_schema=False)
def static(name: str) -> Response:
    from crashhub.web.ui.base import HERE

    allowed = {"ui.css": "text/css", "ui.js": "text/javascript"}
    if name not in allowed:
        return Response("not found", status_code=404)
    return FileResponse(HERE / "static" / name, media_type=allowed[name])


def _login_page(ui: UI, request: Request, nxt: str, error: str, status: int, **params: str) -> Response:
    """The login form again, with ``error`` (a message id; ``params`` fill its placeholders)."""
    msg = i18n.gettext(ui.lang(request))(error)
    msg = msg.format(**params) if params else msg
    return ui.render(request, "login.html", {"next": _safe_next(nxt), "error": msg}, status)


def _login_gate(
    ui: UI, request: Request, *, csrf: str, username: str, token: str, nxt: str
) -> Response | float:
    """A refusal page, or how long to hold this attempt (the user name's growing delay)."""
    try:
        ui.check_csrf(request, csrf)
    except PageError as e:
        return _login_page(ui, request, nxt, e.template, e.status, **e.params)
    # Behind a reverse proxy this is the client's address only when uvicorn trusts the proxy's
    # X-Forwarded-For (setting forwarded_allow_ips, docs/deploy.md); else every login shares the proxy's.
    addr = request.client.host if request.client else "unknown"
    # Every attempt is counted before its password is checked (so parallel guesses cannot slip
    # past the limit between a check and a count); a login that succeeds is taken back, so the
    # limits count failed attempts.  An address past the limit is refused: it only locks itself out.
    wait = ui.login_by_addr.hit(addr)
    if wait is not None:
        n = retry_after(wait)
        refused = _login_page(ui, request, nxt, "Too many login attempts: try again in {n} s.", 429, n=str(n))
        refused.headers["Retry-After"] = str(n)
        return refused
    if token.strip():
        return 0.0
    # A user name is never refused (that let anyone lock a known user out from anywhere): past
    # the limit each attempt on it waits longer, 1, 2, 4 … up to LOGIN_MAX_DELAY seconds.
    failures = ui.login_by_user.count(username)
    ui.login_by_user.hit(username)
    return backoff(failures, ui.login_by_user.limit, LOGIN_MAX_DELAY)


def _login_check(
    ui: UI, request: Request, *, username: str, password: str, token: str, nxt: str
) -> Response:
    try:
        if token.strip():
            _s, cookie = ui.sessions.login_token(token)
        else:
            role = ui.users.verify(username, password)
            if role is None:
                raise AuthError("wrong user name or password")
            _s, cookie = ui.sessions.issue(username, role)
    except AuthError as e:
        ui.store.access.audit(f"ui:{username or 'token'}", "ui-login-failed", "ui", {"error": str(e)})
        return _login_page(ui, request, nxt, str(e), 401)
    ui.login_by_addr.take_back(request.client.host if request.client else "unknown")
    if not token.strip():
        ui.login_by_user.take_back(username)
    resp = RedirectResponse(_safe_next(nxt), status_code=303)
    secure = request.url.scheme == "https"
    resp.set_cookie(COOKIE, cookie, httponly=True, samesite="lax", secure=secure, path="/")
    return resp


def _safe_next(nxt: str) -> str:
    # Only local paths: a login link must not bounce the user to another site.
    return nxt if nxt.startswith("/") and not nxt.startswith("//") and "\\" not in nxt else "/ui/"
