"""The response workflow through the UI (admin form with CSRF, history, dashboard flag) and the API
(``PATCH /api/v1/buckets/{id}``)."""

from __future__ import annotations

import re
import time

from fastapi.testclient import TestClient
from tests.ui.conftest import UiHub, csrf_of
from tests.ui.test_pages import login


def _bucket_of(hub: UiHub, key: str) -> str:
    c = hub.ctx.hub.store.crashes.get_crash(hub.crashes[key])
    assert c is not None
    return c.bucket_id


def test_workflow_form(uihub: UiHub) -> None:
    bid = _bucket_of(uihub, "6.1/hung")
    with TestClient(uihub.app) as c:
        login(c, user="alice", password=uihub.password)
        page = c.get(f"/ui/buckets/{bid}").text
        assert f'action="/ui/buckets/{bid}/workflow"' in page
        form = {"status": "advice given", "owner": "alice", "advice": "Check the **NFS** server."}
        r = c.post(f"/ui/buckets/{bid}/workflow", data={**form, "csrf": "forged"})
        assert r.status_code == 403
        assert uihub.ctx.hub.store.buckets.get_bucket(bid).status != "advice_given"  # type: ignore[union-attr]
        r = c.post(f"/ui/buckets/{bid}/workflow", data={**form, "csrf": csrf_of(page)})
        assert r.status_code == 200, r.text[:300]
        assert re.search(r'id="wf-status">advice given<', r.text)
        assert "<strong>NFS</strong>" in r.text  # the advice, rendered as Markdown
        assert "ui:alice" in r.text and "workflow" in r.text  # the history says who
    b = uihub.ctx.hub.store.buckets.get_bucket(bid)
    assert b is not None and (b.status, b.owner) == ("advice_given", "alice")


def test_viewer_cannot_change_workflow(uihub: UiHub) -> None:
    bid = _bucket_of(uihub, "6.1/sysrq")
    with TestClient(uihub.app) as c:
        login(c, user="victor", password=uihub.password)
        page = c.get(f"/ui/buckets/{bid}").text
        assert "/workflow" not in page
        r = c.post(f"/ui/buckets/{bid}/workflow", data={"csrf": csrf_of(page), "status": "fixed"})
        assert r.status_code == 403
    assert uihub.ctx.hub.store.buckets.get_bucket(bid).status != "fixed"  # type: ignore[union-attr]


def test_overdue_flag_and_api_patch(uihub: UiHub) -> None:
    store = uihub.ctx.hub.store
    bid = _bucket_of(uihub, "6.1/sysrq")
    b = store.buckets.get_bucket(bid)
    assert b is not None and b.advice_deadline is not None
    overdue = b.status == "new" and time.time() > b.advice_deadline
    with TestClient(uihub.app) as c:
        login(c, token=uihub.tokens["admin"])
        row = re.search(rf'data-bucket="{bid}">.*?</tr>', c.get("/ui/?sort=last_seen").text, re.S)
        assert row and ("badge overdue" in row[0]) == overdue
    api = TestClient(uihub.app)
    url = f"/api/v1/buckets/{bid}"
    viewer = {"Authorization": f"Bearer {uihub.tokens['viewer']}"}
    admin = {"Authorization": f"Bearer {uihub.tokens['admin']}"}
    assert api.patch(url, json={"status": "fixed"}, headers=viewer).status_code == 403
    assert api.patch(url, json={"status": "done"}, headers=admin).status_code == 400
    assert api.patch(url, json={"colour": "red"}, headers=admin).status_code == 400
    assert api.patch("/api/v1/buckets/nope", json={"status": "fixed"}, headers=admin).status_code == 404
    r = api.patch(url, json={"status": "investigating", "owner": "kernel-team"}, headers=admin)
    assert r.status_code == 200 and r.json()["status"] == "investigating"
    assert r.json()["owner"] == "kernel-team"
    events = api.get(url, headers=viewer).json()["events"]
    assert events[-1]["action"] == "workflow" and events[-1]["actor"].startswith("token:")
    with TestClient(uihub.app) as c:
        login(c, token=uihub.tokens["admin"])
        row = re.search(rf'data-bucket="{bid}">.*?</tr>', c.get("/ui/?sort=last_seen").text, re.S)
        assert row and "badge overdue" not in row[0] and "investigating" in row[0]
        assert bid in c.get("/ui/?kb=new&sort=last_seen").text
        assert bid not in c.get("/ui/?kb=known&sort=last_seen").text
