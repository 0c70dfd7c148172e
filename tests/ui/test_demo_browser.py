"""`crashhub serve --demo` as a new user meets it, in headless Chromium: the terminal says where to
open the UI and how to log in; after logging in, the dashboard lists the demo's buckets and a
knowledge-base hit.  Screenshot: ``test-artifacts/ui/demo-dashboard.png``."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from tests.ui.conftest import ARTIFACTS
from tests.ui.test_browser import browser  # noqa: F401 - the fixture
from tests.web.conftest import Server, make_server


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    s = make_server(tmp_path_factory.mktemp("demo-ui"), "--demo", CRASHHUB_LOG_LEVEL="info")
    s.start()
    yield s
    s.stop()


def test_new_user_sees_buckets_and_a_kb_hit(browser: Any, demo_server: Server) -> None:  # noqa: F811
    out = demo_server.log.read_text()
    m = re.search(r"Open (http://\S+/ui/)\s+and log in as user '(\w+)' with password '([^']+)'", out)
    assert m, out[-2000:]
    url, user, password = m[1], m[2], m[3]
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
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
    rows = page.locator("tr.bucket")
    assert rows.count() >= 3
    known = page.locator("tr.bucket .badge.kb-known")
    assert known.count() >= 1 and known.first.is_visible()
    assert page.locator("svg.chart rect").count() >= 1
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "demo-dashboard.png"), full_page=True)
    assert not errors, errors
    ctx.close()
