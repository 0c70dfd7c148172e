"""Kernel readiness in the UI: the kernels page's readiness column and its list of the fleet's kernels
with no report, and the report page ``/ui/kernels/<release>/readiness`` (per kind table, capture
logs, advice) in English and Chinese, in the app and in Chromium (screenshots in test-artifacts/ui/)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.readiness_data import report_61, report_612
from tests.ui.conftest import UiHub, build_hub
from tests.ui.test_browser import browser, log_in, shot  # noqa: F401 (browser is a fixture)
from tests.ui.test_i18n import untranslated
from tests.ui.test_pages import login

from crashhub.readiness import record_of

ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}
NEW_KERNEL = "6.1.0-58-cloud-amd64"  # a host runs it; no crash, no check


@pytest.fixture(scope="module")
def uihub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiHub]:
    hub = build_hub(tmp_path_factory.mktemp("readiness") / "data")
    store = hub.ctx.hub.store
    store.hosts.report_host("web9", release=NEW_KERNEL, build_id=None, hardware="QEMU Standard PC",
                            machine="x86_64", agent_version="0.1", kdump=None)
    yield hub
    hub.ctx.hub.close()


@pytest.fixture
def admin(uihub: UiHub) -> Iterator[TestClient]:
    with TestClient(uihub.app) as c:
        login(c, token=uihub.tokens["admin"])
        yield c


def _cell(html: str, release: str) -> tuple[str, str]:
    m = re.search(rf'<tr data-release="{re.escape(release)}".*?'
                  r'<td class="readiness" data-readiness="([\w-]+)">(.*?)</td></tr>', html, re.S)
    assert m, f"no readiness cell for {release}"
    return m[1], m[2]


def _unchecked(html: str) -> list[str]:
    return re.findall(r'<tr data-unchecked="([^"]+)">', html)


def test_kernels_page_readiness_column_and_unchecked_list(admin: TestClient, uihub: UiHub) -> None:
    r61, r612 = uihub.releases["6.1"], uihub.releases["6.12"]
    page = admin.get("/ui/kernels").text
    assert _cell(page, r61)[0] == _cell(page, r612)[0] == "not-checked"
    fleet = {k.release: k.crashes for k in uihub.ctx.hub.store.hosts.list_kernels()}
    assert {r61, r612, NEW_KERNEL} <= set(fleet) and set(_unchecked(page)) == set(fleet)
    assert _unchecked(page)[-1] == NEW_KERNEL  # most crashes first: it has none
    store = uihub.ctx.hub.store
    store.readiness.save(record_of(report_61(release=r61)))
    store.readiness.save(record_of(report_612(release=r612)))
    page = admin.get("/ui/kernels").text
    state, cell = _cell(page, r61)
    assert state == "ready" and f'href="/ui/kernels/{r61}/readiness"' in cell and "Use dump" not in cell
    state, cell = _cell(page, r612)
    assert state == "not-ready" and "not ready" in cell
    assert "Use dump level 23 (makedumpfile -d 23)" in cell  # the first advice, on the row
    assert set(_unchecked(page)) == set(fleet) - {r61, r612}
    # A kernel checked before any host runs it: listed apart, not as one of the fleet's.
    assert '<ul class="checked">' not in page
    store.readiness.save(record_of(report_612(release="6.12.118+deb12-cloud-amd64")))
    page = admin.get("/ui/kernels").text
    checked = re.search(r'<ul class="checked">(.*?)</ul>', page, re.S)
    assert checked
    assert re.findall(r'<li data-release="([^"]+)">', checked[1]) == ["6.12.118+deb12-cloud-amd64"]
    assert "6.12.118+deb12-cloud-amd64" not in _unchecked(page)
    zh = admin.get("/ui/kernels", headers=ZH).text
    assert "机群中没有就绪报告的内核" in zh and "上线前检查过的内核" in zh and "未就绪" in _cell(zh, r612)[1]
    assert not untranslated(zh), untranslated(zh)


def test_report_page(admin: TestClient, uihub: UiHub) -> None:
    r612 = uihub.releases["6.12"]
    uihub.ctx.hub.store.readiness.save(record_of(report_612(release=r612)))
    html = admin.get(f"/ui/kernels/{r612}/readiness").text
    assert f"Readiness of kernel {r612}" in html and 'data-ready="no"' in html
    assert [k for k in re.findall(r'<th data-kind="(\w+)">', html)] == ["sysrq", "null"]
    assert re.findall(r'<td data-ok="(\w+)">', html) == ["no", "no"]
    assert "38.0 MiB / 1.0 GiB" in html and "40.0 MiB / 1.0 GiB" in html
    assert "slab pages of task_struct (dump level 31 with makedumpfile 1.7.2" in html
    assert "crash 8.0.2: invalid structure member offset: module_core_size" in html
    advice = re.search(r'<ol class="advice">(.*?)</ol>', html, re.S)
    assert advice and advice[1].count("<li>") == 3
    logs = re.findall(r'<details class="capture-log" data-kind="(\w+)">'
                      r"<summary>(.*?)</summary><pre>(.*?)</pre>", html, re.S)
    assert [k for k, _s, _p in logs] == ["sysrq", "null"]
    assert "The kernel version is not supported." in logs[0][2] and "(12 lines)" in logs[0][1]
    zh = admin.get(f"/ui/kernels/{r612}/readiness", headers=ZH).text
    assert f"内核 {r612} 的就绪报告" in zh and "分析需要但被丢弃的页" in zh
    assert not untranslated(zh), untranslated(zh)
    missing = admin.get("/ui/kernels/9.9.9-nope/readiness", headers=ZH)
    assert missing.status_code == 404 and "内核 9.9.9-nope 没有就绪报告" in missing.text


def test_viewers_read_it_and_anonymous_users_log_in(uihub: UiHub) -> None:
    r612 = uihub.releases["6.12"]
    uihub.ctx.hub.store.readiness.save(record_of(report_612(release=r612)))
    with TestClient(uihub.app) as c:
        r = c.get(f"/ui/kernels/{r612}/readiness", follow_redirects=False)
        assert r.status_code == 303 and "/ui/login" in r.headers["location"]
        login(c, token=uihub.tokens["viewer"])
        assert c.get(f"/ui/kernels/{r612}/readiness").status_code == 200


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_readiness_pages_in_chromium(browser: Any, served: UiHub, lang: str) -> None:  # noqa: F811
    store = served.ctx.hub.store
    r61, r612 = served.releases["6.1"], served.releases["6.12"]
    store.readiness.save(record_of(report_61(release=r61)))
    store.readiness.save(record_of(report_612(release=r612)))
    ctx = browser.new_context(viewport={"width": 1400, "height": 900},
                              locale="zh-CN" if lang == "zh" else "en-US")
    page = ctx.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    log_in(page, served, "alice")
    page.goto(served.url + "/ui/kernels")
    assert page.locator("td.readiness[data-readiness=not-ready]").count() == 1
    assert page.locator(f"tr[data-unchecked='{r61}']").count() == 0
    shot(page, f"readiness-kernels-{lang}")
    page.goto(served.url + f"/ui/kernels/{r612}/readiness")
    log = page.locator("details.capture-log").first
    assert not log.locator("pre").is_visible()
    log.locator("summary").click()
    assert log.locator("pre").is_visible()
    shot(page, f"readiness-report-{lang}")
    assert errors == []
    ctx.close()
