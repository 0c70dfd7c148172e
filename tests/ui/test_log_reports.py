"""The crash page lists every report of the log, its frames never fewer than the log's, and links
frames to the kernel source at the crash's release when the debuginfo store holds it.

The lab's real ``atomic_sysrq`` log (``BUG: scheduling while atomic`` in crashmod, reported again when
the task exits, then SysRq-c): the BUG is the primary and leads the page; the "Reports in this log"
section lists all three in log order, the primary linked to the SysRq panic that stopped the machine.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.labdata import case
from tests.ui.conftest import REPO, UiHub
from tests.ui.findings import STACK, analysis
from tests.ui.test_browser import browser  # noqa: F401 - the module's Chromium fixture
from tests.ui.test_pages import login

from crashhub.analyze import Analysis, AnalysisRecord
from crashhub.debuginfo import DebuginfoStore
from crashhub.ingest import ingest_path
from crashhub.model import CrashReport, LogReport
from crashhub.web.ui._source import MAX_SOURCE_BYTES

CRASHMOD = REPO / "src" / "crashhub" / "readiness" / "crashmod" / "crashmod.c"


@pytest.fixture(scope="module")
def two(uihub: UiHub) -> str:
    """The atomic_sysrq crash in the module's hub (its own hub: other modules do not see it)."""
    d = case("6.1", "atomic_sysrq").crash_dir(uihub.data.parent / "incoming-two")
    return ingest_path(uihub.ctx.pipeline, d / "vmcore-dmesg.txt", source="cli").crash.id


@pytest.fixture(scope="module")
def sources(uihub: UiHub, tmp_path_factory: pytest.TempPathFactory) -> str:
    """crashmod's source stored as the tree of the dump crash's release (the lab builds it out of tree)."""
    tree = tmp_path_factory.mktemp("src") / "linux"
    (tree / "crashmod").mkdir(parents=True)
    shutil.copyfile(CRASHMOD, tree / "crashmod" / "crashmod.c")
    (tree / "huge.c").write_bytes(b"/* */\n" * (MAX_SOURCE_BYTES // 6 + 1))
    crash = uihub.ctx.hub.store.crashes.get_crash(uihub.dump_crash)
    assert crash is not None and crash.release
    release = crash.release
    DebuginfoStore(uihub.data / "debuginfo").import_source(tree, release)
    return release


@pytest.fixture
def client(uihub: UiHub) -> Iterator[TestClient]:
    with TestClient(uihub.app) as c:
        login(c, user="victor", password=uihub.password)
        yield c


def _reports(html: str) -> list[str]:
    section = html[html.index('id="reports"'):]
    section = section[: section.index("</section>")]
    return re.split(r'<li id="report-\d+"', section)[1:]


def test_every_report_listed_in_log_order_the_bug_primary(uihub: UiHub, client: TestClient, two: str) -> None:
    html = client.get(f"/ui/crashes/{two}").text
    assert "<h1>BUG: scheduling while atomic in crashmod_atomic_sleep</h1>" in html  # the primary leads
    items = _reports(html)
    assert len(items) == 3
    first, second, sysrq = items
    assert first.startswith(' class="primary"')
    assert "BUG: scheduling while atomic in crashmod_atomic_sleep" in first
    assert "<code>crashmod_atomic_sleep</code>" in first  # guilty, and in its frames
    assert "do_task_dead" in second and "badge primary" not in second
    assert "kernel panic: sysrq triggered crash" in sysrq
    # The primary names the panic that stopped the machine; that report points back to the bug.
    assert '<a href="#report-3">panic raised by report #3</a>' in first
    assert '<a href="#report-1">the primary bug: report #1</a>' in sysrq
    assert ('caused the panic: <a href="#report-3-panic"><code>Kernel panic - not syncing: sysrq triggered'
            " crash</code></a>") in sysrq
    panic_line = re.search(r'<span class="ln" id="report-3-panic"><i>(\d+)</i>([^<]*)</span>', sysrq)
    assert panic_line and "Kernel panic - not syncing: sysrq triggered crash" in panic_line.group(2)
    lines = case("6.1", "atomic_sysrq").log.read_text().splitlines()
    assert "Kernel panic - not syncing" in lines[int(panic_line.group(1)) - 1]  # numbered as the log
    client.get("/ui/lang/zh")
    zh = client.get(f"/ui/crashes/{two}").text
    client.get("/ui/lang/en")
    assert "此日志中的全部报告" in zh and "panic 由报告 #3 引发" in zh and "主报告" in zh


def test_a_single_report_has_no_list(client: TestClient, uihub: UiHub) -> None:
    assert 'id="reports"' not in client.get(f"/ui/crashes/{uihub.crashes['6.1/hung']}").text


def test_api_carries_every_report(uihub: UiHub, client: TestClient, two: str) -> None:
    r = client.get(f"/api/v1/crashes/{two}", headers={"Authorization": f"Bearer {uihub.tokens['viewer']}"})
    got = [LogReport.from_dict(x) for x in r.json()["reports"]]
    assert got == list(uihub.ctx.hub.store.crashes.log_reports(two))
    assert [(x.report.kind, x.primary) for x in got] == [
        ("atomic_sleep", True), ("atomic_sleep", False), ("sysrq", False)]
    assert r.json()["report"] == got[0].report.to_dict()
    assert CrashReport.from_dict(r.json()["report"]).title.endswith("crashmod_atomic_sleep")


def _frame_rows(html: str) -> list[str]:
    """The function cells of the page's main Frames table (the first one)."""
    table = html[html.index('<table class="frames">'):]
    table = table[: table.index("</table>")]
    return re.findall(r"<tr><td class=\"num\">\d+</td><td><code>([^<]*)</code>", table)


def test_an_analysis_naming_fewer_frames_gives_way_to_the_log(uihub: UiHub, client: TestClient) -> None:
    cid = uihub.dump_crash
    store = uihub.ctx.hub.store.crashes
    rep = store.get_crash(cid).report or {}  # type: ignore[union-attr]
    # The log's frames: the RIP's function (x86 prints it apart), then the Call Trace.
    log_frames = [rep["rip"]["function"]] + [f["function"] for f in rep["frames"]]
    short = AnalysisRecord("done", result=Analysis(engine="drgn", stack=STACK[:2]), seconds=1.0)
    store.set_crash_analysis(cid, short.to_dict())
    try:
        shown = _frame_rows(client.get(f"/ui/crashes/{cid}").text)
        assert shown == log_frames[:64] and len(shown) > 2  # the log's frames, not the analysis' two
        store.set_crash_analysis(cid, analysis().to_dict())  # the whole stack: the analysis' own
        shown = _frame_rows(client.get(f"/ui/crashes/{cid}").text)
        assert shown == [f.function for f in STACK]
    finally:
        store.set_crash_analysis(cid, {})


def test_frames_link_to_the_source_at_the_crash_release(uihub: UiHub, client: TestClient,
                                                        sources: str) -> None:
    cid = uihub.dump_crash
    store = uihub.ctx.hub.store.crashes
    store.set_crash_analysis(cid, analysis().to_dict())
    try:
        html = client.get(f"/ui/crashes/{cid}").text
    finally:
        store.set_crash_analysis(cid, {})
    href = f"/ui/source/{sources}/crashmod/crashmod.c?line=48#L48"
    assert f'<a class="srclink" href="{href}">lab/crashmod/crashmod.c:48</a>' in html
    assert html.count('class="srclink"') == 2  # the two frames with a file; the rest have none
    page = client.get(href.split("#", maxsplit=1)[0]).text
    want = CRASHMOD.read_text().splitlines()[47]
    row = re.search(r'<span class="ln guilty" id="L48"><i>48</i>([^<]*)</span>', page)
    assert row and row.group(1) == want.replace(">", "&gt;")
    # Another release has no tree: plain text, as before.
    other = uihub.crashes["6.12/null"]
    store.set_crash_analysis(other, analysis().to_dict())
    try:
        html = client.get(f"/ui/crashes/{other}").text
    finally:
        store.set_crash_analysis(other, {})
    assert "srclink" not in html and "lab/crashmod/crashmod.c:48" in html


@pytest.mark.parametrize("path", ["crashmod/../../../etc/passwd", "%2e%2e/%2e%2e/etc/passwd",
                                  "crashmod/missing.c", "/etc/passwd", "huge.c"])
def test_the_source_page_stays_in_its_tree(client: TestClient, sources: str, path: str) -> None:
    r = client.get(f"/ui/source/{sources}/{path}")
    assert r.status_code == (413 if path == "huge.c" else 404), r.text[:200]
    assert "root:" not in r.text


def test_the_source_page_needs_a_tree_and_a_login(uihub: UiHub, client: TestClient, sources: str) -> None:
    assert client.get("/ui/source/6.99-none/crashmod/crashmod.c").status_code == 404
    assert client.get("/ui/source/..%2Fetc/passwd").status_code == 404
    anon = TestClient(uihub.app).get(f"/ui/source/{sources}/crashmod/crashmod.c", follow_redirects=False)
    assert anon.status_code == 303 and anon.headers["location"].startswith("/ui/login")
    whole = client.get(f"/ui/source/{sources}/crashmod/crashmod.c").text
    assert 'id="L1"' in whole and "guilty" not in whole  # no line asked for: the top, nothing marked


def test_reports_and_source_in_chromium(browser: Any, served: UiHub, two: str, sources: str) -> None:  # noqa: F811
    """A reader follows the links: the primary to the SysRq panic (its folded excerpt opens at the
    panic's line), a frame to its source line; screenshots in English and Chinese."""
    from tests.ui.test_browser import log_in, shot  # noqa: PLC0415

    store = served.ctx.hub.store.crashes
    store.set_crash_analysis(served.dump_crash, analysis().to_dict())
    try:
        for locale, tag in (("en-US", "en"), ("zh-CN", "zh")):
            ctx = browser.new_context(locale=locale, viewport={"width": 1280, "height": 900})
            page = ctx.new_page()
            log_in(page, served, "victor")
            page.goto(served.url + f"/ui/crashes/{two}")
            assert page.locator("#reports li").count() == 3
            assert not page.locator("#report-3 details").evaluate("d => d.open")
            shot(page, f"crash-reports-{tag}")
            page.click('#report-1 a[href="#report-3"]')
            page.click('#report-3 a[href="#report-3-panic"]')
            assert page.locator("#report-3 details").evaluate("d => d.open")  # opened for the anchor
            assert page.locator("#report-3-panic").is_visible()
            page.goto(served.url + f"/ui/crashes/{served.dump_crash}")
            page.locator("a.srclink").first.click()
            page.wait_for_url(f"**/ui/source/{sources}/crashmod/crashmod.c?line=48#L48")
            line = page.locator("#L48")
            assert line.is_visible() and "obj->refcount = 1;" in line.inner_text()
            shot(page, f"source-{tag}")
            ctx.close()
    finally:
        store.set_crash_analysis(served.dump_crash, {})
