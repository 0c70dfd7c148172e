"""The kernels page and ``GET /api/v1/kernels`` read the debuginfo store (``crashhub debuginfo
import``), and the hosts page shows the agent's kdump check as the agent really sends it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.agent.test_check import HOSTS, _roomy
from tests.debuginfo.pkgs import build_kernel
from tests.ui.conftest import UiHub, build_hub
from tests.ui.test_browser import browser, log_in, shot  # noqa: F401 (browser is a fixture)
from tests.ui.test_pages import login

from crashhub.agent._check import check
from crashhub.agent._client import HubClient
from crashhub.cli import main as cli
from crashhub.debuginfo import DebuginfoStore
from crashhub.debuginfo import _elf as elf
from crashhub.model import HostInfo, HostReport
from crashhub.web import create_token
from crashhub.web._fleet import fleet_kernels


@pytest.fixture(scope="module")
def uihub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiHub]:
    # A hub of its own: these tests import debuginfo into it.
    hub = build_hub(tmp_path_factory.mktemp("fleet") / "data")
    yield hub
    hub.ctx.hub.close()


@pytest.fixture
def admin(uihub: UiHub) -> Iterator[TestClient]:
    with TestClient(uihub.app) as c:
        login(c, token=uihub.tokens["admin"])
        yield c


def _row(html: str, release: str) -> str:
    m = re.search(rf'<tr data-release="{re.escape(release)}" data-state="(\w+)">(.*?)</tr>', html, re.S)
    assert m, f"no row for {release}"
    return m[1] + " " + m[2]


def _api(c: TestClient, hub: UiHub) -> dict[str, dict[str, object]]:
    r = c.get("/api/v1/kernels", headers={"Authorization": f"Bearer {hub.tokens['viewer']}"})
    assert r.status_code == 200, r.text
    return {k["release"]: k for k in r.json()["kernels"]}


def test_kernels_page_and_api_follow_debuginfo_import(admin: TestClient, uihub: UiHub,
                                                      tmp_path: Path) -> None:
    dumped = uihub.ctx.hub.store.crashes.get_crash(uihub.dump_crash)
    assert dumped is not None and dumped.release and dumped.dump_facts
    r61, r612, dump_bid = dumped.release, uihub.releases["6.12"], dumped.dump_facts["build_id"]
    before = _api(admin, uihub)
    assert before[r612]["state"] == "missing" and before[r612]["debuginfo"] is False
    # The 6.1 dump is kept and nothing analysed it: it waits, and its build-id is the crash's own.
    assert before[r61]["waiting"] == 1 and before[r61]["waiting_crashes"] == [uihub.dump_crash]
    assert before[r61]["build_ids"] == [dump_bid] and before[r61]["store_build_id"] is None
    page = admin.get("/ui/kernels").text
    assert _row(page, r612).startswith("missing")
    assert f'href="/ui/crashes/{uihub.dump_crash}"' in _row(page, r61)

    data = str(uihub.data)
    v612, _ko = build_kernel(tmp_path / "k612", release=r612)
    assert cli(["debuginfo", "--data", data, "import", str(v612)]) == 0
    after = _api(admin, uihub)
    k = after[r612]
    assert k["state"] == "ready" and k["debuginfo"] is True and k["by"] == "release" and k["vmlinux"] is True
    assert k["store_build_id"] == elf.build_id(v612) and k["sources"] is False
    assert _row(admin.get("/ui/kernels").text, r612).startswith("ready")
    tree = tmp_path / "linux-src"
    (tree / "kernel").mkdir(parents=True)
    (tree / "kernel" / "panic.c").write_text("void panic(void) {}\n")
    assert cli(["debuginfo", "--data", data, "source", r612, str(tree)]) == 0
    assert _api(admin, uihub)[r612]["sources"] is True

    # A vmlinux of the 6.1 release but another build: flagged, not ready, and its dump still waits.
    v61, _ko = build_kernel(tmp_path / "k61", release=r61, salt="other build")
    assert cli(["debuginfo", "--data", data, "import", str(v61)]) == 0
    k = _api(admin, uihub)[r61]
    assert k["state"] == "mismatch" and k["mismatch"] is True and k["debuginfo"] is False
    assert k["store_build_id"] == elf.build_id(v61) != dump_bid and k["waiting"] == 1
    row = _row(admin.get("/ui/kernels").text, r61)
    assert row.startswith("mismatch") and "build id mismatch" in row and 'class="mismatch"' in row


@pytest.mark.parametrize(("tree", "verdict", "item"), [("rhel9-no-crashkernel", "fail", "crashkernel"),
                                                       ("debian12-good", "warn", "makedumpfile"),
                                                       ("rhel7-good", "ok", None)])
def test_hosts_page_shows_the_agents_kdump_verdict(served: UiHub, tree: str, verdict: str,
                                                   item: str | None) -> None:
    host = f"h-{tree}"
    # A host token speaks for one host only: one token per host.
    token = create_token(served.ctx.hub.store, "host", f"t-{tree}")[0]
    result = check(HOSTS / tree, statvfs=_roomy)
    # What the agent sends (agent/_ship.py report_host), over HTTP to the served hub.
    with HubClient(served.url, token) as client:
        client.report_host(HostReport.of(host, HostInfo(release="6.1.0-test"), result.to_json()))
    with TestClient(served.app) as c:
        login(c, token=served.tokens["viewer"])
        html = c.get("/ui/hosts").text
    m = re.search(rf'<tr data-host="{host}">(.*?)</tr>', html, re.S)
    assert m, html[-2000:]
    row = m[1]
    assert f'data-verdict="{verdict}"' in row and "reported" not in row
    assert {"ok": "pass", "warn": "warn", "fail": "fail"}[verdict] in row
    if item is None:
        assert "checks passed" in row and "<li" not in row
    else:
        bad = next(i for i in result.items if i.id == item)
        said = bad.summary.split("(")[0].strip()[:30]
        assert f'data-item="{item}"' in row and said in row.replace("&#39;", "'")


def test_vmlinux_dir_laid_out_as_a_store_counts(uihub: UiHub, tmp_path: Path) -> None:
    # As the analysis job reads it (jobs' _debuginfo_for): vmlinux_dir may be a debuginfo store.
    rel = uihub.releases["6.1"]  # the hung and sysrq crashes' kernel: logs only, no build-id
    v, _ko = build_kernel(tmp_path / "k", release=rel)
    DebuginfoStore(tmp_path / "vdir").import_path(v)
    empty = DebuginfoStore(tmp_path / "none")
    (before,) = [k for k in fleet_kernels(uihub.ctx.hub.store, empty, None) if k.release == rel]
    (after,) = [k for k in fleet_kernels(uihub.ctx.hub.store, empty, str(tmp_path / "vdir"))
                if k.release == rel]
    assert before.state == "missing" and (after.state, after.by) == ("ready", "release")
    assert after.store_build_id == elf.build_id(v)


def test_readiness_after_import_in_chromium(served: UiHub, tmp_path: Path, browser: Any) -> None:  # noqa: F811
    """What the engineer sees in the browser after ``crashhub debuginfo import``: the kernel ready."""
    r612 = served.releases["6.12"]
    v612, _ko = build_kernel(tmp_path / "k612", release=r612)
    assert cli(["debuginfo", "--data", str(served.data), "import", str(v612)]) == 0
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = ctx.new_page()
    log_in(page, served, "alice")
    page.goto(served.url + "/ui/kernels")
    row = page.locator(f'tr[data-release="{r612}"]')
    assert row.get_attribute("data-state") == "ready"
    assert "就绪" in row.inner_text()  # the badge, in the browser's language
    shot(page, "kernels-ready-after-import-zh")
    ctx.close()
