"""The bucket page, the search and the crash list in headless Chromium (as tests/ui/test_browser.py):
the representative crash's stack with a frame of the real lab log, breakdown percentages, the older
step, the header's search box; screenshots in English and Chinese go to ``test-artifacts/ui/``."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from tests.ui.conftest import ARTIFACTS, UiHub
from tests.ui.test_browser import browser, log_in, shot

__all__ = ["browser"]  # the fixture, used by name

# Where a person looking at the screenshots finds them too (the task's shots directory), when set.
SHOTS = os.environ.get("CRASHHUB_SHOTS_DIR")


def _shot(page: Any, name: str) -> None:
    shot(page, name)
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        shutil.copy(ARTIFACTS / f"{name}.png", Path(SHOTS) / f"{name}.png")


def test_bucket_page_stack_breakdowns_search_in_chromium(browser: Any, served: UiHub) -> None:
    hub = served
    store = hub.ctx.hub.store
    null = store.crashes.get_crash(hub.crashes["6.1/null"])
    assert null is not None and null.report is not None
    # A frame the real log's Call Trace names (not the guilty one: the stack table is all of it).
    frame = null.report["frames"][1]["function"]
    assert frame == "proc_reg_write"
    for lang, locale in (("en", "en-US"), ("zh", "zh-CN")):
        ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale=locale)
        page = ctx.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
        page.on("console", lambda m, errors=errors: errors.append(m.text) if m.type == "error" else None)
        log_in(page, hub, "victor")
        # The header's search box: a guilty function finds its bucket.
        page.fill("header form.search input[name=q]", "crashmod_null")
        page.press("header form.search input[name=q]", "Enter")
        page.wait_for_url("**/ui/search?q=crashmod_null")
        assert page.locator("#found-buckets tr.bucket").count() == 1
        _shot(page, f"search-{lang}")
        page.click("#found-buckets tr.bucket a")
        assert f"/ui/buckets/{null.bucket_id}" in page.url
        frames = page.locator("#crash table.frames")
        assert frames.is_visible()
        assert frame in frames.inner_text()
        assert page.locator("#crash pre.oops .ln.guilty").count() >= 1
        kernels = page.locator("#by-kernel").inner_text()
        assert kernels.count("50%") == 2, kernels
        assert "100%" in page.locator("#by-module").inner_text()
        _shot(page, f"bucket-page-{lang}")
        page.locator("#breakdowns").screenshot(path=str(ARTIFACTS / f"bucket-breakdowns-{lang}.png"))
        page.locator("#crash").screenshot(path=str(ARTIFACTS / f"bucket-crash-{lang}.png"))
        if SHOTS:
            for part in ("breakdowns", "crash"):
                name = f"bucket-{part}-{lang}.png"
                shutil.copy(ARTIFACTS / name, Path(SHOTS) / name)
        page.click("#older")
        assert "crash=" in page.url and page.locator("#newer").count() == 1
        page.goto(hub.url + "/ui/crashes")
        assert page.locator("#crash-list tr[data-crash]").count() == len(hub.crashes)
        _shot(page, f"crash-list-{lang}")
        assert not errors, errors
        ctx.close()
