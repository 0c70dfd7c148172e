"""The free-text search, the crash list page, the dashboard's status and text filters and exact host
links, through the ASGI app over the lab's real crashes; the API's ``q`` and ``kernel``."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from tests.store.contract import crash
from tests.ui.conftest import UiHub
from tests.ui.test_pages import login

from crashhub import config
from crashhub.store import MAX_QUERY
from crashhub.web import build_context, create_app, create_token


@pytest.fixture
def viewer(uihub: UiHub) -> Iterator[TestClient]:
    with TestClient(uihub.app) as c:
        login(c, user="victor", password=uihub.password)
        yield c


def _buckets(html: str) -> list[str]:
    return re.findall(r'<tr class="bucket[^"]*" data-bucket="([^"]+)"', html)


def _crashes(html: str) -> list[str]:
    return re.findall(r'<tr data-crash="([^"]+)"', html)


def test_header_has_the_search_box_and_the_crash_list(viewer: TestClient) -> None:
    html = viewer.get("/ui/").text
    assert '<form method="get" action="/ui/search"' in html and 'name="q"' in html
    assert 'href="/ui/crashes"' in html


def test_search_finds_buckets_hosts_and_modules(uihub: UiHub, viewer: TestClient) -> None:
    store = uihub.ctx.hub.store
    hung = store.crashes.get_crash(uihub.crashes["6.1/hung"])
    assert hung is not None and hung.report is not None
    guilty = hung.report["guilty"]["function"]
    # A guilty function, typed in another case: its bucket.
    r = viewer.get("/ui/search", params={"q": guilty.upper()})
    assert r.status_code == 200 and _buckets(r.text) == [hung.bucket_id]
    # A kernel release in part: every bucket with a crash on it.
    k612 = store.crashes.get_crash(uihub.crashes["6.12/null"]).release  # type: ignore[union-attr]
    assert k612 is not None
    assert _buckets(viewer.get("/ui/search", params={"q": k612[:8]}).text) == [
        store.crashes.get_crash(uihub.crashes["6.12/null"]).bucket_id  # type: ignore[union-attr]
    ]
    # A host in part: the host, linked to its crashes (the whole name).
    html = viewer.get("/ui/search", params={"q": "127.0.0"}).text
    hosts = html.split('id="found-hosts"', 1)[1].split("</section>", 1)[0]
    assert 'href="/ui/crashes?host=127.0.0.1"' in hosts
    # A module: the buckets whose newest crash names it, guilty or in the stack.
    named = {
        bid for bid, c in store.crashes.latest_crashes().items()
        if any((f or {}).get("module") == "crashmod" for f in [c.report["guilty"], *c.report["frames"]])  # type: ignore[index]
    }
    assert len(named) >= 2
    html = viewer.get("/ui/search", params={"q": "CRASHMOD"}).text
    mods = html.split('id="found-modules"', 1)[1].split("</section>", 1)[0]
    assert f"<code>crashmod</code> · {len(named)} buckets" in mods
    # LIKE's wildcards are text; too long a text is refused.
    assert _buckets(viewer.get("/ui/search", params={"q": "%"}).text) == []
    assert viewer.get("/ui/search", params={"q": "x" * (MAX_QUERY + 1)}).status_code == 400
    assert _buckets(viewer.get("/ui/", params={"q": guilty}).text) == [hung.bucket_id]


def test_crash_list_page_filters_sorts_and_pages(uihub: UiHub, viewer: TestClient) -> None:
    store = uihub.ctx.hub.store
    every = _crashes(viewer.get("/ui/crashes").text)
    assert sorted(every) == sorted(uihub.crashes.values())
    null = store.crashes.get_crash(uihub.crashes["6.1/null"])
    assert null is not None
    html = viewer.get("/ui/crashes", params={"host": null.host}).text
    assert _crashes(html) == [null.id]
    assert _crashes(viewer.get("/ui/crashes", params={"host": null.host[:-1]}).text) == []
    assert set(_crashes(viewer.get("/ui/crashes", params={"bucket": null.bucket_id}).text)) == {
        uihub.crashes["6.1/null"], uihub.crashes["6.12/null"]}
    rel = store.crashes.get_crash(uihub.crashes["6.1/hung"]).release  # type: ignore[union-attr]
    by_kernel = _crashes(viewer.get("/ui/crashes", params={"kernel": rel}).text)
    assert sorted(by_kernel) == sorted([uihub.crashes["6.1/hung"], uihub.crashes["6.1/sysrq"]])
    hung = _crashes(viewer.get("/ui/crashes", params={"kind": "hung_task"}).text)
    assert hung == [uihub.crashes["6.1/hung"]]
    hosts = [store.crashes.get_crash(i).host  # type: ignore[union-attr]
             for i in _crashes(viewer.get("/ui/crashes", params={"sort": "host", "order": "asc"}).text)]
    assert hosts == sorted(hosts)
    assert viewer.get("/ui/crashes", params={"sort": "size"}).status_code == 400
    assert viewer.get("/ui/crashes", params={"window": "24h"}).status_code == 200


def test_dashboard_status_filter_and_exact_host(tmp_path_factory: pytest.TempPathFactory) -> None:
    data = tmp_path_factory.mktemp("hosts") / "data"
    settings = config.load(data, env={}, spool_dir="", workers=0)
    ctx = build_context(settings)
    try:
        store = ctx.hub.store
        made = {}
        for i, host in enumerate(("10.20.0.1", "10.20.0.10", "10.20.0.11", "10.20.0.12", "10.20.0.13",
                                  "10.20.0.100")):
            c, _ = store.crashes.add_crash(crash(f"x{i}", key=f"k{i}", host=host))
            made[host] = c
        store.buckets.set_bucket_workflow(made["10.20.0.10"].bucket_id, status="investigating", actor="t")
        app = create_app(settings, background=False, ctx=ctx)
        with TestClient(app) as c:
            login(c, token=create_token(store, "viewer", "v")[0])
            assert _buckets(c.get("/ui/", params={"host": "10.20.0.1"}).text) == [made["10.20.0.1"].bucket_id]
            crashes = _crashes(c.get("/ui/crashes", params={"host": "10.20.0.1"}).text)
            assert crashes == [made["10.20.0.1"].id]
            assert _buckets(c.get("/ui/", params={"status": "investigating"}).text) == [
                made["10.20.0.10"].bucket_id]
            assert len(_buckets(c.get("/ui/", params={"q": "10.20.0.1"}).text)) == 6  # the search: parts
            assert c.get("/ui/", params={"status": "maybe"}).status_code == 400
            # The API: host whole, q in part, the crash list's kernel.
            c.headers["Authorization"] = f"Bearer {create_token(store, 'viewer', 'api')[0]}"
            got = c.get("/api/v1/buckets", params={"host": "10.20.0.1"}).json()
            assert [b["id"] for b in got["buckets"]] == [made["10.20.0.1"].bucket_id] and got["total"] == 1
            assert c.get("/api/v1/buckets", params={"q": "10.20.0.1"}).json()["total"] == 6
            assert c.get("/api/v1/buckets", params={"q": "x" * (MAX_QUERY + 1)}).status_code == 400
            rel = made["10.20.0.1"].release
            assert len(c.get("/api/v1/crashes", params={"kernel": rel}).json()["crashes"]) == 6
            assert c.get("/api/v1/crashes", params={"kernel": "6.0"}).json()["crashes"] == []
            one = c.get(f"/api/v1/buckets/{made['10.20.0.1'].bucket_id}").json()
            assert one["breakdown"]["hosts"] == [{"value": "10.20.0.1", "count": 1}]
    finally:
        ctx.hub.close()
