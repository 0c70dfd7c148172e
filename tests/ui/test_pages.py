"""The UI's pages through the ASGI app (no browser): login, CSRF, roles, pages, KB form, languages."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from tests.labdata import case
from tests.ui.conftest import UiHub, csrf_of


def login(client: TestClient, *, token: str | None = None, user: str = "", password: str = "") -> None:
    page = client.get("/ui/login")
    r = client.post(
        "/ui/login",
        data={"csrf": csrf_of(page.text), "token": token or "", "username": user, "password": password},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text[:500]


@pytest.fixture
def admin(uihub: UiHub) -> Iterator[TestClient]:
    with TestClient(uihub.app) as c:
        login(c, token=uihub.tokens["admin"])
        yield c


@pytest.fixture
def viewer(uihub: UiHub) -> Iterator[TestClient]:
    with TestClient(uihub.app) as c:
        login(c, user="victor", password=uihub.password)
        yield c


def test_pages_need_a_login(uihub: UiHub) -> None:
    c = TestClient(uihub.app)
    for path in ("/ui/", f"/ui/crashes/{uihub.dump_crash}", "/ui/kb", "/ui/hosts"):
        r = c.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/ui/login?next="), path
    assert c.get("/", follow_redirects=False).headers["location"] == "/ui/"


def test_login_refuses_bad_password_host_token_and_missing_csrf(uihub: UiHub) -> None:
    c = TestClient(uihub.app)
    page = c.get("/ui/login")
    token = csrf_of(page.text)
    r = c.post("/ui/login", data={"csrf": token, "username": "alice", "password": "wrong-password"})
    assert r.status_code == 401 and "wrong user name or password" in r.text
    r = c.post("/ui/login", data={"csrf": token, "token": uihub.tokens["host"]})
    assert r.status_code == 401 and "cannot log into the UI" in r.text
    r = c.post("/ui/login", data={"csrf": "forged", "token": uihub.tokens["admin"]}, follow_redirects=False)
    assert r.status_code == 403 and "CSRF" in r.text
    assert "chub_session" not in c.cookies


def test_session_cookie_is_signed(uihub: UiHub) -> None:
    c = TestClient(uihub.app)
    login(c, user="victor", password=uihub.password)
    cookie = c.cookies["chub_session"]
    payload, _, mac = cookie.rpartition(".")
    c.cookies.set("chub_session", payload + "." + ("A" if mac[0] != "A" else "B") + mac[1:])
    assert c.get("/ui/", follow_redirects=False).status_code == 303


def test_dashboard_lists_buckets_with_sparklines_and_chart(admin: TestClient, uihub: UiHub) -> None:
    html = admin.get("/ui/").text
    rows = re.findall(r'<tr class="bucket[^"]*" data-bucket="([0-9a-f]+)"', html)
    # null on two kernels is one bucket; hung and sysrq are two more.
    assert len(rows) == 3
    assert html.count('<svg class="spark"') == 3
    assert "crashmod_null" in html and "hung" in html
    chart = re.search(r'<svg class="chart"[^>]*data-bars="(\d+)"', html)
    assert chart and int(chart[1]) >= 1
    assert uihub.releases["6.1"] in html and uihub.releases["6.12"] in html
    # Filters: by kind and by kernel.
    assert len(re.findall(r'data-bucket="', admin.get("/ui/?kind=sysrq").text)) == 1
    only612 = admin.get("/ui/", params={"kernel": uihub.releases["6.12"]}).text
    assert len(re.findall(r'data-bucket="', only612)) == 1 and "crashmod_null" in only612
    assert admin.get("/ui/?sort=bogus").status_code == 400


def test_bucket_page_has_timeline_hosts_kernels_and_kb_form_link(admin: TestClient, uihub: UiHub) -> None:
    bid = uihub.ctx.hub.store.crashes.get_crash(uihub.crashes["6.1/null"]).bucket_id  # type: ignore[union-attr]
    html = admin.get(f"/ui/buckets/{bid}").text
    assert re.search(r'<svg class="chart"[^>]*data-bars="[1-9]', html)
    assert uihub.releases["6.12"] in html and "QEMU Standard PC" in html
    assert f'href="/ui/kb/new?bucket={bid}"' in html
    assert html.count('href="/ui/crashes/') >= 2


def test_crash_page_highlights_the_guilty_line(admin: TestClient, uihub: UiHub) -> None:
    html = admin.get(f"/ui/crashes/{uihub.crashes['6.1/null']}").text
    guilty = re.findall(r'<span class="ln guilty"><i>\d+</i>([^<]*)</span>', html)
    assert guilty and all("crashmod_null" in g for g in guilty)
    assert 'id="summary"' in html and "NULL" in html
    assert '/files/vmcore"' in html  # admins get the download link


def test_dump_download_is_admin_only_and_audited(admin: TestClient, viewer: TestClient, uihub: UiHub) -> None:
    url = f"/ui/crashes/{uihub.dump_crash}/files/vmcore"
    assert viewer.get(url).status_code == 403
    assert '/files/vmcore"' not in viewer.get(f"/ui/crashes/{uihub.dump_crash}").text
    assert viewer.get(f"/ui/crashes/{uihub.dump_crash}/files/vmcore-dmesg.txt").status_code == 200
    r = admin.get(url)
    assert r.status_code == 200 and r.content == case("6.1", "null").dump.read_bytes()  # type: ignore[union-attr]
    audit = uihub.ctx.hub.store.access.list_audit(20)
    assert any(a.action == "download-dump" and a.target.startswith(uihub.dump_crash) for a in audit)
    with TestClient(uihub.app) as anon:
        assert anon.get(url, follow_redirects=False).status_code == 303


def test_kb_form_preview_and_save_marks_bucket_known(
    admin: TestClient, viewer: TestClient, uihub: UiHub
) -> None:
    bid = uihub.ctx.hub.store.crashes.get_crash(uihub.crashes["6.1/hung"]).bucket_id  # type: ignore[union-attr]
    form_page = admin.get(f"/ui/kb/new?bucket={bid}").text
    assert "would match 1 buckets" in form_page
    guilty = uihub.ctx.hub.store.crashes.get_crash(uihub.crashes["6.1/hung"]).report["guilty"]["function"]  # type: ignore[union-attr,index]
    assert f'value="^{guilty}$"' in form_page
    fields = dict(re.findall(r'<input name="(\w+)" value="([^"]*)"', form_page))
    data = {**fields, "csrf": csrf_of(form_page), "bucket": bid, "new": "1", "status": "known",
            "advice": "Fix the *lab* module.", "releases": "", "cause": "", "references": ""}
    r = admin.post("/ui/kb/preview", data={**data, "fragment": "1"})
    assert 'data-count="1"' in r.text
    # A bad regex is shown on the form, nothing written.
    bad = admin.post("/ui/kb/save", data={**data, "function": "(unclosed"})
    assert bad.status_code == 400 and "function" in bad.text
    assert viewer.post("/ui/kb/save", data=data).status_code == 403
    r = admin.post("/ui/kb/save", data=data, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/ui/buckets/{bid}"
    page = admin.get(f"/ui/buckets/{bid}").text
    assert 'class="badge kb-known"' in page and "Fix the <em>lab</em> module." in page
    known = admin.get("/ui/?kb=known").text
    assert f'data-bucket="{bid}"' in known
    # The entry is the store's (every node matches with it), not a file of this node's data directory.
    stored = uihub.ctx.hub.store.kb.get(fields["id"])
    assert stored is not None and f"id: {fields['id']}" in stored.text
    assert not (uihub.data / "kb" / f"{fields['id']}.yaml").exists()


def test_posts_without_csrf_are_refused(admin: TestClient, uihub: UiHub) -> None:
    bid = uihub.ctx.hub.store.crashes.get_crash(uihub.crashes["6.1/sysrq"]).bucket_id  # type: ignore[union-attr]
    r = admin.post(f"/ui/buckets/{bid}/merge", data={"into": "x"})
    assert r.status_code == 403 and "CSRF" in r.text


def test_chinese_by_accept_language_and_by_choice(admin: TestClient) -> None:
    zh = admin.get("/ui/", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"}).text
    assert '<html lang="zh-CN">' in zh and "知识库" in zh
    en = admin.get("/ui/", headers={"Accept-Language": "en-US"}).text
    assert '<html lang="en">' in en and "Knowledge base" in en
    admin.get("/ui/lang/zh?next=/ui/kb")
    assert "知识库" in admin.get("/ui/kb", headers={"Accept-Language": "en"}).text


def test_reports_from_the_ui(viewer: TestClient, uihub: UiHub) -> None:
    cid = uihub.crashes["6.1/null"]
    j = viewer.get(f"/ui/crashes/{cid}/report?format=json").json()
    assert j["crash"]["id"] == cid and j["guilty"] == "crashmod_null"
    md = viewer.get(f"/ui/crashes/{cid}/report?format=md").text
    assert md.startswith(f"# Crash {cid}")
    assert "<pre><code>" in viewer.get(f"/ui/crashes/{cid}/report?format=html").text


def test_weekly_summary_page(viewer: TestClient, uihub: UiHub) -> None:
    html = viewer.get("/ui/weekly").text
    assert "Weekly summary" in html and "New buckets" in html and "Kernels by crash rate" in html
    # A page of the site: its header and nav, every new bucket linked, kernels linked to their crashes.
    assert '<nav>' in html and '<a href="/ui/weekly" class="on">' in html
    crashes = [uihub.ctx.hub.store.crashes.get_crash(c) for c in uihub.crashes.values()]
    buckets = {c.bucket_id for c in crashes if c is not None}
    new = html.split('id="new"', 1)[1].split('id="top"', 1)[0]
    assert set(re.findall(r'href="/ui/buckets/([^"]+)"', new)) == buckets
    assert re.search(r'id="new">[^<]*<small>3</small>', html)
    assert f'href="/ui/?kernel={uihub.releases["6.12"].replace("+", "%2B")}"' in html
    zh = viewer.get("/ui/weekly", headers={"Accept-Language": "zh-CN"}).text
    assert "每周摘要" in zh and "新问题桶" in zh
    assert viewer.get("/ui/weekly?format=json").json()["type"] == "weekly"
    standalone = viewer.get("/ui/weekly?format=html").text
    assert "<style>" in standalone and "<nav>" not in standalone and "## " not in standalone
