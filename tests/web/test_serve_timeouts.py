"""Issue 14 finding 10 on a real ``crashhub serve``: read timeouts, and no proxy trusted by default."""

from __future__ import annotations

import re
import socket
import time
from pathlib import Path

import httpx

from .conftest import make_server


def _closed_within(sock: socket.socket, seconds: float) -> float | None:
    """Seconds until the server closes ``sock`` (reads EOF or a reset), or None if it stays open."""
    sock.settimeout(0.2)
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        try:
            if sock.recv(4096) == b"":
                return time.monotonic() - t0
        except TimeoutError:
            continue
        except ConnectionResetError:
            return time.monotonic() - t0
    return None


def test_unfinished_headers_and_stalled_bodies_are_cut_off(tmp_path: Path) -> None:
    srv = make_server(tmp_path, CRASHHUB_REQUEST_HEADER_TIMEOUT="1", CRASHHUB_REQUEST_BODY_TIMEOUT="1")
    srv.start()
    try:
        host, port = "127.0.0.1", srv.port
        with socket.create_connection((host, port)) as slow:  # slowloris: headers never finished
            slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n")
            took = _closed_within(slow, 10)
            assert took is not None and took < 5, took
        with socket.create_connection((host, port)) as stall:  # a body that stops half-way
            stall.sendall(b"POST /api/v1/crashes HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n"
                          b"Authorization: Bearer " + srv.tokens["host"].encode() + b"\r\n"
                          b"Content-Type: multipart/form-data; boundary=b\r\n\r\n--b\r\n")
            took = _closed_within(stall, 10)
            assert took is not None and took < 5, took
        # A client that sends its request at a normal pace is served, on a kept-alive connection too.
        with httpx.Client(base_url=srv.url, timeout=30) as c:
            assert c.get("/healthz").status_code == 200
            time.sleep(0.5)
            assert c.get("/healthz").status_code == 200
    finally:
        srv.stop()


def test_forwarded_for_is_ignored_unless_a_proxy_is_configured(tmp_path: Path) -> None:
    """No forwarded_allow_ips: X-Forwarded-For from loopback names no client (it used to be trusted),
    so a local process cannot pick the address its failed logins are counted under."""
    srv = make_server(tmp_path, CRASHHUB_LOGIN_RATE_LIMIT="2")
    srv.start()
    try:
        def fails(xff: str, user: str) -> int:
            with httpx.Client(base_url=srv.url, headers={"X-Forwarded-For": xff}, timeout=30) as c:
                csrf = re.search(r'name="csrf" value="([^"]+)"', c.get("/ui/login").text)
                assert csrf
                data = {"csrf": csrf[1], "username": user, "password": "wrong password", "next": "/ui/"}
                return c.post("/ui/login", data=data).status_code

        assert [fails("192.0.2.7", f"u{i}") for i in range(3)] == [401, 401, 429]
        assert fails("192.0.2.8", "u9") == 429  # the same (loopback) address: the header was ignored
    finally:
        srv.stop()
