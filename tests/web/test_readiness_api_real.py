"""Kernel readiness through the API with the real runner: an admin uploads Debian's current 6.1 image
package (the lab's), the ``kernel-check`` job lays it out under its own name, boots it under QEMU,
crashes it (sysrq), reads the dump, and the stored report is what the kernels API and page show.

The job's runner is ``crashhub.readiness.check`` itself, given the lab's boot cache so that a warm
cache does not boot again (the evaluation always runs).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.readiness.kernels import boot_cache, debs

from crashhub import config, readiness
from crashhub.web import create_token
from crashhub.web._app import Context, build_context, create_app

pytestmark = pytest.mark.lab
Client = tuple[TestClient, Context, dict[str, str]]  # the app, its context, an admin's headers


@pytest.fixture
def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Client]:
    settings = config.load(tmp_path / "data", env={}, spool_dir="", workers=0)
    ctx = build_context(settings)
    admin = create_token(ctx.hub.store, "admin", "t-admin")[0]
    real = readiness.check

    def with_cache(packages: list[Path], **kw: Any) -> readiness.ReadinessReport:
        return real(packages, boot_cache=boot_cache(), **kw)

    monkeypatch.setattr(readiness, "check", with_cache)
    with TestClient(create_app(settings, background=False, ctx=ctx)) as c:
        yield c, ctx, {"Authorization": f"Bearer {admin}"}
    ctx.hub.close()


def test_an_uploaded_debian_kernel_is_checked_by_the_job(client: Client) -> None:
    c, ctx, auth = client
    d = debs("6.1")
    with d.image.open("rb") as fh:
        r = c.post("/api/v1/kernels/check", headers=auth, files=[("package", (d.image.name, fh))],
                   data={"kinds": "sysrq"})
    assert r.status_code == 202, r.text
    job = r.json()["job"]
    assert ctx.queue.drain(900)
    done = c.get(f"/api/v1/kernels/check/{job}", headers=auth).json()
    assert done["state"] == "done", done
    assert done["result"]["release"] == d.kernel.release and done["result"]["ready"] is True
    got = c.get(f"/api/v1/kernels/{d.kernel.release}/readiness", headers=auth).json()
    (k,) = got["kinds"]
    assert k["kind"] == "sysrq" and k["captured"] and k["dmesg_matches_log"]
    assert k["guilty_function"] == "sysrq_handle_crash" and 0 < k["dump_bytes"] < k["ram_bytes"]
    assert got["packages"] == [d.image.name]
    listed = c.get("/api/v1/kernels/readiness", headers=auth).json()
    assert d.kernel.release in [k["release"] for k in listed["kernels"]]
