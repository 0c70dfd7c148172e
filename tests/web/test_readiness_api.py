"""Kernel readiness through the API (in-process app): ``POST /api/v1/kernels/check`` stores the
packages as blobs and queues the ``kernel-check`` job (admins only), the job runs the runner (here
monkeypatched: the runner's own end-to-end test boots a kernel) and stores its report, and the
report is read back; bad input is a 4xx naming the field, with nothing stored."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.debuginfo.pkgs import build_deb
from tests.readiness_data import report_61, report_612

from crashhub import config, readiness
from crashhub.readiness import ReadinessReport
from crashhub.web import create_token
from crashhub.web._app import Context, build_context, create_app


@dataclass
class App:
    ctx: Context
    client: TestClient
    tokens: dict[str, str]
    calls: list[dict[str, Any]]

    def as_(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def blobs(self) -> set[str]:
        return {d for d, _ in self.ctx.hub.blobs.digests()}


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[App]:
    settings = config.load(tmp_path / "data", env={}, spool_dir="", workers=0,
                           max_kernel_package_bytes=1 << 20)
    ctx = build_context(settings)
    tokens = {r: create_token(ctx.hub.store, r, f"t-{r}")[0] for r in ("host", "viewer", "admin")}
    calls: list[dict[str, Any]] = []

    def fake_check(packages: list[Path], **kw: Any) -> ReadinessReport:
        # What the runner is given: each upload under its own name, with its bytes.
        calls.append({"packages": {p.name: p.read_bytes() for p in packages},
                      "debuginfo": kw["debuginfo"] and (kw["debuginfo"].name, kw["debuginfo"].read_bytes()),
                      "makedumpfile": kw["makedumpfile"], **{k: kw[k] for k in
                                                             ("core_collector", "crashkernel", "kinds")}})
        return report_612()

    monkeypatch.setattr(readiness, "check", fake_check)
    with TestClient(create_app(settings, background=False, ctx=ctx)) as c:
        yield App(ctx, c, tokens, calls)
    ctx.hub.close()


@pytest.fixture(scope="module")
def deb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("deb")
    (work / "System.map").write_text("ffffffff81000000 T _stext\n")
    return build_deb(work, {"boot/System.map-6.12.117+deb12-cloud-amd64": work / "System.map"},
                     name="linux-image-6.12.117+deb12-cloud-amd64")


def test_an_admin_check_is_queued_run_and_read_back(app: App, deb: Path, tmp_path: Path) -> None:
    dbg = tmp_path / "linux-image-6.12.117+deb12-cloud-amd64-dbg_amd64.deb"
    dbg.write_bytes(b"!<arch>\n" + b"d" * 100)
    r = app.client.post("/api/v1/kernels/check", headers=app.as_("admin"), files=[
        ("package", (deb.name, deb.read_bytes())), ("debuginfo", (dbg.name, dbg.read_bytes()))],
        data={"core_collector": "makedumpfile  -l --message-level 7 -d 31", "kinds": "sysrq, null"})
    assert r.status_code == 202, r.text
    job = r.json()["job"]
    want = {hashlib.sha256(deb.read_bytes()).hexdigest(), hashlib.sha256(dbg.read_bytes()).hexdigest()}
    assert want <= app.blobs()
    state = app.client.get(f"/api/v1/kernels/check/{job}", headers=app.as_("admin")).json()
    assert state["state"] == "pending" and app.calls == []
    assert app.ctx.queue.drain(30)
    (call,) = app.calls
    assert call["packages"] == {deb.name: deb.read_bytes()}
    assert call["debuginfo"] == (dbg.name, dbg.read_bytes()) and call["makedumpfile"] is None
    assert (call["core_collector"], call["crashkernel"], call["kinds"]) == (
        "makedumpfile -l --message-level 7 -d 31", "256M", ("sysrq", "null"))
    done = app.client.get(f"/api/v1/kernels/check/{job}", headers=app.as_("admin")).json()
    assert done["state"] == "done" and done["result"]["ready"] is False
    assert done["result"]["release"] == "6.12.117+deb12-cloud-amd64"
    # The report as stored, read by a viewer: what the runner made, field for field.
    got = app.client.get("/api/v1/kernels/6.12.117+deb12-cloud-amd64/readiness", headers=app.as_("viewer"))
    assert got.status_code == 200
    assert ReadinessReport.from_dict(got.json()) == report_612()
    body = got.json()
    assert body["ready"] is False and body["advice"][0].startswith("Use dump level 23")
    k = body["kinds"][0]
    assert (k["captured"], k["dmesg_matches_log"], k["panic_task_readable"], k["stack_readable"]) == (
        True, True, False, False)
    assert k["dump_bytes"] == 38 << 20 and k["ram_bytes"] == 1 << 30 and k["dropped_needed_pages"]
    # The job over, its packages are no longer kept from gc.
    assert not want & app.ctx.hub.store.retention.referenced_digests()


def test_the_list_names_checked_and_unchecked_kernels(app: App) -> None:
    store = app.ctx.hub.store
    store.hosts.report_host("web1", release="6.1.0-57-cloud-amd64", build_id=None, hardware=None,
                            machine="x86_64", agent_version="0.1", kdump=None)
    store.hosts.report_host("web2", release="6.12.117+deb12-cloud-amd64", build_id=None, hardware=None,
                            machine="x86_64", agent_version="0.1", kdump=None)
    store.readiness.save(readiness.record_of(report_61()))
    r = app.client.get("/api/v1/kernels/readiness", headers=app.as_("viewer")).json()
    assert [(k["release"], k["ready"]) for k in r["kernels"]] == [("6.1.0-57-cloud-amd64", True)]
    assert r["kernels"][0]["kinds"] == {"sysrq": True, "null": True, "softlockup": True}
    assert [u["release"] for u in r["unchecked"]] == ["6.12.117+deb12-cloud-amd64"]
    missing = app.client.get("/api/v1/kernels/6.12.117+deb12-cloud-amd64/readiness",
                             headers=app.as_("viewer"))
    assert missing.status_code == 404 and "no readiness report" in missing.json()["error"]


def test_only_admins_ask_for_a_check(app: App, deb: Path) -> None:
    files = [("package", (deb.name, deb.read_bytes()))]
    for role in ("host", "viewer"):
        r = app.client.post("/api/v1/kernels/check", headers=app.as_(role), files=files)
        assert r.status_code == 403, r.text
        assert app.client.get("/api/v1/kernels/check/j1", headers=app.as_(role)).status_code == 403
    assert app.client.post("/api/v1/kernels/check", files=files).status_code == 401
    assert app.client.get("/api/v1/kernels/readiness", headers=app.as_("host")).status_code == 403
    assert app.ctx.hub.store.jobs.list_jobs() == [] and app.blobs() == set()


@pytest.mark.parametrize(("files", "data", "status", "says"), [
    ([("debuginfo", ("dbg.deb", b"x"))], {"crashkernel": "256M"}, 400, "field 'package' is required"),
    ([("package", ("vmlinuz", b"x"))], {}, 400, "neither a .deb nor an .rpm"),
    ([("package", ("../../etc/x.deb", b"x"))], {}, 400, "not a plain file name"),
    ([("package", ("k.deb", b""))], {}, 400, "k.deb is empty"),
    ([("package", ("k.deb", b"x")), ("package", ("k.deb", b"y"))], {}, 400, "given twice"),
    ([("package", (f"k{i}.rpm", b"x")) for i in range(9)], {}, 400, "more than 8 times"),
    ([("package", ("k.deb", b"x")), ("debuginfo", ("a.deb", b"x")), ("debuginfo", ("b.deb", b"y"))], {}, 400,
     "field 'debuginfo' is given twice"),
    ([("package", ("k.deb", b"x")), ("debuginfo", ("dbg.tar", b"x"))], {}, 400, "not a .deb, .ddeb or .rpm"),
    ([("package", ("k.deb", b"x"))], {"core_collector": "makedumpfile -d 31; rm -rf /"}, 400,
     "core_collector"),
    ([("package", ("k.deb", b"x"))], {"core_collector": "gzip -9"}, 400, "kdump runs makedumpfile or cp"),
    ([("package", ("k.deb", b"x"))], {"crashkernel": "lots"}, 400, "crashkernel"),
    ([("package", ("k.deb", b"x"))], {"kinds": "sysrq,oops"}, 400, "unknown kind 'oops'"),
    ([("package", ("k.deb", b"x"))], {"release": "6.1"}, 400, "unknown field 'release'"),
    ([("package", ("k.deb", b"x" * ((1 << 20) + 1)))], {}, 413, "larger than the limit"),
])
def test_bad_input_is_a_4xx_and_keeps_nothing(app: App, files: list[Any], data: dict[str, str], status: int,
                                               says: str) -> None:
    r = app.client.post("/api/v1/kernels/check", headers=app.as_("admin"), files=files,
                        data=data)
    assert r.status_code == status, r.text
    assert says in r.json()["error"] and "\n" not in r.json()["error"]
    assert app.ctx.hub.store.jobs.list_jobs() == [] and app.blobs() == set()
    tmp = app.ctx.hub.blobs.temp_path().parent
    assert [p.name for p in tmp.iterdir()] == []


def test_an_unknown_job_is_a_404(app: App) -> None:
    assert app.client.get("/api/v1/kernels/check/jnope", headers=app.as_("admin")).status_code == 404
    jid, _ = app.ctx.hub.store.jobs.enqueue_job("analyze", {"crash_id": "c"})
    assert app.client.get(f"/api/v1/kernels/check/{jid}", headers=app.as_("admin")).status_code == 404
