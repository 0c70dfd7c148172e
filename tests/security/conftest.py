"""An in-process hub app with one crash in it and a token per role, for the API campaign tests."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.security.targets import OOPS

from crashhub import config
from crashhub.ingest import ingest_path
from crashhub.store import Store
from crashhub.web import build_context, create_app, create_token

ROLES = ("anonymous", "host", "viewer", "admin")


# The crash of the kdump directories: a banner with the synthetic machine's full utsname version, so
# the dump's facts and the log agree (the hub attaches a dump only then).
DUMP_LOG = "".join(
    ["[    0.000000] Linux version 6.1.0-56-cloud-amd64 (debian-kernel@lists.debian.org) (gcc-12) "
     "#1 SMP PREEMPT_DYNAMIC Debian 6.1.192-2\n"]
    + [ln for ln in OOPS.splitlines(keepends=True) if ln.startswith("[") and "Linux version" not in ln])


def make_crash_dir(root: Path) -> Path:
    """A kdump directory: the flat dump of a synthetic machine whose kernel log is ``DUMP_LOG`` (the
    hub reassembles it on ingest), that log, and a name with the time kdump saved it."""
    from tests.dump import synth  # noqa: PLC0415  (builds a synthetic machine: only when asked)

    m = synth.Machine()
    m.build_page_tables()
    m.uts()
    recs = [(int(float(ln[1:13]) * 1e9), 100, ln[15:].encode()) for ln in DUMP_LOG.splitlines()]
    synth.lockless_log(m, recs, count_bits=6, size_bits=12)
    m.cpus = [(0, [0x1000 + i for i in range(synth.X86_64_REGS)])]
    d = root / "10.0.0.5-2025-11-26-04:06:52"  # 12 s after the machine's CRASHTIME
    d.mkdir(parents=True)
    (d / "vmcore").write_bytes(synth.to_flat(synth.to_kdump(m), chunk=8192))
    (d / "vmcore-dmesg.txt").write_text(DUMP_LOG)
    return d


@dataclass
class SecHub:
    app: Any
    store: Store
    tokens: dict[str, str] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)  # path parameter -> a value that exists

    def client(self, role: str) -> TestClient:
        c = TestClient(self.app, follow_redirects=False, raise_server_exceptions=False)
        if role in self.tokens:
            c.headers["Authorization"] = f"Bearer {self.tokens[role]}"
        return c

    def ui_client(self, role: str) -> TestClient:
        """A client with the role's bearer token and, for viewer and admin, a UI session of the role."""
        c = self.client(role)
        if role in ("viewer", "admin"):
            form = {"csrf": csrf_of(c.get("/ui/login").text), "token": self.tokens[role]}
            r = c.post("/ui/login", data=form)
            assert r.status_code == 303, r.text[:300]
        return c


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, html[:300]
    return m[1]


def build(data: Path, **overrides: Any) -> SecHub:
    settings = config.load(data, env={}, spool_dir="", workers=0, alert_interval=0, starter_kb=True,
                           # The campaign plays thousands of requests through one token per role: the
                           # rate limits would answer them 429 (tested on their own in tests/web).
                           upload_rate_limit=0, host_report_rate_limit=0, kb_write_rate_limit=0,
                           **overrides)
    ctx = build_context(settings)
    hub = SecHub(create_app(settings, background=False, ctx=ctx), ctx.hub.store)
    for role in ("host", "viewer", "admin"):
        hub.tokens[role] = create_token(ctx.hub.store, role, f"sec-{role}")[0]
    with hub.client("host") as c:
        log = {"log": ("vmcore-dmesg.txt", OOPS.encode())}
        r = c.post("/api/v1/crashes", data={"host": "web-01"}, files=log)
        assert r.status_code == 201, r.text
        crash = r.json()
    dumped = ingest_path(ctx.pipeline, make_crash_dir(data.parent / "spool"), source="cli").crash
    hub.ids["dump_crash_id"] = dumped.id
    with hub.client("admin") as c:
        entry = c.get("/api/v1/kb").json()["entries"][0]["id"]
    hub.ids |= {"crash_id": crash["id"], "bucket_id": crash["bucket"]["id"], "entry_id": entry,
                "name": "vmcore-dmesg.txt", "lang": "en", "rule_id": "no-such-rule"}
    return hub


@pytest.fixture(scope="module")
def sechub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecHub]:
    hub = build(tmp_path_factory.mktemp("sec") / "data")
    yield hub
    hub.store.close()
