"""Deep analysis and debuginfo through a real ``crashhub serve``: on-demand analysis of a stored
crash, the debuginfo readiness list, and the hub as a debuginfod server for drgn/gdb/crash."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import cli, make_server

pytestmark = [pytest.mark.lab, pytest.mark.slow]


def _wait_analysis(c: httpx.Client, cid: str, timeout: float = 300) -> dict[str, Any]:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        analysis = c.get(f"/api/v1/crashes/{cid}").json().get("analysis") or {}
        if analysis.get("status") in ("done", "failed", "engine unavailable"):
            return dict(analysis)
        time.sleep(0.5)
    raise AssertionError(f"no analysis of {cid} within {timeout} s")


def test_analyze_on_demand_readiness_and_debuginfod(tmp_path: Path, lab: Any) -> None:
    run = lab.crash("6.1", "null")
    # analyze_first=0: nothing runs by itself, so the analysis seen is the one asked for.
    server = make_server(tmp_path, CRASHHUB_ANALYZE_FIRST="0")
    server.start()
    try:
        with server.client("admin") as c, server.client("viewer") as viewer:
            files = {
                "log": ("vmcore-dmesg.txt", run.path("rhel/vmcore-dmesg.txt").read_bytes(), "text/plain"),
                "vmcore": ("vmcore", run.path("rhel/vmcore").read_bytes(), "application/octet-stream"),
            }
            r = c.post("/api/v1/crashes", files=files, data={"host": "web1"})
            assert r.status_code == 201, r.text
            cid = r.json()["id"]

            # The kernel is known from the crash, its debuginfo is not here yet.
            kernels = viewer.get("/api/v1/debuginfo").json()["kernels"]
            mine = [k for k in kernels if k["release"] == run.manifest["kernel"]["release"]]
            assert mine and mine[0]["ok"] is False and mine[0]["alert"] is True

            assert viewer.post(f"/api/v1/crashes/{cid}/analyze").status_code == 403
            assert c.post("/api/v1/crashes/c0ffee/analyze").status_code == 404

            done = cli(server.data, "debuginfo", "import", str(run.vmlinux))
            assert done.returncode == 0, done.stderr
            assert viewer.get("/api/v1/debuginfo").json()["entries"]
            mine = [k for k in viewer.get("/api/v1/debuginfo").json()["kernels"]
                    if k["release"] == run.manifest["kernel"]["release"]]
            assert mine[0]["ok"] is True and mine[0]["by"] in ("build-id", "release")

            r = c.post(f"/api/v1/crashes/{cid}/analyze")
            assert r.status_code == 202, r.text
            analysis = _wait_analysis(c, cid)
            assert analysis["status"] == "done", analysis
            result = analysis["result"]
            assert result["panic_task"]["comm"] == run.manifest["expected"]["comm"]
            assert any(f.get("file") for f in result["stack"])

        # debuginfod: no token (clients send none); HEAD answers with the protocol's headers.
        build_id = run.manifest["expected"]["build_id"]
        with httpx.Client(base_url=server.url, timeout=60) as anon:
            h = anon.head(f"/buildid/{build_id}/debuginfo")
            assert h.status_code == 200, h.text
            assert int(h.headers["x-debuginfod-size"]) == run.vmlinux.stat().st_size
            assert anon.head(f"/buildid/{'0' * 40}/debuginfo").status_code == 404
    finally:
        server.stop()
