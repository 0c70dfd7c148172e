"""The store commands: ingest, buckets, crash, token; --data and CRASHHUB_DATA; serve --demo."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from crashhub.commands.serve import demo_sources

from .conftest import cli, free_port


@pytest.mark.lab
def test_ingest_buckets_crash(tmp_path: Path, lab: Any) -> None:
    data = tmp_path / "data"
    run = lab.crash("6.1", "null")
    rhel = Path(run.path("rhel/vmcore")).parent
    debian = Path(run.path("debian/dump")).parent
    r = cli(data, "ingest", str(rhel), str(debian))
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert out.count(": crash c") == 2 and "(new)" in out and "(already stored)" in out
    assert "bucket " in out and "  kb " in out
    cid = out.split(": crash ", 1)[1].split()[0]

    # CRASHHUB_DATA instead of --data
    r = subprocess.run(
        [sys.executable, "-m", "crashhub.cli", "buckets", "--json"],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "CRASHHUB_DATA": str(data)},
    )
    assert r.returncode == 0, r.stderr
    (b,) = json.loads(r.stdout)
    assert {"id", "key", "kind", "title", "count", "hosts", "kernels", "kb"} <= set(b)
    assert (
        b["count"] == 1
        and b["kind"] == "null_deref"
        and b["kernels"] == [run.manifest.get("release", b["kernels"][0])]
    )
    r = cli(data, "crash", cid, "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["bucket"] == b["id"]
    r = cli(data, "crash", "nope")
    assert r.returncode == 2 and "no crash 'nope'" in r.stderr
    r = cli(data, "buckets")
    assert r.returncode == 0 and b["id"] in r.stdout


def test_ingest_bad_path(tmp_path: Path) -> None:
    r = cli(tmp_path / "data", "ingest", str(tmp_path / "missing"))
    assert r.returncode == 2 and "no such file" in r.stderr


def test_token_commands(tmp_path: Path) -> None:
    data = tmp_path / "data"
    r = cli(data, "token", "create", "--role", "viewer", "--name", "grafana")
    assert r.returncode == 0 and r.stdout.startswith("chub_")
    r = cli(data, "token", "list", "--json")
    (t,) = json.loads(r.stdout)
    assert t["role"] == "viewer" and t["name"] == "grafana" and "token" not in t
    assert cli(data, "token", "revoke", t["id"]).returncode == 0
    assert json.loads(cli(data, "token", "list", "--json").stdout)[0]["revoked"]
    r = cli(data, "token", "create", "--role", "root")
    assert r.returncode != 0


def test_token_host_binding_commands(tmp_path: Path) -> None:
    data = tmp_path / "data"
    r = cli(data, "token", "create", "--role", "host", "--host", "web-07", "--json")
    assert r.returncode == 0, r.stderr
    made = json.loads(r.stdout)
    assert made["host"] == "web-07" and made["name"] == "web-07" and made["token"].startswith("chub_")
    old = json.loads(cli(data, "token", "create", "--role", "host", "--name", "old", "--json").stdout)
    assert old["host"] is None
    assert "unbound" in cli(data, "token", "list").stdout
    r = cli(data, "token", "bind", old["id"], "--host", "db-01")
    assert r.returncode == 0 and "db-01" in r.stdout
    # A bound token is never moved to another host.
    r = cli(data, "token", "bind", old["id"], "--host", "db-02")
    assert r.returncode == 1 and "already bound to host 'db-01'" in r.stdout
    hosts = {t["id"]: t["host"] for t in json.loads(cli(data, "token", "list", "--json").stdout)}
    assert hosts == {made["id"]: "web-07", old["id"]: "db-01"}
    r = cli(data, "token", "create", "--role", "viewer", "--host", "web-07")
    assert r.returncode != 0 and "--host" in r.stderr
    r = cli(data, "token", "create", "--role", "host", "--host", "../etc")
    assert r.returncode != 0 and "--host" in r.stderr


def test_serve_demo(tmp_path: Path) -> None:
    # src/crashhub/examples ships demo logs, so there are always some.
    assert demo_sources(), "no demo logs: src/crashhub/examples is empty"
    port = free_port()
    log = tmp_path / "serve.log"
    with open(log, "wb") as f:
        p = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "crashhub.cli",
                "serve",
                "--demo",
                "--admin-token",
                "--data",
                str(tmp_path / "data"),
                "--port",
                str(port),
                "--spool",
                "",
            ],
            stdout=f,
            stderr=subprocess.STDOUT,
        )
    try:
        token = None
        end = time.monotonic() + 120
        while time.monotonic() < end and token is None:
            for line in log.read_text().splitlines():
                if line.startswith("admin token: "):
                    token = line.split(": ", 1)[1]
            assert p.poll() is None, log.read_text()
            time.sleep(0.2)
        assert token, log.read_text()
        while time.monotonic() < end:
            try:
                r = httpx.get(
                    f"http://127.0.0.1:{port}/api/v1/buckets",
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=5,
                )
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        body = r.json()
        assert body["total"] >= 1
        assert any(m for b in body["buckets"] for m in b["kb"] if not m.get("generic")), (
            "the demo should show a specific knowledge-base hit"
        )
    finally:
        p.terminate()
        p.wait(20)


@pytest.mark.lab
def test_ingest_json_prints_the_upload_answer(tmp_path: Path, lab: Any) -> None:
    """``ingest --json`` renders its own line (ingest no longer shapes HTTP answers): the upload answer's
    fields, in the API's order, between the path and the notes."""
    log = Path(lab.crash("6.1", "null").path("rhel/vmcore-dmesg.txt"))
    r = cli(tmp_path / "data", "ingest", "--json", str(log))
    assert r.returncode == 0, r.stderr
    (line,) = r.stdout.splitlines()
    d = json.loads(line)
    assert list(d) == [
        "path", "id", "created", "kind", "title", "bucket", "kb", "kb_view", "wants_vmcore", "has_vmcore",
        "notes"
    ]
    assert d["path"] == str(log) and d["created"] and d["kind"] == "null_deref"
    assert list(d["bucket"]) == ["id", "key", "title", "kind", "count"] and d["bucket"]["count"] == 1
    assert d["wants_vmcore"] and not d["has_vmcore"]
