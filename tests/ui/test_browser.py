"""The UI in a real headless Chromium (Debian's ``chromium``, driven by Playwright) on a loopback server.

Proof for issue 6: the dashboard lists the lab's buckets, a bucket page shows its chart, a KB entry
written in the form marks the bucket known, and an unauthenticated (or viewer) user cannot download a
dump.  Screenshots go to ``test-artifacts/ui/``.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.need import missing, need_module
from tests.ui.conftest import ARTIFACTS, UiHub

from crashhub import i18n

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]

@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists() or shutil.which("chromium") is None:
        missing("Chromium", "Debian's chromium is not installed")
    sync_api = need_module("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield b
        b.close()


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def log_in(page: Any, hub: UiHub, user: str) -> None:
    page.goto(hub.url + "/ui/")
    assert "/ui/login" in page.url
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", hub.password)
    page.click("button[value=password]")
    page.wait_for_url(hub.url + "/ui/")


def test_dashboard_bucket_chart_and_kb_form_in_chromium(browser: Any, served: UiHub) -> None:
    hub = served
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    log_in(page, hub, "alice")

    rows = page.locator("tr.bucket")
    assert rows.count() == 3
    assert page.locator("svg.spark polyline").count() == 3
    assert page.locator("svg.chart rect").count() >= 1
    assert "crashmod_null" in page.inner_text("table.buckets")
    shot(page, "dashboard")

    # The hung-task bucket: its chart, then a KB entry from the pre-filled form.
    guilty = hub.ctx.hub.store.crashes.get_crash(hub.crashes["6.1/hung"]).report["guilty"]["function"]  # type: ignore[union-attr,index]
    page.click('tr.bucket:has(code:text-is("hung_task")) a')
    assert "/ui/buckets/" in page.url
    chart = page.locator("svg.chart").first
    assert chart.is_visible() and chart.locator("rect").count() >= 1
    box = chart.bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] > 50
    assert page.locator("#kb .badge.kb-known").count() == 0
    shot(page, "bucket-before")

    page.click("#write-kb")
    assert "/ui/kb/new" in page.url
    assert page.input_value("input[name=function]") == f"^{guilty}$"
    assert "would match 1 buckets" in page.inner_text("#kb-preview")
    # The live preview (ui.js) answers as the rule changes: a function no bucket has matches none.
    page.fill("input[name=function]", "^no_such_function$")
    expect = need_module("playwright.sync_api").expect
    expect(page.locator("#kb-preview")).to_contain_text("would match 0 buckets")
    page.fill("input[name=function]", f"^{guilty}$")
    expect(page.locator("#kb-preview")).to_contain_text("would match 1 buckets")
    page.fill("textarea[name=advice]", f"Unload **crashmod** before it blocks in `{guilty}`.")
    page.select_option("select[name=status]", "known")
    shot(page, "kb-form")
    page.click("#kb-save")
    page.wait_for_url("**/ui/buckets/**")
    assert page.locator("#kb .badge.kb-known").count() >= 1
    assert "Unload crashmod before it blocks" in page.inner_text("#kb")
    shot(page, "bucket-known")

    page.goto(hub.url + "/ui/?kb=known")
    assert page.locator("tr.bucket").count() == 1
    assert guilty in page.inner_text("table.buckets")

    # The crash that came before the entry answers with it at once (the KB of now, not of ingest).
    page.goto(hub.url + f"/ui/crashes/{hub.crashes['6.1/hung']}")
    assert page.locator("#kb-entry a").count() == 1, page.inner_text("main")
    assert "Unload crashmod before it blocks" in page.inner_text("body")
    shot(page, "crash-known-after-edit")

    page.goto(hub.url + f"/ui/crashes/{hub.crashes['6.1/null']}")
    assert page.locator("pre.oops .ln.guilty").count() >= 1
    assert "crashmod_null" in page.inner_text("pre.oops .ln.guilty >> nth=0")
    shot(page, "crash")
    page.goto(hub.url + "/ui/kernels")
    shot(page, "kernels")
    assert not errors, errors  # CSP-clean: no blocked inline script or style
    ctx.close()


def test_dump_download_refused_without_admin_in_chromium(browser: Any, served: UiHub) -> None:
    hub = served
    url = f"{hub.url}/ui/crashes/{hub.dump_crash}/files/vmcore"
    anon = browser.new_context()
    page = anon.new_page()
    page.goto(url)
    assert "/ui/login" in page.url  # sent to log in, no bytes of the dump
    shot(page, "dump-anonymous")
    anon.close()

    viewer = browser.new_context(locale="zh-CN")
    page = viewer.new_page()
    log_in(page, hub, "victor")
    page.goto(hub.url + f"/ui/crashes/{hub.dump_crash}")
    assert "发生了什么" in page.content()  # Chinese by the browser's language
    assert page.locator('a[href$="/files/vmcore"]').count() == 0
    shot(page, "crash-viewer-zh")
    resp = page.goto(url)
    assert resp is not None and resp.status == 403
    viewer.close()
    # And without any cookie at the HTTP level: a redirect to the login, never the file.
    r = httpx.get(url, follow_redirects=False)
    assert r.status_code == 303 and len(r.content) < 10_000


def test_diagnosis_leads_and_its_command_copies_in_chromium(browser: Any, served: UiHub) -> None:
    from tests.ui.findings import NULL_DEREF, TAINTED, store_analysis  # noqa: PLC0415

    hub = served
    store_analysis(hub.ctx.hub.store, hub.dump_crash, NULL_DEREF, TAINTED)
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    ctx.grant_permissions(["clipboard-read", "clipboard-write"], origin=hub.url)
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    log_in(page, hub, "victor")
    page.goto(hub.url + f"/ui/crashes/{hub.dump_crash}")
    card = page.locator("#diagnosis")
    # Seen first: the card is in the first screen, above the oops and the frames.
    box, oops = card.bounding_box(), page.locator("pre.oops").bounding_box()
    assert box is not None and oops is not None and box["y"] < 300 and box["y"] + box["height"] <= oops["y"]
    assert card.locator("h2").inner_text() == "诊断"
    # The claim in Chinese, the names and values from the dump kept.
    claim = card.locator(".finding .claim").first.inner_text()
    assert claim == i18n.finding_text(NULL_DEREF.claim, "", "zh")[0] == (
        "crashmod_null() 中的空指针解引用：通过 obj = NULL 写入 obj->refcount (RAX 0)")
    button = card.locator("pre.cmd button.copy").first
    assert button.inner_text() == "复制"
    button.click()
    need_module("playwright.sync_api").expect(button).to_have_text("已复制")  # the CSP forbids eval'd waits
    assert page.evaluate("navigator.clipboard.readText()") == NULL_DEREF.command
    shot(page, "crash-diagnosis-zh")
    c = hub.ctx.hub.store.crashes.get_crash(hub.dump_crash)
    assert c is not None
    page.goto(hub.url + f"/ui/buckets/{c.bucket_id}")
    assert page.locator("#diagnosis-of a").get_attribute("href") == f"/ui/crashes/{c.id}"
    shot(page, "bucket-diagnosis-zh")
    assert not errors, errors  # the copy button's script runs under the CSP
    ctx.close()
