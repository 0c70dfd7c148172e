"""Every page of the UI in a real Chromium, in English and in Chinese, as a user signed in as admin.

The page list is the app's own router (``test_i18n.page_urls``: a page added later is walked without
touching this test).  Each page must answer below 500, render in the browser's language, show the
site's frame (the nav bar; a crash or bucket report is a standalone document), and raise no
script error or CSP violation in the console; a full-page screenshot of each goes to
``test-artifacts/ui/walk-<lang>/``, where a reviewer looks at them.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from tests.ui.conftest import ARTIFACTS, UiHub
from tests.ui.test_browser import browser, log_in  # noqa: F401 (browser is a fixture)
from tests.ui.test_i18n import page_urls, seed_readiness

LOCALES = {"en": "en-US", "zh": "zh-CN"}


def _slug(url: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", url.removeprefix("/ui/")).strip("-")[:80] or "dashboard"


@pytest.mark.slow
@pytest.mark.parametrize("lang", sorted(LOCALES))
def test_every_page_in_chromium(browser: Any, served: UiHub, lang: str) -> None:  # noqa: F811
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale=LOCALES[lang])
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(f"{page.url}: {e}"))
    page.on("console", lambda m: errors.append(f"{page.url}: {m.text}") if m.type == "error" else None)
    log_in(page, served, "alice")
    seed_readiness(served)  # the kernel readiness report page, walked with a report to show
    out = ARTIFACTS / f"walk-{lang}"
    out.mkdir(parents=True, exist_ok=True)
    urls = page_urls(served)
    assert len(urls) > 20
    walked = 0
    for url in urls:
        errors_before = len(errors)
        resp = page.goto(served.url + url)
        assert resp is not None and resp.status < 500, (url, resp and resp.status)
        if "text/html" not in (resp.headers.get("content-type") or ""):
            continue
        walked += 1
        assert page.get_attribute("html", "lang") == ("zh-CN" if lang == "zh" else "en"), url
        if not url.endswith("/report"):  # a report is a standalone document, printed or mailed
            assert page.locator("nav, header").count() >= 1, f"{url}: no site frame"
        page.screenshot(path=str(out / f"{_slug(url)}.png"), full_page=True)
        # A 404 page logs the failed load of itself as a console error: only a page that loaded
        # must be clean.
        if resp.status < 400:
            assert errors[errors_before:] == [], errors[errors_before:]
    assert walked > 20
    ctx.close()
