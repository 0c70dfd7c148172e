"""A small fake hub: a real HTTP server on a loopback port speaking API v1 (see docs/api.md).

It implements just the agent's side of the contract (crash POST, resumable dump upload, host
report) and has knobs to misbehave: be down, cut a dump upload in the middle, decline dumps,
never confirm one.  The integration test against the real ``crashhub serve`` lives apart.
"""

from __future__ import annotations

import email.parser
import email.policy
import hashlib
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

TOKEN = "test-host-token"
_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+)$")


@dataclass
class FakeCrash:
    id: str
    log: bytes | None
    host: str | None
    crash_dir: str | None
    data: bytearray = field(default_factory=bytearray)
    size: int | None = None
    complete: bool = False
    channel: str = "kdump"  # the form's channel field (absent: kdump)
    crash_time: str | None = None  # the form's crash_time field (a pstore record's time)


@dataclass
class Knobs:
    wants_vmcore: bool = True
    down_for: int = 0  # answer 503 to this many requests, then work
    down: bool = False  # answer 503 to everything
    # On the PUT whose chunk crosses this many bytes: keep half of it, then drop the connection.
    cut_put_after: int | None = None
    confirm: bool = True  # say complete: true once the whole dump is in
    die_after_puts: int | None = None  # after this many PUTs, go down (503) for good
    # Answer PUTs with the hub's 409 for a dump that is not the crash's (issue 14), no offset.
    refuse_dump: str | None = None
    forget: bool = False  # answer 404 for every crash asked about (a hub reset since the POST)


class FakeHub:
    def __init__(self) -> None:
        self.knobs = Knobs()
        self.crashes: dict[str, FakeCrash] = {}
        self.by_content: dict[str, str] = {}
        self.reports: list[dict[str, Any]] = []
        self.requests: list[tuple[str, str, int]] = []  # (method, path, status)
        self.put_bytes = 0
        self.puts = 0
        self._cut_done = False
        self.lock = threading.Lock()
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _send(self, status: int, doc: dict[str, Any]) -> None:
                body = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                with hub.lock:
                    hub.requests.append((self.command, self.path, status))

            def _body(self) -> bytes:
                n = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(n)

            def _gate(self) -> bool:
                k = hub.knobs
                if k.down or (k.die_after_puts is not None and hub.puts >= k.die_after_puts):
                    self._body()
                    self._send(503, {"error": "hub is down"})
                    return False
                if k.down_for > 0:
                    k.down_for -= 1
                    self._body()
                    self._send(503, {"error": "hub is starting"})
                    return False
                if self.path == "/healthz":
                    return True
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    self._body()
                    self._send(401, {"error": "Authorization: missing or wrong token"})
                    return False
                return True

            def do_GET(self) -> None:
                if not self._gate():
                    return
                m = re.fullmatch(r"/api/v1/crashes/([^/]+)/vmcore/upload", self.path)
                if m and m.group(1) in hub.crashes and not hub.knobs.forget:
                    c = hub.crashes[m.group(1)]
                    self._send(200, {"offset": len(c.data), "size": c.size, "complete": c.complete})
                    return
                self._send(404, {"error": f"{self.path}: not found"})

            def do_POST(self) -> None:
                if not self._gate():
                    return
                body = self._body()
                if self.path == "/api/v1/hosts/report":
                    hub.reports.append(json.loads(body))
                    self._send(200, {"ok": True})
                    return
                if self.path != "/api/v1/crashes":
                    self._send(404, {"error": "not found"})
                    return
                parts = _multipart(self.headers.get("Content-Type", ""), body)
                log = parts.get("log")
                vmcore = parts.get("vmcore")
                if log is None and vmcore is None:
                    self._send(400, {"error": "log: required unless vmcore is given"})
                    return
                host = parts.get("host", b"").decode() or None
                key = hashlib.sha256((log or vmcore or b"") + (host or "").encode()).hexdigest()
                created = key not in hub.by_content
                if created:
                    cid = f"c{len(hub.crashes) + 1}"
                    hub.by_content[key] = cid
                    crash_dir = (parts.get("crash_dir") or b"").decode() or None
                    channel = (parts.get("channel") or b"kdump").decode()
                    crash_time = (parts.get("crash_time") or b"").decode() or None
                    hub.crashes[cid] = FakeCrash(cid, log, host, crash_dir, channel=channel,
                                                 crash_time=crash_time)
                cid = hub.by_content[key]
                c = hub.crashes[cid]
                if vmcore is not None and not c.complete:
                    c.data = bytearray(vmcore)
                    c.size = len(vmcore)
                    c.complete = hub.knobs.confirm
                self._send(201 if created else 200, {
                    "id": cid, "created": created, "kind": "oops", "title": "BUG: test",
                    "bucket": {"id": "b1", "key": "k", "title": "BUG: test", "kind": "oops", "count": 1},
                    "kb": [], "wants_vmcore": hub.knobs.wants_vmcore and not c.complete,
                    "has_vmcore": c.complete})

            def do_PUT(self) -> None:
                if not self._gate():
                    return
                m = re.fullmatch(r"/api/v1/crashes/([^/]+)/vmcore", self.path)
                if not m or m.group(1) not in hub.crashes:
                    self._body()
                    self._send(404, {"error": "no such crash"})
                    return
                c = hub.crashes[m.group(1)]
                data = self._body()
                if hub.knobs.refuse_dump is not None:
                    hub.puts += 1
                    self._send(409, {"error": f"DumpMismatchError: vmcore: {hub.knobs.refuse_dump}"})
                    return
                rng = _RANGE.match(self.headers.get("Content-Range", ""))
                if rng is None:
                    self._send(400, {"error": "Content-Range: required by this fake"})
                    return
                start, end, total = (int(x) for x in rng.groups())
                if end - start + 1 != len(data) or end >= total:
                    self._send(400, {"error": "Content-Range: does not match the body"})
                    return
                if start != len(c.data):
                    self._send(409, {"error": "Content-Range: start is not the hub's offset",
                                     "offset": len(c.data)})
                    return
                hub.puts += 1
                k = hub.knobs
                if (k.cut_put_after is not None and not hub._cut_done
                        and hub.put_bytes + len(data) > k.cut_put_after):
                    # Keep half the chunk, then drop the connection without an answer.
                    hub._cut_done = True
                    c.data += data[: len(data) // 2]
                    c.size = total
                    hub.put_bytes += len(data) // 2
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                hub.put_bytes += len(data)
                c.data += data
                c.size = total
                if len(c.data) == total and k.confirm:
                    c.complete = True
                self._send(200, {"offset": len(c.data), "size": total, "complete": c.complete})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)

    def count(self, method: str, prefix: str) -> int:
        return sum(1 for m, p, _ in self.requests if m == method and p.startswith(prefix))


def _multipart(content_type: str, body: bytes) -> dict[str, bytes]:
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
    out: dict[str, bytes] = {}
    for part in msg.iter_parts():  # type: ignore[attr-defined]
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if name:
            out[str(name)] = payload if payload is not None else b""
    return out


@pytest.fixture
def fake_hub() -> Iterator[FakeHub]:
    hub = FakeHub()
    hub.thread.start()
    try:
        yield hub
    finally:
        hub.server.shutdown()
        hub.server.server_close()


DATA = Path(__file__).parent / "data"
