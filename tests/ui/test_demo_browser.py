"""`crashhub serve --demo` as a new user meets it, in headless Chromium: the terminal says where to
open the UI and how to log in; after logging in, the first screen tells the demo fleet's story
(crashhub.examples.fleet): many buckets from many hosts on three kernels, a spike after a kernel
rollout, KB answers and a regression; the vendor bundle made at load is there.
Screenshots: ``test-artifacts/ui/demo-dashboard{,-zh}.png``, ``demo-hosts.png``."""

from __future__ import annotations

import re
import statistics
import tarfile
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.ui.conftest import ARTIFACTS
from tests.ui.test_browser import browser  # noqa: F401 - the fixture
from tests.web.conftest import Server, make_server

from crashhub.examples import fleet

LOAD_SECONDS = 40.0  # the demo's load: ~15 s on 2 busy cores; twice that is a regression


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    s = make_server(tmp_path_factory.mktemp("demo-ui"), "--demo", CRASHHUB_LOG_LEVEL="info")
    s.start()
    yield s
    s.stop()


def _login(browser: Any, demo_server: Server, locale: str) -> tuple[Any, list[str]]:  # noqa: F811
    """A new browser context logged in as the printed demo user: its page and its page errors."""
    out = demo_server.log.read_text()
    m = re.search(r"Open (http://\S+/ui/)\s+and log in as user '(\w+)' with password '([^']+)'", out)
    assert m, out[-2000:]
    url, user, password = m[1], m[2], m[3]
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale=locale)
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    assert "/ui/login" in page.url  # a new user is asked to log in first
    page.fill('input[name="username"]', user)
    page.fill('input[name="password"]', password)
    page.click('button[value="password"]')
    page.wait_for_url(re.compile(r".*/ui/$"))
    assert password not in page.url
    return page, errors


def _chart_days(page: Any) -> dict[str, int]:
    """Crashes per day of the dashboard's chart, summed over its releases (from the bars' titles)."""
    days: dict[str, int] = defaultdict(int)
    for title in page.locator("svg.chart rect title").all_text_contents():
        m = re.fullmatch(r"(\d{4}-\d\d-\d\d) (.+): (\d+)", title.strip())
        assert m, title
        days[m[1]] += int(m[3])
    return days


def test_first_screen_tells_the_fleet_story(browser: Any, demo_server: Server) -> None:  # noqa: F811
    out = demo_server.log.read_text()
    m = re.search(r"demo fleet: (\d+) of (\d+) crashes stored, \d+ KB entries, in ([\d.]+) s", out)
    assert m, out[-2000:]
    assert int(m[1]) == int(m[2]) >= 250, m[0]  # every planned crash is a crash of its own
    assert float(m[3]) < LOAD_SECONDS, m[0]
    page, errors = _login(browser, demo_server, "en-US")

    rows = page.locator("tr.bucket")
    assert 15 <= rows.count() <= 25
    # Three kernels in the filter and in the chart's legend.
    kernels = page.locator('select[name="kernel"] option').all_text_contents()[1:]
    assert sorted(kernels) == sorted(fleet.RELEASE.values()), kernels
    assert len(page.locator("ul.legend li").all()) == 3
    # The spike: today's crashes of 6.1.0-57's new WARNING, flagged by the hub, and a day of the
    # fleet-wide chart at least three times the median day.
    spike = page.locator("tr.bucket", has_text="crashmod_ida_double_free")
    assert spike.locator(".badge.spike").is_visible()
    days = _chart_days(page)
    assert len(days) >= 28, days
    assert max(days.values()) >= 3 * statistics.median(days.values()), days
    # KB answers, and the NULL dereference fixed in 6.1.0-57 that crashes 6.1.0-57: a regression.
    assert page.locator("tr.bucket .badge.kb-known").count() >= 2
    regression = page.locator("tr.bucket", has_text="NULL pointer dereference")
    assert regression.locator(".badge.kb-regression").is_visible()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "demo-dashboard.png"), full_page=True)

    page.goto(demo_server.url + "/ui/hosts")
    n = int(page.locator("h1 small").inner_text())
    assert 150 <= n <= 200, n
    page.screenshot(path=str(ARTIFACTS / "demo-hosts.png"))
    # A bucket's hardware: the hosts' DMI names, from their logs.
    page.goto(demo_server.url + "/ui/")
    page.click("a:text('BUG: soft lockup in crashmod_spin')")
    hardware = page.locator("#by-hardware tr td:first-child").all_text_contents()
    assert len(hardware) >= 2 and any("PowerEdge R650" in h for h in hardware), hardware
    page.goto(demo_server.url + "/ui/")
    page.click("a:text('WARNING in crashmod_ida_double_free')")
    page.screenshot(path=str(ARTIFACTS / "demo-spike-bucket.png"), full_page=True)
    assert not errors, errors
    page.context.close()


def test_regression_has_its_vendor_bundle(browser: Any, demo_server: Server) -> None:  # noqa: F811
    """The bundle made at load is on disk, of the regression's newest crash; its crash page's bundle
    link downloads the same crash's bundle."""
    m = re.search(r"demo vendor bundle of crash (c\w+): (\S+\.tar\.gz)", demo_server.log.read_text())
    assert m, demo_server.log.read_text()[-2000:]
    crash_id, path = m[1], Path(m[2])
    with tarfile.open(path) as t:
        names = t.getnames()
        assert f"crashhub-{crash_id}/kb/demo-null-obj.yaml" in names, names
        report = t.extractfile(f"crashhub-{crash_id}/report.md")
        assert report is not None and b"6.1.0-57" in report.read()
    page, _errors = _login(browser, demo_server, "en-US")
    page.goto(f"{demo_server.url}/ui/crashes/{crash_id}")
    assert page.locator(".badge.kb-regression").count() >= 1
    page.screenshot(path=str(ARTIFACTS / "demo-regression-crash.png"), full_page=True)
    with page.expect_download() as dl:
        page.click(f'a[href="/ui/crashes/{crash_id}/bundle"]')
    got = Path(dl.value.path())
    with tarfile.open(got) as t:
        assert f"crashhub-{crash_id}/MANIFEST.json" in t.getnames()
    page.context.close()


def test_first_screen_in_chinese(browser: Any, demo_server: Server) -> None:  # noqa: F811
    page, errors = _login(browser, demo_server, "zh-CN")
    assert "按内核版本的每日崩溃数" in page.content()
    assert page.locator("tr.bucket").count() >= 15
    page.screenshot(path=str(ARTIFACTS / "demo-dashboard-zh.png"), full_page=True)
    assert not errors, errors
    page.context.close()
