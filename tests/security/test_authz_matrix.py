"""Who may call what: every route of the app (read from ``app.routes``) × anonymous/host/viewer/admin.

``EXPECTED`` names, per route, the roles it lets through; every other role must be refused (401 or
403, or for a UI page a redirect to the login form).  A route missing from ``EXPECTED`` (a new one)
fails the test until someone decides who may call it.  Let through means: anything but a refusal
(a 400 for the empty body sent here, a 404, a 409 are all "past the door").
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from tests.security.conftest import ROLES, SecHub, csrf_of

ALL = frozenset(ROLES)
READ = frozenset({"viewer", "admin"})
UPLOAD = frozenset({"host", "admin"})
ADMIN = frozenset({"admin"})

EXPECTED: dict[str, frozenset[str]] = {
    # documents and probes: public (the metrics carry counts, no crash data)
    "GET /api/v1/openapi.json": ALL,
    "GET /api/v1/docs": ALL,
    "GET /docs/oauth2-redirect": ALL,
    "GET /healthz": ALL,
    "GET /metrics": ALL,
    # API v1
    "POST /api/v1/crashes": UPLOAD,
    "GET /api/v1/crashes": READ,
    "GET /api/v1/crashes/{crash_id}": READ,
    "GET /api/v1/crashes/{crash_id}/files": READ,
    "GET /api/v1/crashes/{crash_id}/files/{name}": READ,
    "GET /api/v1/crashes/{crash_id}/vmcore/upload": UPLOAD,
    "PUT /api/v1/crashes/{crash_id}/vmcore": UPLOAD,
    "POST /api/v1/crashes/{crash_id}/analyze": ADMIN,
    "GET /api/v1/buckets": READ,
    "GET /api/v1/buckets/{bucket_id}": READ,
    "POST /api/v1/buckets/{bucket_id}/merge": ADMIN,
    "PATCH /api/v1/buckets/{bucket_id}": ADMIN,
    "POST /api/v1/buckets/{bucket_id}/split": ADMIN,
    "GET /api/v1/buckets/{bucket_id}/similar": READ,
    "GET /api/v1/bucket-rules": READ,
    "DELETE /api/v1/bucket-rules/{rule_id}": ADMIN,
    "GET /api/v1/rekeys": READ,
    "POST /api/v1/rekey": ADMIN,
    "GET /api/v1/kb": READ,
    "GET /api/v1/kb/{entry_id}": READ,
    "POST /api/v1/kb": ADMIN,
    "PUT /api/v1/kb/{entry_id}": ADMIN,
    "DELETE /api/v1/kb/{entry_id}": ADMIN,
    "POST /api/v1/hosts/report": UPLOAD,
    "GET /api/v1/hosts": READ,
    "GET /api/v1/kernels": READ,
    "GET /api/v1/coverage": READ,
    "GET /api/v1/jobs": READ,
    "GET /api/v1/audit": ADMIN,
    "GET /api/v1/debuginfo": READ,
    # kernel readiness: a check runs QEMU on a worker and stores the packages (an admin's); reports are read
    "POST /api/v1/kernels/check": ADMIN,
    "GET /api/v1/kernels/check/{job_id}": ADMIN,
    "GET /api/v1/kernels/readiness": READ,
    "GET /api/v1/kernels/{release}/readiness": READ,
    # retention: pins and deletions are an admin's (deletions audited)
    "PUT /api/v1/crashes/{crash_id}/pin": ADMIN,
    "DELETE /api/v1/crashes/{crash_id}/pin": ADMIN,
    "DELETE /api/v1/crashes/{crash_id}": ADMIN,
    "DELETE /api/v1/hosts/{host}": ADMIN,
    "GET /api/v1/retention": ADMIN,
    "GET /api/v1/netconsole": ADMIN,
    # debuginfod protocol: without a token by design (clients send none; docs/settings.md `debuginfod`)
    "GET /buildid/{build_id}/debuginfo": ALL,
    "GET /buildid/{build_id}/executable": ALL,
    "GET /buildid/{build_id}/source/{path:path}": ALL,
    # UI: a host token never opens a UI session (a host is a machine, not a reader)
    "GET /": ALL,
    "GET /ui/login": ALL,
    "POST /ui/login": READ,  # with the role's own token: a host token cannot open a UI session
    "POST /ui/logout": ALL,
    "GET /ui/lang/{lang}": ALL,
    "GET /ui/static/{name}": ALL,
    "GET /ui/": READ,
    "GET /ui/buckets/{bucket_id}": READ,
    "POST /ui/buckets/{bucket_id}/merge": ADMIN,
    "POST /ui/buckets/{bucket_id}/split": ADMIN,
    "POST /ui/buckets/{bucket_id}/rules/{rule_id}/delete": ADMIN,
    "POST /ui/buckets/{bucket_id}/workflow": ADMIN,
    "GET /ui/crashes/{crash_id}": READ,
    "GET /ui/crashes/{crash_id}/files/{name}": READ,
    "GET /ui/crashes/{crash_id}/report": READ,
    "POST /ui/crashes/{crash_id}/pin": ADMIN,
    "GET /ui/buckets/{bucket_id}/report": READ,
    "GET /ui/weekly": READ,
    "GET /ui/crashes/{crash_id}/bundle": READ,
    "GET /ui/hosts": READ,
    "GET /ui/kernels": READ,
    "GET /ui/coverage": READ,
    "GET /ui/kernels/{release}/readiness": READ,
    "GET /ui/crashes": READ,
    "GET /ui/search": READ,
    "GET /ui/source/{release}/{path:path}": READ,
    "GET /ui/kb": READ,
    "GET /ui/kb/new": ADMIN,
    "GET /ui/kb/{entry_id}": READ,
    "GET /ui/kb/{entry_id}/edit": ADMIN,
    "POST /ui/kb/preview": ADMIN,
    "POST /ui/kb/save": ADMIN,
    "POST /ui/kb/{entry_id}/delete": ADMIN,
}


def _flat(routes: list[Any]) -> Iterator[tuple[str, Any]]:
    """(prefix, route) of every route, through included routers (FastAPI may keep them nested)."""
    for r in routes:
        inner = getattr(r, "original_router", None)
        if inner is not None:
            prefix = getattr(getattr(r, "include_context", None), "prefix", "")
            yield from ((prefix + p, x) for p, x in _flat(inner.routes))
        else:
            yield "", r


def routes_of(app: Any) -> list[str]:
    out = set()
    for prefix, r in _flat(app.routes):
        for m in getattr(r, "methods", None) or ():
            if m != "HEAD":  # HEAD rides on GET
                out.add(f"{m} {prefix}{r.path}")
    return sorted(out)


def _url(hub: SecHub, path: str) -> str:
    values = dict(hub.ids)
    if path.startswith("/ui/static/"):
        values["name"] = "ui.css"
    values |= {"build_id": "0123456789abcdef0123456789abcdef01234567", "path:path": "mm/slab.c",
               "host": "web-01", "release": "6.1.0-56-cloud-amd64", "job_id": "j0000000000000000"}
    for k, v in values.items():
        path = path.replace("{" + k + "}", v)
    assert "{" not in path, f"no value for a parameter of {path}"
    return path


def refused(status: int, location: str) -> bool:
    return status in (401, 403) or (status in (302, 303, 307) and location.startswith("/ui/login?"))


def call(hub: SecHub, route: str, role: str) -> tuple[int, str]:
    method, path = route.split(" ", 1)
    url = _url(hub, path)
    if route == "POST /ui/login":
        with hub.client(role) as c:
            form = {"csrf": csrf_of(c.get("/ui/login").text), "token": hub.tokens.get(role, "")}
            r = c.post(url, data=form)
    elif path.startswith("/ui/") and method == "POST":
        with hub.ui_client(role) as c:
            r = c.post(url, data={"csrf": csrf_of(c.get("/ui/login").text)})
    elif path.startswith("/ui/"):
        with hub.ui_client(role) as c:
            r = c.request(method, url)
    else:
        with hub.client(role) as c:
            r = c.request(method, url, json={} if method in ("POST", "PUT", "PATCH") else None)
    return r.status_code, r.headers.get("location", "")


def test_every_route_has_an_entry(sechub: SecHub) -> None:
    routes = routes_of(sechub.app)
    assert len(routes) > 40
    missing = [r for r in routes if r not in EXPECTED]
    assert not missing, f"routes with no authorization entry (add them to EXPECTED): {missing}"
    stale = [r for r in EXPECTED if r not in routes]
    assert not stale, f"EXPECTED names routes the app no longer has: {stale}"


@pytest.mark.parametrize("role", ROLES)
def test_authorization_matrix(sechub: SecHub, role: str) -> None:
    wrong = []
    # Destructive admin routes (DELETE, logout) last, so they do not change what the others see.
    for route in sorted(routes_of(sechub.app), key=lambda r: r.startswith(("DELETE", "POST /ui/logout"))):
        status, location = call(sechub, route, role)
        assert status < 500, f"{route} as {role}: {status}"
        allowed = role in EXPECTED.get(route, frozenset())
        if refused(status, location) == allowed:
            wrong.append(f"{route} as {role}: {status} {location}".strip())
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("route", ["/api/v1/crashes/{id}/files/vmcore", "/ui/crashes/{id}/files/vmcore"])
def test_dumps_download_for_admins_only(sechub: SecHub, route: str) -> None:
    """A row rule the route table cannot show: a crash's log is for readers, its dump for admins."""
    url = route.replace("{id}", sechub.ids["dump_crash_id"])
    for role in ROLES:
        with sechub.ui_client(role) as c:
            r = c.get(url)
        denied = refused(r.status_code, r.headers.get("location", ""))
        assert denied == (role != "admin"), (role, r.status_code)
        if role == "admin":
            assert r.status_code == 200 and len(r.content) > 10_000
