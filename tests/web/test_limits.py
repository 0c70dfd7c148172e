"""Rate limits (logins, uploads) and UI users in the store, on an in-process hub app.

The limits are counted in the store, so these tests hold for one node as for many; the cross-node
case on PostgreSQL is tests/scale/test_shared_users.py.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient

from crashhub import config
from crashhub.agent._client import HubClient, retry_after
from crashhub.agent._ship import Backoff
from crashhub.errors import HubUnavailable, StoreError
from crashhub.model import HostReport
from crashhub.store import Store, open_store
from crashhub.web import build_context, create_app, create_token
from crashhub.web._limits import backoff
from crashhub.web.ui.session import Users

PASSWORD = "a long password"

# A made-up oops: enough for triage to make a crash of it (each call gets its own identity).
OOPS = """\
[  100.{n:06d}] BUG: kernel NULL pointer dereference, address: 0000000000000020
[  100.000001] #PF: supervisor write access in kernel mode
[  100.000002] Oops: 0002 [#1] PREEMPT SMP NOPTI
[  100.000003] CPU: 1 PID: {n} Comm: bash Tainted: G           OE      6.1.0-56-cloud-amd64 #1
[  100.000004] RIP: 0010:crashmod_null+0x15/0x30 [crashmod]
[  100.000005] Call Trace:
[  100.000006]  <TASK>
[  100.000007]  crashmod_write+0x40/0x80 [crashmod]
[  100.000008]  vfs_write+0xc8/0x3e0
[  100.000009]  ksys_write+0x6b/0xf0
[  100.000010]  do_syscall_64+0x58/0xc0
[  100.000011]  </TASK>
[  100.000012] Kernel panic - not syncing: Fatal exception
"""


def make_app(data: Path, **overrides: Any) -> tuple[FastAPI, Store]:
    settings = config.load(data, env={}, spool_dir="", workers=0, alert_interval=0, **overrides)
    ctx = build_context(settings)
    return create_app(settings, background=False, ctx=ctx), ctx.hub.store


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[tuple[FastAPI, Store]]:
    limits = {
        "login_rate_limit": 3,
        "login_rate_window": 300,
        "upload_rate_limit": 2,
        "upload_rate_window": 300,
    }
    app, store = make_app(tmp_path / "data", **limits)
    Users(store).add("alice", PASSWORD, "admin")
    Users(store).add("victor", PASSWORD, "viewer")
    yield app, store
    store.close()


def client(app: FastAPI, addr: str) -> TestClient:
    return TestClient(app, client=(addr, 40000), follow_redirects=False)


def login(c: TestClient, user: str, password: str) -> httpx.Response:
    page = c.get("/ui/login")
    m = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert m, page.text[:500]
    return c.post("/ui/login", data={"csrf": m[1], "username": user, "password": password, "next": "/ui/"})


# ---------------------------------------------------------------------------------------- logins
def test_failed_logins_are_refused_per_address_and_slowed_per_user(hub: tuple[FastAPI, Store]) -> None:
    app, _ = hub
    with client(app, "10.0.0.1") as a:
        for _ in range(3):
            assert login(a, "alice", "wrong password").status_code == 401
        r = login(a, "alice", "wrong password")
        assert r.status_code == 429
        assert "Too many login attempts: try again in" in r.text
        wait = int(r.headers["retry-after"])
        assert 1 <= wait <= 300
        # The address is spent: another user's right password from it is refused too.
        assert login(a, "victor", PASSWORD).status_code == 429
    with client(app, "10.0.0.2") as b:
        # The user name is never locked (issue 14: anyone could lock a known user out from
        # anywhere); past the limit each attempt on it is held longer: 1 s, then 2 s ...
        t0 = time.monotonic()
        assert login(b, "alice", "wrong password").status_code == 401
        assert time.monotonic() - t0 >= 1.0
        t0 = time.monotonic()
        r = login(b, "alice", PASSWORD)  # ... and the right password still gets in
        assert r.status_code == 303 and r.headers["location"] == "/ui/"
        assert time.monotonic() - t0 >= 2.0
        # Another user from a fresh address is not held at all.
        t0 = time.monotonic()
        r = login(b, "victor", PASSWORD)
        assert r.status_code == 303 and time.monotonic() - t0 < 1.0


def test_login_backoff_grows_and_is_capped() -> None:
    assert [backoff(n, 3, 16) for n in range(9)] == [0, 0, 0, 1, 2, 4, 8, 16, 16]
    assert backoff(10**6, 3, 16) == 16 and backoff(5, 0, 16) == 0


def test_successful_logins_do_not_count(hub: tuple[FastAPI, Store]) -> None:
    app, _ = hub
    with client(app, "10.0.0.3") as c:
        for _ in range(6):
            assert login(c, "victor", PASSWORD).status_code == 303
        assert login(c, "victor", "wrong password").status_code == 401
        assert login(c, "victor", PASSWORD).status_code == 303


def test_a_broken_rate_limit_store_lets_logins_through(
    hub: tuple[FastAPI, Store], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    app, store = hub

    def down(*_a: Any, **_k: Any) -> float | None:
        raise StoreError("database: connection refused")

    monkeypatch.setattr(store.access, "rate_hit", down)
    with client(app, "10.0.0.4") as c:
        for _ in range(5):
            assert login(c, "alice", "wrong password").status_code == 401
        assert login(c, "alice", PASSWORD).status_code == 303
    assert "fail open" in caplog.text


# ---------------------------------------------------------------------------------------- uploads
def _post(c: TestClient, token: str, n: int, *, host: str = "web1") -> httpx.Response:
    return c.post(
        "/api/v1/crashes",
        headers={"Authorization": f"Bearer {token}"},
        files={"log": ("vmcore-dmesg.txt", OOPS.format(n=n).encode(), "text/plain")},
        data={"host": host},
    )


def test_uploads_are_throttled_per_token_with_retry_after(hub: tuple[FastAPI, Store], tmp_path: Path) -> None:
    app, store = hub
    web1 = create_token(store, "host", "web1")[0]
    web2 = create_token(store, "host", "web2")[0]
    with client(app, "10.0.1.1") as c:
        assert _post(c, web1, 1).status_code == 201
        assert _post(c, web1, 2).status_code == 201
        stored = len(store.crashes.list_crashes())
        blobs = sorted(p for p in (tmp_path / "data" / "blobs").rglob("*") if p.is_file())
        r = _post(c, web1, 3)
        assert r.status_code == 429
        body = r.json()
        wait = int(r.headers["retry-after"])
        assert 1 <= wait <= 300 and body["retry_after"] == wait
        assert "too many uploads" in body["error"] and "web1" in body["error"]
        # Nothing of the refused upload is kept: no crash, no blob, no temp file.
        assert len(store.crashes.list_crashes()) == stored == 2
        assert sorted(p for p in (tmp_path / "data" / "blobs").rglob("*") if p.is_file()) == blobs
        # Another host's token has its own window.
        assert _post(c, web2, 4, host="web2").status_code == 201
        # A dump upload's start counts too; its later pieces (a resume) do not.
        crash_id = _post(c, web2, 5, host="web2").json()["id"]
        auth = {"Authorization": f"Bearer {web2}"}
        start = c.put(
            f"/api/v1/crashes/{crash_id}/vmcore",
            content=b"x" * 10,
            headers={**auth, "Content-Range": "bytes 0-9/20"},
        )
        assert start.status_code == 429 and "retry-after" in start.headers
        assert c.get(f"/api/v1/crashes/{crash_id}/vmcore/upload", headers=auth).json()["offset"] == 0


def test_upload_piece_after_the_start_is_not_counted(tmp_path: Path) -> None:
    app, store = make_app(tmp_path / "data", upload_rate_limit=2, upload_rate_window=300)
    try:
        tok = create_token(store, "host", "web3")[0]
        auth = {"Authorization": f"Bearer {tok}"}
        with client(app, "10.0.1.2") as c:
            crash_id = _post(c, tok, 6, host="web3").json()["id"]  # hit 1
            first = c.put(
                f"/api/v1/crashes/{crash_id}/vmcore",
                content=b"x" * 10,
                headers={**auth, "Content-Range": "bytes 0-9/20"},
            )  # hit 2: the start
            assert first.status_code == 200, first.text
            assert first.json()["offset"] == 10
            rest = c.put(
                f"/api/v1/crashes/{crash_id}/vmcore",
                content=b"y" * 10,
                headers={**auth, "Content-Range": "bytes 10-19/20"},
            )
            # Not a start: allowed past the limit (the dump itself is not a valid vmcore, so the
            # hub says so; what matters here is that it is not a 429).
            assert rest.status_code != 429, rest.text
            assert _post(c, tok, 7, host="web3").status_code == 429
    finally:
        store.close()


def test_upload_limit_zero_disables_it(tmp_path: Path) -> None:
    app, store = make_app(tmp_path / "data", upload_rate_limit=0)
    try:
        tok = create_token(store, "host", "web4")[0]
        with client(app, "10.0.1.3") as c:
            assert all(_post(c, tok, 10 + i).status_code == 201 for i in range(5))
    finally:
        store.close()


def test_a_broken_rate_limit_store_lets_uploads_through(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, store = make_app(tmp_path / "data", upload_rate_limit=1)
    try:
        tok = create_token(store, "host", "web5")[0]

        def down(*_a: Any, **_k: Any) -> float | None:
            raise StoreError("database: connection refused")

        monkeypatch.setattr(store.access, "rate_hit", down)
        with client(app, "10.0.1.4") as c:
            assert [_post(c, tok, 20 + i).status_code for i in range(3)] == [201, 201, 201]
    finally:
        store.close()


# ---------------------------------------------------------------------------------------- agent
def test_agent_honours_retry_after_within_its_backoff() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) < 3:
            return httpx.Response(429, json={"error": "too many uploads"}, headers={"Retry-After": "7"})
        return httpx.Response(200, json={"ok": True})

    slept: list[float] = []
    with HubClient("http://hub.invalid", "t", transport=httpx.MockTransport(handler)) as hc:
        with pytest.raises(HubUnavailable) as e:
            hc.report_host(HostReport("h"))
        assert e.value.status == 429 and e.value.retry_after == 7.0
        calls.clear()
        Backoff(5, 2.0, 300.0, slept.append).call("log", lambda: hc.report_host(HostReport("h")))
    assert len(calls) == 3
    assert slept == [7.0, 7.0]  # the hub's 7 s, not the back-off's 2 and 4
    # Capped by the back-off's maximum; a shorter Retry-After never shortens the back-off.
    calls.clear()
    slept.clear()
    with HubClient("http://hub.invalid", "t", transport=httpx.MockTransport(handler)) as hc:
        Backoff(5, 2.0, 5.0, slept.append).call("log", lambda: hc.report_host(HostReport("h")))
    assert slept == [5.0, 5.0]


def test_retry_after_header_forms() -> None:
    assert retry_after("120") == 120.0
    assert retry_after(None) is None and retry_after("soon") is None
    http_date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 60))
    got = retry_after(http_date)
    assert got is not None and 55 <= got <= 61
    assert retry_after("Mon, 01 Jan 2001 00:00:00 GMT") == 0.0


# ---------------------------------------------------------------------------------------- upgrade
def test_an_old_ui_users_file_is_imported_once(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    ph = PasswordHasher()
    old = {
        "olga": {"role": "admin", "hash": ph.hash("olga's password")},
        "vera": {"role": "viewer", "hash": ph.hash("vera's password")},
        "bad name": {"role": "admin", "hash": ph.hash("whatever1")},
        "nohash": {"role": "admin"},
    }
    (data / "ui-users.json").write_text(json.dumps(old))
    # vera was already moved into the database (another node) and changed her password since.
    pre = open_store(config.load(data, env={}))
    Users(pre.store).add("vera", "vera's new password", "viewer")
    pre.close()

    app, store = make_app(data)
    try:
        assert not (data / "ui-users.json").exists() and (data / "ui-users.json.imported").exists()
        assert [u.name for u in store.access.list_ui_users()] == ["olga", "vera"]
        with client(app, "10.0.2.1") as c:
            assert login(c, "olga", "olga's password").status_code == 303
            assert login(c, "vera", "vera's password").status_code == 401  # the database's wins
            assert login(c, "vera", "vera's new password").status_code == 303
        Users(store).delete("olga")
    finally:
        store.close()
    # A second start imports nothing again: a deleted user stays deleted.
    _app2, store2 = make_app(data)
    try:
        assert [u.name for u in store2.access.list_ui_users()] == ["vera"]
    finally:
        store2.close()


def test_serve_counts_logins_by_the_address_a_trusted_proxy_forwards(tmp_path: Path) -> None:
    """`crashhub serve` behind a load balancer: with the balancer's address in forwarded_allow_ips, the
    per-address login limit counts the client in X-Forwarded-For; from an untrusted peer that header
    is ignored and the limit counts the peer."""
    from tests.web.conftest import make_server  # noqa: PLC0415

    def fails(url: str, xff: str, user: str) -> int:
        with httpx.Client(base_url=url, headers={"X-Forwarded-For": xff}, timeout=30) as c:
            page = c.get("/ui/login")
            csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
            assert csrf, page.text[:300]
            data = {"csrf": csrf[1], "username": user, "password": "wrong password", "next": "/ui/"}
            return c.post("/ui/login", data=data).status_code

    for trusted, expect in (("127.0.0.1", 401), ("10.255.255.1", 429)):
        srv = make_server(tmp_path / trusted, CRASHHUB_LOGIN_RATE_LIMIT="2",
                          CRASHHUB_FORWARDED_ALLOW_IPS=trusted)
        srv.start()
        try:
            # Each attempt names another user, so only the address can run out.
            assert [fails(srv.url, "192.0.2.7", f"u{i}") for i in range(3)] == [401, 401, 429]
            # Another client behind the same balancer: its own address when the balancer is
            # trusted; the balancer's (spent) address when it is not.
            assert fails(srv.url, "192.0.2.8", "u9") == expect
        finally:
            srv.stop()
