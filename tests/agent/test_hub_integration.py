"""The agent against the real hub: ``crashhub serve`` on a loopback port, lab crash directories.

Proves the contract end to end: a crash is sent once, ``wants_vmcore`` decides the dump, an
interrupted upload resumes, and a dump is deleted only after the hub confirmed it.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.agent.test_pstore import REAL, T0, put
from tests.need import need_module

from crashhub.agent import HubClient
from crashhub.agent import _config as config
from crashhub.agent import _state as state
from crashhub.agent._ship import Agent, RunSummary
from crashhub.model import UploadState

pytestmark = [pytest.mark.slow, pytest.mark.lab]
need_module("fastapi", "the hub extra is not installed")
CRASHHUB = [sys.executable, "-m", "crashhub.cli"]


@dataclass
class RealHub:
    url: str
    data: Path
    host_token: str
    admin_token: str
    proc: subprocess.Popen[bytes]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _token(data: Path, role: str) -> str:
    out = subprocess.run([*CRASHHUB, "token", "create", "--role", role, "--data", str(data)],
                         capture_output=True, text=True, check=True, timeout=120)
    return out.stdout.strip().splitlines()[-1]


@pytest.fixture
def real_hub(tmp_path: Path) -> Iterator[RealHub]:
    data = tmp_path / "hub"
    host_token = _token(data, "host")
    admin_token = _token(data, "admin")
    port = _free_port()
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen([*CRASHHUB, "serve", "--data", str(data), "--listen", "127.0.0.1",
                             "--port", str(port), "--spool", "", "--workers", "1"],
                            stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"crashhub serve did not come up:\n{(tmp_path / 'serve.log').read_text()[-3000:]}")
        time.sleep(0.3)
    try:
        yield RealHub(url, data, host_token, admin_token, proc)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _lab_dir(lab: Any, tmp: Path, kind: str, name: str = "rhel/vmcore") -> Path:
    run = lab.crash("6.1", kind)
    src = Path(run.path(name)).parent
    dst = tmp / "crash" / src.name
    shutil.copytree(src, dst)
    return dst


def _cfg(tmp: Path, rh: RealHub, **kw: Any) -> config.AgentConfig:
    d = {"hub": rh.url, "token": rh.host_token, "crash_dirs": [str(tmp / "crash")],
         "state_file": str(tmp / "state.json"), "host": "lab-guest", "settle_seconds": 0, "retry_attempts": 3,
         "retry_initial": 0.2, "timeout": 120.0, "chunk_size": 4 * 2**20}
    d.update(kw)
    return config.from_mapping(d)


def _run(cfg: config.AgentConfig, **kw: Any) -> RunSummary:
    with HubClient(cfg.hub, cfg.token, timeout=cfg.timeout) as c:
        return Agent(cfg, c, **kw).run_once()


def _admin(hub: RealHub, path: str) -> Any:
    r = httpx.get(hub.url + path, headers={"Authorization": f"Bearer {hub.admin_token}"}, timeout=30)
    r.raise_for_status()
    return r.json()


def test_real_hub_send_once_and_delete_after_confirm(lab: Any, tmp_path: Path, real_hub: RealHub) -> None:
    d = _lab_dir(lab, tmp_path, "null")
    cfg = _cfg(tmp_path, real_hub, local_dumps="delete-uploaded")
    s = _run(cfg)
    assert s.errors == [] and s.sent_logs == 1 and s.host_reported
    entry = state.load(cfg.state_file).crashes[str(d)]
    assert entry.crash_id and entry.done
    print(f"real hub: crash {entry.crash_id} wants_vmcore={entry.wants_vmcore} summary={s}")
    if entry.wants_vmcore:
        # A new bucket: the hub asked for the dump, got it whole, confirmed it; only then was it deleted.
        assert s.sent_dumps == 1 and entry.has_vmcore and s.deleted == 1 and not (d / "vmcore").exists()
        st = httpx.get(f"{real_hub.url}/api/v1/crashes/{entry.crash_id}/vmcore/upload",
                       headers={"Authorization": f"Bearer {real_hub.host_token}"}, timeout=30).json()
        assert st["complete"] is True
    else:
        assert s.sent_dumps == 0 and (d / "vmcore").exists()
    assert (d / "vmcore-dmesg.txt").exists()
    # Sent once: a second run posts nothing.
    s2 = _run(cfg)
    assert (s2.sent_logs, s2.sent_dumps) == (0, 0)
    crashes = _admin(real_hub, "/api/v1/crashes?host=lab-guest")
    assert [c["id"] for c in crashes["crashes"]] == [entry.crash_id]
    # The host report reached the hub: kernel and build-id known before any debuginfo is needed.
    hosts = _admin(real_hub, "/api/v1/hosts")["hosts"]
    host = next(h for h in hosts if h.get("host", h.get("name")) == "lab-guest")
    assert host["release"] == os.uname().release
    assert "kernels" in _admin(real_hub, "/api/v1/kernels")


def test_real_hub_resumes_interrupted_upload(lab: Any, tmp_path: Path, real_hub: RealHub) -> None:
    d = _lab_dir(lab, tmp_path, "bug")
    cfg = _cfg(tmp_path, real_hub, report_host=False)
    # First: only the log, as if the agent was stopped right after it; then half the dump by hand.
    with HubClient(cfg.hub, cfg.token) as c:
        ans = c.post_crash(log=d / "vmcore-dmesg.txt", host=cfg.host, crash_dir=d.name)
        # A fresh hub has no dump of this bucket yet: not wanting it would be a bug.
        assert ans.wants_vmcore and ans.created and not ans.has_vmcore, ans
        data = (d / "vmcore").read_bytes()
        half = (len(data) // 2) & ~0xFFF
        assert c.put_chunk(ans.id, data[:half], 0, len(data)) == UploadState(half, len(data))
    st = state.load(cfg.state_file)
    e = st.entry(str(d))
    e.crash_id, e.wants_vmcore, e.vmcore = ans.id, True, "vmcore"
    st.save()
    s = _run(cfg)
    assert s.errors == [] and s.resumed == 1 and s.sent_dumps == 1, s
    with HubClient(cfg.hub, cfg.token) as c:
        status = c.upload_status(ans.id)
    assert status == UploadState(len(data), len(data), complete=True), status


def test_real_hub_outage_is_survived(lab: Any, tmp_path: Path, real_hub: RealHub) -> None:
    d = _lab_dir(lab, tmp_path, "sysrq")
    # Nothing listens on this port: connection refused.
    refused = _cfg(tmp_path, real_hub, hub=f"http://127.0.0.1:{_free_port()}", retry_attempts=2)
    s = _run(refused, sleep=lambda _: None)
    assert s.hub_down and s.exit_code == 75 and state.load(refused.state_file).crashes == {}
    # The hub hangs (stopped process): requests time out, the run gives up, nothing is lost.
    os.kill(real_hub.proc.pid, signal.SIGSTOP)
    try:
        s = _run(_cfg(tmp_path, real_hub, timeout=1.0, retry_attempts=2), sleep=lambda _: None)
    finally:
        os.kill(real_hub.proc.pid, signal.SIGCONT)
    assert s.hub_down and s.exit_code == 75
    # The hub is back: the next run ships the crash.
    cfg = _cfg(tmp_path, real_hub)
    s = _run(cfg)
    assert s.exit_code == 0 and s.sent_logs == 1
    assert state.load(cfg.state_file).crashes[str(d)].done


def test_real_hub_takes_a_pstore_record_then_its_kdump_log(
    lab: Any, tmp_path: Path, real_hub: RealHub
) -> None:
    """HubClient.post_crash(channel="pstore"): the record with its time, then the crash's kdump log,
    are one crash with both channels (issue 19)."""
    from crashhub import dump as dumpmod  # noqa: PLC0415

    d = _lab_dir(lab, tmp_path, "null")
    crashed = dumpmod.facts(d / "vmcore").crash_time
    assert crashed is not None
    tail = (d / "vmcore-dmesg.txt").read_bytes().splitlines()[-60:]
    record = tmp_path / "dmesg-ramoops-0"
    record.write_bytes(b"Panic#1 Part1\n" + b"".join(b"<4>" + x + b"\n" for x in tail))
    with HubClient(real_hub.url, real_hub.host_token) as c:
        first = c.post_crash(log=record, host="lab-guest", channel="pstore", crash_time=crashed + 0.5)
        again = c.post_crash(log=d / "vmcore-dmesg.txt", host="lab-guest")
    assert first.created and not again.created and again.id == first.id
    crash = _admin(real_hub, f"/api/v1/crashes/{first.id}")
    assert sorted(ch["channel"] for ch in crash["channels"]) == ["kdump", "pstore"]
    assert crash["crash_time_source"] == "pstore" and not crash["unverified_source"]


def test_real_hub_takes_pstore_dump_then_records_go(tmp_path: Path, real_hub: RealHub) -> None:
    """The 6.12 lab boot's own ramoops records (Oops#1, Panic#2): one crash on the hub, triaged as
    kdump's log of that boot is, at the record's time; the records removed after that, sent once."""
    d = tmp_path / "sys-fs-pstore"
    d.mkdir()
    for name in ("dmesg-ramoops-0", "dmesg-ramoops-1"):
        put(d, name, (REAL / "6.12-null-channels" / name).read_bytes(), T0)
    cfg = _cfg(tmp_path, real_hub, pstore_dir=str(d), report_host=False)
    s = _run(cfg)
    assert (s.pstore_sent, s.pstore_removed, s.errors) == (1, 2, []), s
    assert not any(d.iterdir())
    cid = state.load(cfg.state_file).crashes[f"pstore:ramoops:Panic#2@{int(T0)}"].crash_id
    crash = _admin(real_hub, f"/api/v1/crashes/{cid}")
    print(f"real hub: pstore crash {cid}: {crash['kind']} {crash['title']!r} at {crash['crash_time']}")
    assert crash["kind"] == "null_deref" and "crashmod_null" in crash["title"]
    assert crash["release"] == "6.12.118+deb12-cloud-amd64"
    assert crash["crash_time"] == "2025-12-06T05:46:40Z" and crash["host"] == "lab-guest"
    assert crash["crash_time_source"] == "pstore" and crash["crash_dir"] is None
    assert _run(cfg).pstore_sent == 0
    # The same boot's kdump log, arriving later (the capture kernel's directory): the same crash,
    # whose dump the hub now asks for.
    with HubClient(cfg.hub, cfg.token) as c:
        ans = c.post_crash(log=REAL / "6.12-null-channels" / "vmcore-dmesg.txt", host=cfg.host,
                           crash_dir="127.0.0.1-2025-12-06-05:47:10")
    assert (ans.id, ans.created, ans.wants_vmcore) == (cid, False, True)
    assert len(_admin(real_hub, "/api/v1/crashes?host=lab-guest")["crashes"]) == 1
