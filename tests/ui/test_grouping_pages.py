"""Versioned grouping through the API and the bucket page: a split by condition that later crashes
follow, similar buckets across kernels (the 6.12 NULL deref split off ranks first for the 6.1 one),
old ids and keys that lead to the surviving bucket, rules listed and deleted, re-keys queued."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from tests.ui.conftest import UiHub, csrf_of
from tests.ui.test_pages import login

from crashhub.classify import ALGORITHM


@pytest.fixture
def api(uihub: UiHub) -> Iterator[TestClient]:
    with TestClient(uihub.app, headers={"Authorization": f"Bearer {uihub.tokens['admin']}"}) as c:
        yield c


@pytest.fixture
def admin(uihub: UiHub) -> Iterator[TestClient]:
    with TestClient(uihub.app) as c:
        login(c, token=uihub.tokens["admin"])
        yield c


def _bucket_of(uihub: UiHub, case: str) -> str:
    c = uihub.ctx.hub.store.crashes.get_crash(uihub.crashes[case])
    assert c is not None
    return c.bucket_id


def test_a_split_by_condition_and_similar_buckets_in_the_api(uihub: UiHub, api: TestClient) -> None:
    null = _bucket_of(uihub, "6.1/null")
    assert _bucket_of(uihub, "6.12/null") == null  # one key on both kernels
    bad = api.post(f"/api/v1/buckets/{null}/split", json={"when": [{"field": "colour", "pattern": "x"}]})
    assert bad.status_code == 400 and "field" in bad.text
    r = api.post(f"/api/v1/buckets/{null}/split",
                 json={"when": [{"field": "release", "pattern": "6.12.*"}], "title": "NULL on 6.12"})
    assert r.status_code == 200, r.text
    new = r.json()
    assert new["count"] == 1 and new["title"] == "NULL on 6.12"
    d = api.get(f"/api/v1/buckets/{null}").json()
    assert d["similar"][0]["bucket"]["id"] == new["id"] and d["similar"][0]["score"] > 0.9
    assert d["similar"][0]["bucket"]["kernels"] == [uihub.releases["6.12"]]
    assert [x["action"] for x in d["rules"]] == ["split"] and d["keys"][0]["algorithm"] == ALGORITHM
    assert api.get(f"/api/v1/buckets/{null}/similar").json()["similar"][0]["bucket"]["id"] == new["id"]
    (rule,) = api.get("/api/v1/bucket-rules", params={"bucket": new["id"]}).json()["rules"]
    assert rule["when"] == [{"field": "release", "pattern": "6.12.*"}] and rule["source"] == null

    deleted = api.delete(f"/api/v1/bucket-rules/{rule['id']}")
    assert deleted.status_code == 200 and deleted.json()["deleted"]["id"] == rule["id"]
    assert api.get(f"/api/v1/buckets/{null}").json()["count"] == 2
    back = api.get(f"/api/v1/buckets/{new['id']}").json()  # the emptied split bucket leads back
    assert back["id"] == null and back["resolved_from"] == new["id"]
    assert api.delete(f"/api/v1/bucket-rules/{rule['id']}").status_code == 404  # ended: no live rule
    assert api.delete("/api/v1/bucket-rules/database").status_code == 404


def test_old_ids_and_keys_lead_to_the_surviving_bucket(uihub: UiHub, api: TestClient) -> None:
    sysrq, hung = _bucket_of(uihub, "6.1/sysrq"), _bucket_of(uihub, "6.1/hung")
    key = api.get(f"/api/v1/buckets/{sysrq}").json()["key"]
    assert api.post(f"/api/v1/buckets/{sysrq}/merge", json={"into": hung}).status_code == 200
    for ref in (sysrq, key):
        d = api.get(f"/api/v1/buckets/{ref}").json()
        assert (d["id"], d["resolved_from"]) == (hung, ref)
    (merge,) = [r for r in api.get("/api/v1/bucket-rules").json()["rules"] if r["action"] == "merge"]
    assert (merge["key"], merge["target"]) == (key, hung)
    api.delete(f"/api/v1/bucket-rules/{merge['id']}")
    assert api.get(f"/api/v1/buckets/{sysrq}").json()["id"] == sysrq  # unmerged


def test_rekeys_are_listed_and_queued_by_an_admin(uihub: UiHub, api: TestClient) -> None:
    ledger = api.get("/api/v1/rekeys").json()
    assert ledger["algorithm"] == ALGORITHM and set(ledger["algorithms"]) == {ALGORITHM}
    assert ledger["rekeys"] == []
    with TestClient(uihub.app, headers={"Authorization": f"Bearer {uihub.tokens['viewer']}"}) as viewer:
        assert viewer.post("/api/v1/rekey").status_code == 403
        assert viewer.get("/api/v1/rekeys").status_code == 200
    r = api.post("/api/v1/rekey")
    assert r.status_code == 202 and r.json()["job"]
    assert uihub.ctx.queue.drain(30)
    (job,) = [j for j in uihub.ctx.hub.store.jobs.list_jobs() if j.kind == "rekey"]
    assert job.state == "done" and job.result == {"status": "done", "rounds": []}  # nothing to re-key


def test_the_bucket_page_splits_shows_rules_and_redirects(uihub: UiHub, admin: TestClient) -> None:
    null = _bucket_of(uihub, "6.1/null")
    page = admin.get(f"/ui/buckets/{null}").text
    assert 'id="grouping"' in page and 'name="pattern"' in page
    r = admin.post(f"/ui/buckets/{null}/split", data={"csrf": csrf_of(page), "field": "release",
                                                       "pattern": "6.12.*"}, follow_redirects=False)
    assert r.status_code == 303
    new = r.headers["location"].rsplit("/", 1)[1]
    page = admin.get(f"/ui/buckets/{null}").text
    assert f'<tr data-bucket="{new}">' in page  # the 6.12 bucket ranks among the similar ones
    (rule,) = uihub.ctx.hub.store.grouping.rules(bucket=new)
    assert f'data-rule="{rule.id}"' in page
    r = admin.post(f"/ui/buckets/{null}/rules/{rule.id}/delete", data={"csrf": csrf_of(page)},
                   follow_redirects=False)
    assert r.status_code == 303
    moved = admin.get(f"/ui/buckets/{new}", follow_redirects=False)
    assert moved.status_code == 303 and moved.headers["location"] == f"/ui/buckets/{null}?from={new}"
    assert 'id="came-from"' in admin.get(moved.headers["location"]).text
    assert admin.post(f"/ui/buckets/{null}/split", data={"csrf": csrf_of(page)}).status_code == 400
