"""The bucket page through the ASGI app, over the lab's real crashes: the representative crash inline
(oops header, the report's lines from the stored log, every frame of the log), older / newer steps,
breakdowns with percentages, the crash list sorted and paged."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from tests.ui.conftest import UiHub
from tests.ui.test_pages import login

from crashhub import i18n
from crashhub.i18n._catalog_zh import ZH
from crashhub.web.ui import _bucket_view as bv


@pytest.fixture
def viewer(uihub: UiHub) -> Iterator[TestClient]:
    with TestClient(uihub.app) as c:
        login(c, user="victor", password=uihub.password)
        yield c


def _null_bucket(hub: UiHub) -> tuple[str, str, str]:
    """The null bucket (the 6.1 crash with its dump and the 6.12 one): id, newer and older crash."""
    store = hub.ctx.hub.store
    a = store.crashes.get_crash(hub.crashes["6.1/null"])
    b = store.crashes.get_crash(hub.crashes["6.12/null"])
    assert a is not None and b is not None and a.bucket_id == b.bucket_id
    newer, older = sorted((a, b), key=lambda c: (c.received_at, c.id), reverse=True)
    return a.bucket_id, newer.id, older.id


def _text(html: str) -> str:
    return re.sub(r"<[^>]+>", "", html)


def test_the_representative_crash_is_shown_whole(uihub: UiHub, viewer: TestClient) -> None:
    bid, newer, older = _null_bucket(uihub)
    r = viewer.get(f"/ui/buckets/{bid}")
    assert r.status_code == 200
    crash = r.text.split('id="crash"', 1)[1].split("</section>", 1)[0]
    c = uihub.ctx.hub.store.crashes.get_crash(newer)
    assert c is not None and c.report is not None
    assert f"/ui/crashes/{newer}" in crash
    # The oops header: the RIP as the log prints it, the process, the taint letters.
    text = _text(crash)
    assert "crashmod_null+0xc [crashmod]" in text and "(pid " in text and "OE (O: " in text
    # The report's lines come from the stored log, timestamps and all, the guilty line marked.
    assert re.search(r"\[\s*\d+\.\d+\] BUG: kernel NULL pointer dereference", text)
    assert re.search(r'class="ln guilty"><i>\d+</i>[^<]*crashmod_null\+0x', crash)
    # Never fewer frames than the log's Call Trace.
    rows = re.findall(r"<tr><td class=\"num\">\d+</td><td><code>([^<]+)</code>", crash)
    log_frames = [f["function"] for f in c.report["frames"]]
    assert len(rows) >= len(log_frames) and "proc_reg_write" in rows
    # Steps: the newest has an older one and no newer one; the older one steps back.
    assert f"crash={older}" in crash and 'id="newer"' not in crash
    r2 = viewer.get(f"/ui/buckets/{bid}", params={"crash": older})
    crash2 = r2.text.split('id="crash"', 1)[1].split("</section>", 1)[0]
    assert f"/ui/crashes/{older}" in crash2 and f"crash={newer}" in crash2 and 'id="older"' not in crash2
    assert 'id="newest"' in crash2
    # A crash of another bucket is not this bucket's to show.
    assert viewer.get(f"/ui/buckets/{bid}", params={"crash": uihub.crashes["6.1/hung"]}).status_code == 404


def test_breakdowns_count_and_share(uihub: UiHub, viewer: TestClient) -> None:
    bid, newer, older = _null_bucket(uihub)
    html = viewer.get(f"/ui/buckets/{bid}").text
    kernels = html.split('id="by-kernel"', 1)[1].split("</table>", 1)[0]
    store = uihub.ctx.hub.store
    for release in {store.crashes.get_crash(i).release for i in (newer, older)}:  # type: ignore[union-attr]
        assert release is not None
        row = re.escape(release) + r'</a></td>\s*<td class="num">1</td><td class="num pct">50%'
        assert re.search(row, kernels)
        assert "kernel=" + release.replace("+", "%2B") in kernels  # links to the crash list, whole value
    modules = _text(html.split('id="by-module"', 1)[1].split("</table>", 1)[0])
    assert re.search(r"crashmod\s*2\s*100%", modules)
    taint = _text(html.split('id="by-taint"', 1)[1].split("</table>", 1)[0])
    assert "OE" in taint and "100%" in taint and "externally-built" in taint
    hosts = html.split('id="by-host"', 1)[1].split("</table>", 1)[0]
    assert "/ui/crashes?bucket=" in hosts and "host=127.0.0.1\"" in hosts and hosts.count("50%") == 2


def test_crash_list_sorts_and_pages(
    uihub: UiHub, viewer: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    bid, newer, older = _null_bucket(uihub)

    def ids(**params: object) -> list[str]:
        html = viewer.get(f"/ui/buckets/{bid}", params=params).text
        table = html.split('id="crash-list"', 1)[1].split("</table>", 1)[0]
        return re.findall(r'<tr data-crash="([^"]+)"', table)

    assert ids() == [newer, older]
    assert ids(order="asc") == [older, newer]
    by_kernel = ids(sort="kernel", order="asc")
    store = uihub.ctx.hub.store
    releases = [store.crashes.get_crash(i).release for i in by_kernel]  # type: ignore[union-attr]
    assert releases == sorted(releases)
    assert viewer.get(f"/ui/buckets/{bid}", params={"sort": "nonsense"}).status_code == 400
    monkeypatch.setattr(bv, "CRASH_PAGE", 1)
    html = viewer.get(f"/ui/buckets/{bid}").text
    assert 'id="crashes-next"' in html and 'id="crashes-prev"' not in html
    assert ids(offset=1) == [older]


def test_header_labels_are_translated(uihub: UiHub) -> None:
    store = uihub.ctx.hub.store
    labels = {k for i in uihub.crashes.values() for k, _ in bv.header(store.crashes.get_crash(i))}  # type: ignore[arg-type]
    assert {"Title", "RIP", "Process", "Taint"} <= labels
    for label in labels:
        assert label in ZH, label
        assert i18n.gettext("zh")(label) == ZH[label]


def test_module_and_taint_shares_of_the_reports_read(
    uihub: UiHub, viewer: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    bid, _, _ = _null_bucket(uihub)
    buckets = uihub.ctx.hub.store.buckets
    read_one = functools.partial(type(buckets).bucket_breakdown, buckets, scan=1)
    monkeypatch.setattr(buckets, "bucket_breakdown", read_one)
    bv._BREAKDOWNS.clear()
    html = viewer.get(f"/ui/buckets/{bid}").text
    bv._BREAKDOWNS.clear()
    assert "of the newest 1 crashes" in html
    modules = _text(html.split('id="by-module"', 1)[1].split("</table>", 1)[0])
    assert re.search(r"crashmod\s*1\s*100%", modules)  # 1 of the 1 read, not of the bucket's 2
