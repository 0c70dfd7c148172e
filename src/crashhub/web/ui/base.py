"""What every page shares: templates, the session, CSRF, language, and HTML error pages.

Pages are plain sync FastAPI endpoints wrapped by :func:`page`, which turns :class:`Redirect` and
:class:`PageError` into responses here: the app's own exception handlers answer in JSON for the
API, and an ``APIRouter`` cannot install handlers of its own.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ParamSpec, TypeVar
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markdown_it import MarkdownIt
from markupsafe import Markup

from crashhub import __version__, i18n
from crashhub.errors import CrashhubError, PageError, Redirect
from crashhub.web._limits import Limit
from crashhub.web.ui import views
from crashhub.web.ui.session import (
    COOKIE,
    PRE_COOKIE,
    Session,
    Sessions,
    Users,
    import_users_file,
    load_secret,
)

if TYPE_CHECKING:
    from crashhub.web._app import Context

HERE = Path(__file__).resolve().parent
log = logging.getLogger("crashhub.web.ui")
P = ParamSpec("P")


def _markdown() -> Callable[[str | None], Markup]:
    # Raw HTML off: KB advice is written by people, but a page must not run what they paste.
    md = MarkdownIt("commonmark", {"html": False, "linkify": False})

    def render(text: str | None) -> Markup:
        return Markup(md.render(text or ""))

    return render


PAGE_CSP = (
    "default-src 'self'; style-src 'self'; script-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'"
)


_R = TypeVar("_R", bound=Response)


def harden(resp: _R, csp: str = PAGE_CSP) -> _R:
    """The headers every UI page carries: its content policy, never framed, never cached (pages show
    crash data to a logged-in user; a shared proxy or the browser's back button must not keep them)."""
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["X-Frame-Options"] = "DENY"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Content-Security-Policy"] = csp
    return resp


class UI:
    """The UI's state, made once per app by :func:`crashhub.web.ui.install` (``app.state.ui``)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.store = ctx.hub.store
        data = Path(ctx.settings.data_dir)
        self.sessions = Sessions(load_secret(data), self.store)
        self.users = Users(self.store)
        legacy = data / "ui-users.json"
        if legacy.exists():
            # A hub from before the users moved into the database (migration 0006): its logins
            # go on working. The database away at start: the file stays and is tried next start.
            try:
                import_users_file(self.store, legacy)
            except CrashhubError as e:
                log.warning("%s: not imported: %s", legacy, e)
        s = ctx.settings
        # Failed logins per user name (guessing one account's password from many addresses) and
        # per client address (trying many names from one place); both counted in the database.
        per, window = s.login_rate_limit, s.login_rate_window
        self.login_by_user = Limit(self.store, "login-user", per, window)
        self.login_by_addr = Limit(self.store, "login-addr", per, window)
        self.env = Environment(
            loader=FileSystemLoader(str(HERE / "templates")),
            autoescape=select_autoescape(["html"]),
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=False,
        )
        self.env.filters["md"] = _markdown()
        self.env.filters["t"] = views.fmt_time
        self.env.filters["size"] = views.human_size
        self.env.filters["q"] = lambda s: quote(str(s), safe="")
        self.env.globals["version"] = __version__
        self.advice_hours = ctx.settings.first_advice_hours
        self._cache: dict[str, tuple[float, Any]] = {}
        self._lock = threading.Lock()
        self._refreshing: set[str] = set()

    # ------------------------------------------------------------------ caching of costly page parts
    def cached(self, key: str, ttl: float, make: Callable[[], Any]) -> Any:
        """``make()``'s value, kept ``ttl`` seconds; past that the old value is served while one
        background thread makes a new one (stale-while-revalidate), so a page never waits for a
        costly aggregate except on the very first request and after :meth:`invalidate`."""
        hit = self._cache.get(key)
        t = time.monotonic()
        if hit is not None:
            if t - hit[0] >= ttl:
                self._refresh(key, make)
            return hit[1]
        value = make()
        self._cache[key] = (t, value)
        return value

    def _refresh(self, key: str, make: Callable[[], Any]) -> None:
        with self._lock:
            if key in self._refreshing:
                return
            self._refreshing.add(key)

        def run() -> None:
            try:
                self._cache[key] = (time.monotonic(), make())
            except Exception:  # the stale value stays; the next request tries again
                log.exception("refreshing %s failed", key)
            finally:
                with self._lock:
                    self._refreshing.discard(key)

        threading.Thread(target=run, name=f"crashhub-ui-{key}", daemon=True).start()

    def invalidate(self) -> None:
        self._cache.clear()

    # ------------------------------------------------------------------ session and CSRF
    def session(self, request: Request) -> Session | None:
        return self.sessions.read(request.cookies.get(COOKIE))

    def require(self, request: Request, *, admin: bool = False) -> Session:
        s = self.session(request)
        if s is None:
            nxt = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            raise Redirect("/ui/login?next=" + quote(nxt, safe=""))
        if admin and not s.is_admin:
            raise PageError(403, "This needs an admin login.")
        return s

    def csrf_for(self, request: Request) -> tuple[str, str | None]:
        """(token, new pre-session nonce to set as a cookie, if one had to be made)."""
        s = self.session(request)
        if s is not None:
            return self.sessions.csrf(s.nonce), None
        pre = request.cookies.get(PRE_COOKIE)
        new = None
        if not pre or len(pre) > 64:
            import secrets  # noqa: PLC0415

            pre = new = secrets.token_urlsafe(16)
        return self.sessions.csrf(pre), new

    def check_csrf(self, request: Request, token: str | None) -> None:
        s = self.session(request)
        nonce = s.nonce if s is not None else request.cookies.get(PRE_COOKIE)
        if not self.sessions.check_csrf(nonce, token):
            raise PageError(403, "The form's CSRF token is missing or stale: reload the page and try again.")

    # ------------------------------------------------------------------ rendering
    def lang(self, request: Request) -> str:
        return i18n.negotiate(request.headers.get("accept-language"), request.cookies.get("chub_lang"))

    def render(
        self, request: Request, template: str, context: dict[str, Any], status: int = 200
    ) -> HTMLResponse:
        lang = self.lang(request)
        token, new_pre = self.csrf_for(request)
        s = self.session(request)
        html = self.env.get_template(template).render(
            _=i18n.gettext(lang),
            lang=lang,
            csrf=token,
            user=s,
            path=request.url.path,
            kind_summary=lambda k: i18n.kind_summary(k, lang),
            **context,
        )
        resp = HTMLResponse(html, status_code=status)
        if new_pre:
            resp.set_cookie(PRE_COOKIE, new_pre, httponly=True, samesite="lax", path="/ui")
        return harden(resp)

    def bucket_opts(self) -> dict[str, Any]:
        s = self.ctx.settings
        return {
            "spike_days": s.spike_days,
            "spike_factor": s.spike_factor,
            "spike_min": s.spike_min,
        }

    def guard(self, what: str, fn: Callable[[], Any]) -> Any:
        """Run a store/KB call and turn its typed error into a 400 page naming what failed."""
        try:
            return fn()
        except CrashhubError as e:
            raise PageError(400, "{what}: {error}", what=what, error=f"{type(e).__name__}: {e}") from None


def ui_state(request: Request) -> UI:
    """The app's UI state, given to every page by ``Depends``."""
    ui: UI = request.app.state.ui
    return ui


UIState = Annotated[UI, Depends(ui_state)]


def page(fn: Callable[P, Response]) -> Callable[P, Response]:
    """Wrap an endpoint so :class:`Redirect` and :class:`PageError` become responses (the error page
    is rendered with the ``ui`` and ``request`` the endpoint was given)."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> Response:
        try:
            return fn(*args, **kwargs)
        except Redirect as r:
            return RedirectResponse(r.url, status_code=303)
        except PageError as e:
            req, ui = kwargs.get("request"), kwargs.get("ui")
            if isinstance(req, Request) and isinstance(ui, UI):
                msg = i18n.gettext(ui.lang(req))(e.template)
                ctx = {"status": e.status, "message": msg.format(**e.params) if e.params else msg}
                return ui.render(req, "error.html", ctx, e.status)
            return HTMLResponse(f"<h1>{e.status}</h1>", status_code=e.status)

    return wrapper
