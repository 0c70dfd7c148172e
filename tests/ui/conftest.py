"""A hub with real lab crashes in it, its app with the UI mounted, and the same app on a loopback port.

The crashes are the ones kept in the repository (tests/labdata.py: real lab logs and one cut-down real
dump), so the UI tests need no QEMU and run in the quick tier.

The app is built the way ``crashhub.web._app`` builds it (``build_context`` + ``create_app``) and the
``create_app`` mounts the UI router after the API (``ui.install(app, ctx)``).
"""

# ruff: noqa: PLC0415 - optional test dependencies (aiosmtpd, uvicorn, playwright) import where used

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.labdata import case

from crashhub import config
from crashhub.web import Context, build_context, create_app, create_token

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "ui"

# (kernel, kind, with the dump): two kernels of the same bug, a hung task and a deliberate crash.
LAB_CRASHES = (
    ("6.1", "null", True),
    ("6.12", "null", False),
    ("6.1", "hung", False),
    ("6.1", "sysrq", False),
)


@dataclass
class UiHub:
    data: Path
    ctx: Context
    app: Any
    tokens: dict[str, str] = field(default_factory=dict)
    crashes: dict[str, str] = field(default_factory=dict)  # "<kernel>/<kind>" -> crash id
    # Lab kernel key -> the release of its crashes here (from the kept manifests, never written in a test).
    releases: dict[str, str] = field(default_factory=dict)
    dump_crash: str = ""
    url: str = ""
    password: str = "correct horse battery"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def build_hub(data: Path) -> UiHub:
    from crashhub.ingest import ingest_path

    settings = config.load(data, env={}, spool_dir="", workers=0, starter_kb=True)
    ctx = build_context(settings)
    hub = UiHub(data=data, ctx=ctx, app=None)
    for kernel, kind, dump in LAB_CRASHES:
        c = case(kernel, kind)
        assert (c.dump is not None) == dump, (kernel, kind)
        crash_dir = c.crash_dir(data.parent / "incoming")
        out = ingest_path(ctx.pipeline, crash_dir if dump else crash_dir / "vmcore-dmesg.txt", source="cli")
        hub.crashes[f"{kernel}/{kind}"] = out.crash.id
        hub.releases[kernel] = c.release
        if dump:
            hub.dump_crash = out.crash.id
    for role in ("host", "viewer", "admin"):
        hub.tokens[role] = create_token(ctx.hub.store, role, f"ui-test-{role}")[0]
    app = create_app(settings, background=False, ctx=ctx)  # mounts the UI after the API
    hub.app = app
    from crashhub.web.ui.session import Users

    Users(ctx.hub.store).add("alice", hub.password, "admin")
    Users(ctx.hub.store).add("victor", hub.password, "viewer")
    return hub


@pytest.fixture(scope="module")
def uihub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiHub]:
    hub = build_hub(tmp_path_factory.mktemp("uihub") / "data")
    yield hub
    hub.ctx.hub.close()


@pytest.fixture(scope="module")
def served(uihub: UiHub) -> Iterator[UiHub]:
    """The same app under uvicorn on a loopback port, in a thread."""
    import uvicorn

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(uihub.app, host="127.0.0.1", port=port, log_level="warning"))
    t = threading.Thread(target=server.run, daemon=True)
    t.start()
    uihub.url = f"http://127.0.0.1:{port}"
    end = time.monotonic() + 30
    while time.monotonic() < end:
        try:
            if httpx.get(uihub.url + "/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    else:
        raise AssertionError("uvicorn did not answer within 30 s")
    yield uihub
    server.should_exit = True
    t.join(10)


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, "page has no CSRF field"
    return m[1]
