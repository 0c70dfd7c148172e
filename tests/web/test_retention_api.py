"""Retention through the API and the UI (in-process app): pins, deletions, the gc preview, and
which crashes still have their dump."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.store.test_retention_fill import DUMP, add, dump_digest, on_disk
from tests.ui.conftest import csrf_of
from tests.ui.test_pages import login

from crashhub import config
from crashhub.retention import _apply as apply
from crashhub.store import Hub
from crashhub.web import create_token
from crashhub.web._app import build_context, create_app, periodic_retention


@dataclass
class App:
    hub: Hub
    client: TestClient
    tokens: dict[str, str]

    def as_(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    settings = config.load(
        tmp_path / "data", env={}, spool_dir="", workers=0, blob_gc_grace=0, keep_dumps_per_bucket=1
    )
    ctx = build_context(settings)
    tokens = {r: create_token(ctx.hub.store, r, f"t-{r}")[0] for r in ("host", "viewer", "admin")}
    with TestClient(create_app(settings, background=False, ctx=ctx)) as c:
        yield App(ctx.hub, c, tokens)
    ctx.hub.close()


def test_only_admins_pin_and_delete(app: App) -> None:
    x = add(app.hub, "A", 0)
    for role in ("host", "viewer"):
        h = app.as_(role)
        assert app.client.put(f"/api/v1/crashes/{x}/pin", headers=h).status_code == 403
        assert app.client.delete(f"/api/v1/crashes/{x}", headers=h).status_code == 403
        assert app.client.delete("/api/v1/hosts/web1", headers=h).status_code == 403
        assert app.client.get("/api/v1/retention", headers=h).status_code == 403
    assert app.client.delete(f"/api/v1/crashes/{x}").status_code == 401
    assert app.hub.store.crashes.get_crash(x) is not None


def test_pin_keeps_a_dump_the_policy_would_evict(app: App) -> None:
    ids = [add(app.hub, "A", i) for i in range(4)]  # keep 1: the first and the latest stay
    h = app.as_("admin")
    r = app.client.put(f"/api/v1/crashes/{ids[1]}/pin", headers=h)
    assert r.status_code == 200 and r.json()["dump_pinned"]["by"].startswith("token:")
    preview = app.client.get("/api/v1/retention", headers=h).json()
    assert [(e["crash"], e["reason"], e["size"]) for e in preview["evict"]] == [(ids[2], "count", DUMP)]
    apply.run(app.hub)
    assert not on_disk(app.hub, dump_digest(app.hub, ids[2]))
    assert on_disk(app.hub, dump_digest(app.hub, ids[1]))
    crash = app.client.get(f"/api/v1/crashes/{ids[2]}", headers=app.as_("viewer")).json()
    assert crash["has_vmcore"] and not crash["dump_kept"]
    assert crash["dump_evicted"]["reason"] == "count" and crash["dump_evicted"]["size"] == DUMP
    assert crash["dump_evicted"]["sha256"] == dump_digest(app.hub, ids[2])
    rows = {
        c["id"]: c for c in app.client.get("/api/v1/crashes", headers=app.as_("viewer")).json()["crashes"]
    }
    assert (rows[ids[2]]["dump_kept"], rows[ids[2]]["dump_evicted"]) == (False, "count")
    assert (rows[ids[1]]["dump_kept"], rows[ids[1]]["dump_evicted"]) == (True, None)
    # An evicted dump can be neither pinned nor analysed; unpinning lets the policy take the other.
    assert app.client.put(f"/api/v1/crashes/{ids[2]}/pin", headers=h).status_code == 409
    r = app.client.post(f"/api/v1/crashes/{ids[2]}/analyze", headers=h)
    assert r.status_code == 409 and "evicted" in r.json()["error"]
    assert app.client.delete(f"/api/v1/crashes/{ids[1]}/pin", headers=h).json()["dump_pinned"] is None
    assert [e["crash"] for e in app.client.get("/api/v1/retention", headers=h).json()["evict"]] == [ids[1]]


def test_delete_crash_and_host(app: App) -> None:
    x = add(app.hub, "A", 0, host="web1")
    y = add(app.hub, "B", 0, host="web2")
    h = app.as_("admin")
    r = app.client.delete(f"/api/v1/crashes/{x}", headers=h)
    assert r.status_code == 200 and r.json()["bytes_removed"] > DUMP
    assert app.client.get(f"/api/v1/crashes/{x}", headers=h).status_code == 404
    assert app.client.delete(f"/api/v1/crashes/{x}", headers=h).status_code == 404
    d = dump_digest(app.hub, y)
    r = app.client.delete("/api/v1/hosts/web2", headers=h)
    assert r.status_code == 200 and r.json()["crashes"] == [y]
    assert not on_disk(app.hub, d)
    assert app.client.delete("/api/v1/hosts/web2", headers=h).status_code == 404
    audit = app.client.get("/api/v1/audit", headers=h).json()["audit"]
    assert [a["action"] for a in audit[:2]] == ["delete-host", "delete-crash"]


def test_ui_shows_dump_state_and_admins_pin(app: App) -> None:
    ids = [add(app.hub, "A", i) for i in range(3)]
    apply.run(app.hub)  # keep 1: the middle one goes
    c = app.client
    login(c, token=app.tokens["admin"])
    page = c.get(f"/ui/crashes/{ids[1]}").text
    assert "dump evicted" in page and "older than the dumps its bucket keeps" in page
    assert dump_digest(app.hub, ids[1]) in page and "Pin the dump" not in page
    page = c.get(f"/ui/crashes/{ids[0]}").text
    assert "dump kept" in page and "Pin the dump" in page
    bucket = app.hub.store.crashes.get_crash(ids[0]).bucket_id  # type: ignore[union-attr]
    listing = c.get(f"/ui/buckets/{bucket}").text
    assert listing.count("dump kept") == 2 and listing.count("dump evicted") == 1
    r = c.post(f"/ui/crashes/{ids[0]}/pin", data={"csrf": csrf_of(page), "on": "1"}, follow_redirects=False)
    assert r.status_code == 303
    assert app.hub.store.crashes.get_crash(ids[0]).pinned_by is not None  # type: ignore[union-attr]
    assert "Unpin the dump" in c.get(f"/ui/crashes/{ids[0]}").text
    r = c.post(f"/ui/crashes/{ids[0]}/pin", data={"csrf": "forged", "on": "0"}, follow_redirects=False)
    assert r.status_code == 403
    assert app.hub.store.crashes.get_crash(ids[0]).pinned_by is not None  # type: ignore[union-attr]


def test_ui_pin_needs_an_admin(app: App) -> None:
    x = add(app.hub, "A", 0)
    c = app.client
    login(c, token=app.tokens["viewer"])
    page = c.get(f"/ui/crashes/{x}").text
    assert "dump kept" in page and "Pin the dump" not in page
    r = c.post(f"/ui/crashes/{x}/pin", data={"csrf": csrf_of(page), "on": "1"}, follow_redirects=False)
    assert r.status_code == 403 and app.hub.store.crashes.get_crash(x).pinned_by is None  # type: ignore[union-attr]


def test_the_hub_runs_the_policy_periodically(app: App) -> None:
    ids = [add(app.hub, "A", i) for i in range(3)]
    stop = threading.Event()
    ctx = app.client.app.state.ctx  # type: ignore[attr-defined]
    t = threading.Thread(target=periodic_retention, args=(ctx, stop, 0.05), daemon=True)
    t.start()
    end = time.monotonic() + 10
    while time.monotonic() < end and len(app.hub.store.retention.dump_holdings()) == 3:
        time.sleep(0.05)
    stop.set()
    t.join(5)
    assert {h.crash_id for h in app.hub.store.retention.dump_holdings()} == {ids[0], ids[2]}
    assert app.hub.store.access.list_audit(1)[0].actor == "gc"


def test_serve_starts_the_periodic_run(tmp_path: Path) -> None:
    settings = config.load(
        tmp_path / "data",
        env={},
        spool_dir="",
        workers=0,
        blob_gc_grace=0,
        keep_dumps_per_bucket=0,
        retention_interval=0.1,
        alert_interval=0,
    )
    ctx = build_context(settings)
    ids = [add(ctx.hub, "A", i) for i in range(4)]
    with TestClient(create_app(settings, background=True, ctx=ctx)):
        end = time.monotonic() + 15
        while time.monotonic() < end and len(ctx.hub.store.retention.dump_holdings()) > 2:
            time.sleep(0.05)
    assert {h.crash_id for h in ctx.hub.store.retention.dump_holdings()} == {ids[0], ids[3]}
    ctx.hub.close()
