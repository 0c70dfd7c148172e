"""Channels and coverage in the UI (issue 19): the crash page lists its channels and says when only
netconsole vouches for it; /ui/coverage and the dashboard's panel count crashes by channel per host
and per kernel, with the crashes whose dump never came beside the host's kdump check.

Real lab logs (tests/labdata.py) reach the hub as kdump, pstore and netconsole would bring them (the
texts made as tests/ingest/test_channels.py makes them).  Screenshots of the pages in both languages
go to ``test-artifacts/ui/channels-<lang>-*.png``.
"""

# ruff: noqa: PLC0415 - playwright imports where used

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from tests.ingest.test_channels import netconsole_text, pstore_record
from tests.labdata import case
from tests.ui.conftest import ARTIFACTS, UiHub, _free_port
from tests.ui.test_browser import browser, log_in  # noqa: F401 (browser is a fixture)
from tests.ui.test_pages import login

from crashhub import config
from crashhub.ingest import Arrival
from crashhub.web import build_context, create_app, create_token

KDUMP_FAIL = {
    "verdict": "fail", "flavor": "rhel",
    "items": [{"id": "crashkernel", "status": "fail", "summary": "crashkernel=128M is too small for 64 GiB",
               "fix": "grubby --update-kernel=ALL --args=crashkernel=512M"},
              {"id": "service", "status": "ok", "summary": "kdump.service is active"}],
}


def _log(kernel: str, kind: str) -> bytes:
    return case(kernel, kind).log.read_bytes()


def _build(data: Path) -> tuple[UiHub, dict[str, str]]:
    # No grace: a crash without its dump counts as kdump failed at once (the default waits 24 h).
    settings = config.load(data, env={}, spool_dir="", workers=0, starter_kb=True, dump_grace_hours=0.0)
    ctx = build_context(settings)
    hub = UiHub(data=data, ctx=ctx, app=None)
    p, t = ctx.pipeline, time.time()
    ids: dict[str, str] = {}
    gpf = _log("6.1", "gpf")
    # web7: a GPF seen by netconsole and pstore, its dump never came (crashkernel too small) ...
    nc = p.ingest(Arrival(log=netconsole_text(gpf), log_name="netconsole.log", host="web7",
                          host_source="netconsole", source="netconsole", channel="netconsole",
                          strict_dump=False, crash_time=t - 60,
                          notes=["netconsole: 3 messages lost (seq 1022-1024)"]))
    ps = p.ingest(Arrival(log=pstore_record(gpf), log_name="pstore-dmesg.txt", host="web7",
                          host_source="token", source="http", channel="pstore", crash_time=t - 59.5))
    assert ps.crash.id == nc.crash.id
    ids["web7-gpf"] = nc.crash.id
    # ... and a NULL dereference kdump caught, which netconsole saw too.
    null = _log("6.1", "bug")
    kd = p.ingest(Arrival(log=null, host="web7", host_source="token", source="http"))
    also = p.ingest(Arrival(log=netconsole_text(null), log_name="netconsole.log", host="web7",
                            host_source="netconsole", source="netconsole", channel="netconsole",
                            strict_dump=False, crash_time=t))
    assert also.crash.id == kd.crash.id
    ids["web7-bug"] = kd.crash.id
    # db3: netconsole alone (an unverified source).
    db = p.ingest(Arrival(log=netconsole_text(_log("6.12", "null")), log_name="netconsole.log", host="db3",
                          host_source="netconsole", source="netconsole", channel="netconsole",
                          strict_dump=False, crash_time=t))
    ids["db3"] = db.crash.id
    ctx.hub.store.hosts.report_host("web7", release=None, build_id=None, hardware=None, machine="x86_64",
                                    agent_version="test", kdump=KDUMP_FAIL)
    for role in ("host", "viewer", "admin"):
        hub.tokens[role] = create_token(ctx.hub.store, role, f"ui-test-{role}")[0]
    hub.app = create_app(settings, background=False, ctx=ctx)
    from crashhub.web.ui.session import Users

    Users(ctx.hub.store).add("alice", hub.password, "admin")
    return hub, ids


@pytest.fixture(scope="module")
def chub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[UiHub, dict[str, str]]]:
    hub, ids = _build(tmp_path_factory.mktemp("chub") / "data")
    yield hub, ids
    hub.ctx.hub.close()


def _client(hub: UiHub, lang: str) -> TestClient:
    c = TestClient(hub.app, headers={"Accept-Language": "zh-CN" if lang == "zh" else "en"})
    login(c, token=hub.tokens["admin"])
    return c


def test_coverage_page_per_host_and_kernel(chub: tuple[UiHub, dict[str, str]]) -> None:
    hub, ids = chub
    with _client(hub, "en") as c:
        html = c.get("/ui/coverage").text
        assert 'href="/ui/coverage" class="on"' in html  # in the nav
        web7 = html.split('data-host="web7"', 1)[1].split("</tr>", 1)[0]
        # Two crashes; kdump 1, pstore 1, netconsole 2; one dump never came; its check says why.
        assert '<td class="num">2</td>' in web7 and 'data-channel="netconsole">2<' in web7
        assert 'data-channel="kdump">1<' in web7 and 'data-channel="pstore">1<' in web7
        assert f'href="/ui/crashes/{ids["web7-gpf"]}#channels"' in web7
        assert "crashkernel=128M is too small" in web7 and 'href="/ui/hosts#host-web7"' in web7
        db3 = html.split('data-host="db3"', 1)[1].split("</tr>", 1)[0]
        assert 'data-col="unverified">1<' in db3 and "no agent report" in db3
        kernels = html.split('id="coverage-kernels"', 1)[1]
        assert kernels.count("<tr data-kernel=") == 2  # 6.1 and 6.12
        dash = c.get("/ui/").text
        panel = dash.split('id="coverage-panel"', 1)[1].split("</section>", 1)[0]
        assert "kdump failed 2" in panel and 'data-host="web7"' in panel and 'data-host="db3"' in panel
        bearer = {"Authorization": f"Bearer {hub.tokens['viewer']}"}
        api = c.get("/api/v1/coverage", headers=bearer).json()
        assert api["total"]["dump_missing"] == 2 and api["total"]["by_channel"]["netconsole"] == 3
        hosts = {h["name"]: h for h in api["hosts"]}
        assert hosts["web7"]["missing"] == [ids["web7-gpf"]] and hosts["web7"]["kdump"]["verdict"] == "fail"
    with _client(hub, "zh") as c:
        html = c.get("/ui/coverage").text
        assert "覆盖率" in html and "kdump 失败" in html and "按主机" in html and "按内核" in html


def test_crash_page_lists_channels(chub: tuple[UiHub, dict[str, str]]) -> None:
    hub, ids = chub
    with _client(hub, "en") as c:
        html = c.get(f"/ui/crashes/{ids['web7-gpf']}").text
        section = html.split('id="channels"', 1)[1].split("</section>", 1)[0]
        assert 'data-channel="pstore"' in section and 'data-channel="netconsole"' in section
        assert "netconsole: 3 messages lost (seq 1022-1024)" in section
        pstore_row = section.split('data-channel="pstore"', 1)[1].split("</tr>", 1)[0]
        assert "the crash&#39;s log" in pstore_row or "the crash's log" in pstore_row
        assert 'id="unverified"' not in html
        assert 'id="unverified"' in c.get(f"/ui/crashes/{ids['db3']}").text
        bearer = {"Authorization": f"Bearer {hub.tokens['viewer']}"}
        api = c.get(f"/api/v1/crashes/{ids['db3']}", headers=bearer)
        assert api.json()["unverified_source"] is True
        assert [ch["channel"] for ch in api.json()["channels"]] == ["netconsole"]
    with _client(hub, "zh") as c:
        html = c.get(f"/ui/crashes/{ids['db3']}").text
        assert "来源未验证" in html and "渠道" in html


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_channel_pages_in_chromium(browser: Any, chub: tuple[UiHub, dict[str, str]], lang: str) -> None:  # noqa: F811
    import uvicorn

    hub, ids = chub
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(hub.app, host="127.0.0.1", port=port, log_level="warning"))
    th = threading.Thread(target=server.run, daemon=True)
    th.start()
    hub.url = f"http://127.0.0.1:{port}"
    end = time.monotonic() + 30
    while time.monotonic() < end:
        try:
            if httpx.get(hub.url + "/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    try:
        ctx = browser.new_context(viewport={"width": 1280, "height": 900},
                                  locale="zh-CN" if lang == "zh" else "en-US")
        page = ctx.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        log_in(page, hub, "alice")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        pages = (("coverage", "/ui/coverage"), ("dashboard", "/ui/"),
                 ("crash-gpf", f"/ui/crashes/{ids['web7-gpf']}"), ("crash-db3", f"/ui/crashes/{ids['db3']}"))
        for name, url in pages:
            resp = page.goto(hub.url + url)
            assert resp is not None and resp.status == 200, url
            page.screenshot(path=str(ARTIFACTS / f"channels-{lang}-{name}.png"), full_page=True)
        assert errors == []
        ctx.close()
    finally:
        server.should_exit = True
        th.join(10)
