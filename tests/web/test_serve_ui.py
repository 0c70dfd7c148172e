"""`crashhub serve --demo` on a loopback port: the UI is mounted, the demo login printed once works,
the dashboard shows the demo's buckets and KB hit, and an ingest fires a new-bucket alert to a
webhook given by a setting (a local HTTP receiver)."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from tests.labdata import case
from tests.web.conftest import Server, make_server


class Receiver:
    """A webhook receiver on loopback that keeps every JSON body it is sent."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                outer.bodies.append(json.loads(self.rfile.read(n)))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *_a: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def alerts(self, rule: str) -> list[dict[str, Any]]:
        return [b["alert"] for b in self.bodies if b.get("alert", {}).get("rule") == rule]

    def close(self) -> None:
        self.httpd.shutdown()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Receiver]]:
    rx = Receiver()
    s = make_server(
        tmp_path_factory.mktemp("demo"),
        "--demo",
        CRASHHUB_ALERT_WEBHOOK=rx.url,
        CRASHHUB_ALERT_INTERVAL="1",
        CRASHHUB_FIRST_ADVICE_HOURS="0",  # every new bucket is overdue at once
        CRASHHUB_LOG_LEVEL="info",
    )
    s.start()
    yield s, rx
    s.stop()
    rx.close()


def _login(s: Server) -> httpx.Client:
    out = s.log.read_text()
    m = re.search(r"Open (http://\S+/ui/)\s+and log in as user '(\w+)' with password '([^']+)'", out)
    assert m, out[-2000:]
    assert m[1] == s.url + "/ui/"
    assert m[3] not in m[1]
    c = httpx.Client(base_url=s.url, timeout=60, follow_redirects=True)
    page = c.get("/ui/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf, page.text[:500]
    r = c.post("/ui/login", data={"csrf": csrf[1], "username": m[2], "password": m[3]})
    assert r.status_code == 200 and str(r.url).endswith("/ui/"), r.text[:500]
    return c


def test_demo_dashboard(demo: tuple[Server, Receiver]) -> None:
    s, _rx = demo
    r = httpx.get(s.url + "/", follow_redirects=False)
    assert r.status_code == 307 and r.headers["location"] == "/ui/"
    assert httpx.get(s.url + "/ui/", follow_redirects=False).status_code in (303, 307)  # login first
    c = _login(s)
    try:
        html = c.get("/ui/").text
    finally:
        c.close()
    rows = re.findall(r'data-bucket="([0-9a-f]+)"', html)
    assert len(rows) >= 3, html[:2000]
    assert "badge kb-known" in html  # the demo's KB entry marks a bucket known
    assert "badge overdue" in html  # first_advice_hours=0: new buckets are overdue


def test_ingest_alerts_new_bucket(demo: tuple[Server, Receiver]) -> None:
    s, rx = demo
    log = case("6.1", "hung").log.read_bytes()
    with s.client("host") as c:
        r = c.post("/api/v1/crashes", files={"log": ("vmcore-dmesg.txt", log, "text/plain")},
                   data={"host": "alert-test-host"})
    assert r.status_code in (200, 201), r.text
    bucket = r.json()["bucket"]["id"]
    end = time.monotonic() + 30
    while time.monotonic() < end:
        hits = [a for a in rx.alerts("new_bucket") if a["data"]["bucket"] == bucket]
        if hits and rx.alerts("overdue_advice"):
            break
        time.sleep(0.2)
    assert hits, rx.bodies
    assert hits[0]["key"] == f"new-bucket:{bucket}"
    # The periodic check (alert_interval=1 s) flags overdue first advice too.
    assert rx.alerts("overdue_advice"), rx.bodies
    log_lines = [json.loads(x) for x in (s.data / "alerts.jsonl").read_text().splitlines()]
    assert any(x["key"] == f"new-bucket:{bucket}" and x["result"] == "sent" for x in log_lines)
