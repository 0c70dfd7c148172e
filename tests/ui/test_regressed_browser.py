"""A regressed bucket and its crash in a real headless Chromium, in English and Chinese (issue 18).

The lab's crashmod NULL bug ran on Debian 6.1.0-57 and on 6.12.117+deb12; an entry fixed in upstream
6.12.115 makes the bucket regressed the moment it is written.  Both pages must say "Regressed" with
the comparison, on the crash of the *older* kernel too.  Screenshots go to ``test-artifacts/ui/``.
"""

from __future__ import annotations

from typing import Any

import httpx
from tests.kb.test_derived import COMPARISON, REGRESSED
from tests.ui.conftest import UiHub
from tests.ui.test_browser import browser, log_in, shot

__all__ = ["browser"]  # the module-scoped Chromium fixture, used here too


def test_regressed_bucket_and_crash_pages_in_chromium(browser: Any, served: UiHub) -> None:
    hub = served
    r = httpx.put(hub.url + "/api/v1/kb/lab-null", content=REGRESSED,
                  headers={"Authorization": f"Bearer {hub.tokens['admin']}",
                           "Content-Type": "application/yaml"})
    assert r.status_code in (200, 201), r.text
    crash = hub.crashes["6.1/null"]
    c = hub.ctx.hub.store.crashes.get_crash(crash)
    assert c is not None
    for locale, word, lang in (("en-US", "Regressed", "en"), ("zh-CN", "已回归", "zh")):
        ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale=locale)
        page = ctx.new_page()
        log_in(page, hub, "alice")
        page.goto(hub.url + f"/ui/crashes/{crash}")
        box = page.locator("#kb-regressed")
        assert word in box.inner_text() and COMPARISON in box.inner_text()
        assert page.locator("p.facts .badge.kb-regression").inner_text() == word
        box.scroll_into_view_if_needed()
        shot(page, f"crash-regressed-{lang}")
        page.goto(hub.url + f"/ui/buckets/{c.bucket_id}#kb")
        kb = page.locator("#kb")
        assert word in kb.inner_text() and COMPARISON in kb.inner_text()
        assert page.locator("p.facts .badge.kb-regression").inner_text() == word
        shot(page, f"bucket-regressed-{lang}")
        page.goto(hub.url + "/ui/?kb=regression")
        assert page.locator("tr.bucket").count() == 1
        ctx.close()
