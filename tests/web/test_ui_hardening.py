"""Issue 14 finding 10: logout ends the session on every node; report pages carry the page headers."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from crashhub.store import Store
from crashhub.web import create_token
from crashhub.web.ui.session import COOKIE, Users

from .test_limits import OOPS, PASSWORD, client, login, make_app


@pytest.fixture
def nodes(tmp_path: Path) -> Iterator[tuple[FastAPI, FastAPI, Store]]:
    """Two hub apps on one data directory and database: two nodes behind one load balancer."""
    a, store = make_app(tmp_path / "data")
    b, other = make_app(tmp_path / "data")
    Users(store).add("alice", PASSWORD, "admin")
    yield a, b, store
    store.close()
    other.close()


def _csrf(c: TestClient) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', c.get("/ui/").text)
    assert m
    return m[1]


def test_logout_ends_the_session_on_every_node(nodes: tuple[FastAPI, FastAPI, Store]) -> None:
    a, b, _ = nodes
    with client(a, "10.1.0.1") as ca:
        assert login(ca, "alice", PASSWORD).status_code == 303
        cookie = ca.cookies[COOKIE]
        assert ca.get("/ui/").status_code == 200
        with client(b, "10.1.0.2") as copy:  # a copy of the cookie, used on the other node
            copy.cookies.set(COOKIE, cookie)
            assert copy.get("/ui/").status_code == 200
            r = ca.post("/ui/logout", data={"csrf": _csrf(ca)})
            assert r.status_code == 303 and r.headers["location"] == "/ui/login"
            r = copy.get("/ui/")
            assert r.status_code == 303 and r.headers["location"].startswith("/ui/login")
        # A new login is a new session, unaffected.
        assert login(ca, "alice", PASSWORD).status_code == 303
        assert ca.get("/ui/").status_code == 200


def test_report_pages_carry_csp_frame_and_no_store(nodes: tuple[FastAPI, FastAPI, Store]) -> None:
    a, _, store = nodes
    token = create_token(store, "host", "h")[0]
    with client(a, "10.1.0.3") as c:
        r = c.post("/api/v1/crashes", headers={"Authorization": f"Bearer {token}"},
                   files={"log": ("vmcore-dmesg.txt", OOPS.format(n=7).encode(), "text/plain")},
                   data={"host": "web7"})
        assert r.status_code == 201, r.text
        crash, bucket = r.json()["id"], r.json()["bucket"]["id"]
        assert login(c, "alice", PASSWORD).status_code == 303
        for path in (f"/ui/crashes/{crash}/report", f"/ui/buckets/{bucket}/report", "/ui/weekly?format=html",
                     f"/ui/crashes/{crash}/report?format=md", "/ui/weekly?format=json"):
            r = c.get(path)
            assert r.status_code == 200, (path, r.text[:300])
            assert r.headers["cache-control"] == "no-store", path
            assert r.headers["x-frame-options"] == "DENY", path
            csp = r.headers["content-security-policy"]
            assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp, path
            if "format" not in path or "format=html" in path:
                # The report's one inline style is allowed by its hash, and nothing else.
                style = re.search(r"<style>(.*?)</style>", r.text, re.S)
                assert style is not None
                digest = base64.b64encode(hashlib.sha256(style[1].encode()).digest()).decode()
                assert f"style-src 'sha256-{digest}'" in csp and "script-src" not in csp
