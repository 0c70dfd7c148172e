"""Loopback receivers for the alert tests: an HTTP server that records POSTs, and aiosmtpd for mail."""

# ruff: noqa: PLC0415 - aiosmtpd is a test dependency, imported where used

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


class Receiver:
    """An HTTP server that records every POST; ``status``/``reply`` script its answers."""

    def __init__(self) -> None:
        self.got: list[dict[str, Any]] = []
        self.status = 200
        self.reply: dict[str, Any] = {"ok": True}
        outer = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                n = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(n)
                rec = {"path": self.path, "body": json.loads(body), "headers": dict(self.headers)}
                outer.got.append(rec)
                data = json.dumps(outer.reply).encode()
                self.send_response(outer.status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_a: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def smtp() -> Iterator[tuple[Any, list[Any]]]:
    from aiosmtpd.controller import Controller

    got: list[Any] = []

    class Handler:
        async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
            got.append(envelope)
            return "250 OK"

    with socket.socket() as sk:  # aiosmtpd probes its own port at start, so it needs a real one
        sk.bind(("127.0.0.1", 0))
        port = sk.getsockname()[1]
    c = Controller(Handler(), hostname="127.0.0.1", port=port)
    c.start()
    yield c, got
    c.stop()
