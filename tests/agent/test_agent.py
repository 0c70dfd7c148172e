"""The agent against the fake hub (a real HTTP server on loopback): send once, resume, outages,
declined dumps, and no deletion before the hub confirms."""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from crashhub import cli
from crashhub.agent import HubClient
from crashhub.agent import _config as config
from crashhub.agent import _state as state
from crashhub.agent._ship import Agent, RunSummary
from crashhub.errors import HubUnavailable
from crashhub.model import HostInfo, HostReport

from .conftest import TOKEN, FakeHub

LOG = """[    0.000000] Linux version 6.1.0-56-cloud-amd64 (debian-kernel@lists.debian.org) #1 SMP \
PREEMPT_DYNAMIC Debian 6.1.192-2
[   12.345678] BUG: kernel NULL pointer dereference, address: 0000000000000020
[   12.345680] #PF: supervisor write access in kernel mode
[   12.345690] Oops: 0002 [#1] PREEMPT SMP NOPTI
[   12.345700] CPU: 1 PID: 111 Comm: insmod Tainted: G           OE      6.1.0-56-cloud-amd64 #1
[   12.345710] RIP: 0010:crashmod_init+0x11/0x1000 [crashmod]
[   12.345800] Kernel panic - not syncing: Fatal exception
"""

MiB = 2**20


def _cfg(tmp: Path, hub: FakeHub, **kw: Any) -> config.AgentConfig:
    d = {"hub": hub.url, "token": TOKEN, "crash_dirs": [str(tmp / "crash")],
         "state_file": str(tmp / "state.json"), "host": "web-01", "settle_seconds": 0, "retry_attempts": 4,
         "retry_initial": 1.0, "retry_max": 8.0,
         "timeout": 10.0, "chunk_size": MiB, "report_host": True}
    d.update(kw)
    return config.from_mapping(d)


def _rhel_dir(tmp: Path, name: str = "127.0.0.1-2026-11-26-04:59:39", size: int = 3 * MiB + 12345,
              log: str = LOG) -> Path:
    d = tmp / "crash" / name
    d.mkdir(parents=True)
    (d / "vmcore-dmesg.txt").write_text(log)
    (d / "kexec-dmesg.log").write_text("kdump: saving vmcore complete\n")
    (d / "vmcore").write_bytes(b"KDUMP   " + os.urandom(size - 8))
    return d


def _run(cfg: config.AgentConfig, sleeps: list[float] | None = None) -> RunSummary:
    sl = sleeps if sleeps is not None else []
    with HubClient(cfg.hub, cfg.token, timeout=cfg.timeout) as c:
        agent = Agent(cfg, c, sleep=sl.append, kdump_report=lambda: {"verdict": "ok", "items": []},
                      host_info=lambda: HostInfo(release="6.1.0-56-cloud-amd64", build_id="ab" * 20,
                                                 hardware="QEMU Standard PC", machine="x86_64",
                                                 agent_version="0.1.0"))
        return agent.run_once()


def test_sends_log_then_dump_once(tmp_path: Path, fake_hub: FakeHub) -> None:
    d = _rhel_dir(tmp_path)
    cfg = _cfg(tmp_path, fake_hub)
    s = _run(cfg)
    assert (s.sent_logs, s.sent_dumps, s.errors, s.exit_code) == (1, 1, [], 0)
    c = fake_hub.crashes["c1"]
    assert c.log == LOG.encode() and c.host == "web-01" and c.crash_dir == d.name
    assert bytes(c.data) == (d / "vmcore").read_bytes() and c.complete
    # The log went first, then the dump in 1 MiB pieces.
    posts = [i for i, r in enumerate(fake_hub.requests) if r[0] == "POST" and r[1] == "/api/v1/crashes"]
    puts = [i for i, r in enumerate(fake_hub.requests) if r[0] == "PUT"]
    assert posts and puts and posts[0] < puts[0] and len(puts) == 4
    assert fake_hub.reports[0]["host"] == "web-01" and fake_hub.reports[0]["build_id"] == "ab" * 20
    assert fake_hub.reports[0]["kdump"]["verdict"] == "ok"
    entry = state.load(cfg.state_file).crashes[str(d)]
    assert entry.done and entry.crash_id == "c1" and entry.has_vmcore
    assert (d / "vmcore").exists()  # local_dumps = keep
    # A second run sends nothing.
    n = len(fake_hub.requests)
    s2 = _run(cfg)
    assert (s2.sent_logs, s2.sent_dumps) == (0, 0)
    assert [r for r in fake_hub.requests[n:] if r[1].startswith("/api/v1/crashes")] == []


def test_wants_vmcore_false_sends_only_the_log(tmp_path: Path, fake_hub: FakeHub) -> None:
    d = _rhel_dir(tmp_path)
    fake_hub.knobs.wants_vmcore = False
    cfg = _cfg(tmp_path, fake_hub, local_dumps="delete-uploaded")
    s = _run(cfg)
    assert (s.sent_logs, s.sent_dumps, s.deleted) == (1, 0, 0)
    assert fake_hub.count("PUT", "/") == 0 and fake_hub.count("GET", "/api/v1/crashes") == 0
    assert (d / "vmcore").exists()  # the hub never had it: never deleted
    assert state.load(cfg.state_file).crashes[str(d)].done


def test_send_vmcore_never_and_always(tmp_path: Path, fake_hub: FakeHub) -> None:
    _rhel_dir(tmp_path)
    s = _run(_cfg(tmp_path, fake_hub, send_vmcore="never"))
    assert (s.sent_logs, s.sent_dumps) == (1, 0)
    fake_hub.knobs.wants_vmcore = False
    _rhel_dir(tmp_path, name="127.0.0.1-2026-11-26-05:10:00", log=LOG.replace("12.3", "22.3"))
    s = _run(_cfg(tmp_path, fake_hub, send_vmcore="always", state_file=str(tmp_path / "s2.json")))
    assert s.sent_dumps == 2  # both dirs: nothing was recorded in the second state file


def test_interrupted_upload_resumes_at_hub_offset(tmp_path: Path, fake_hub: FakeHub) -> None:
    d = _rhel_dir(tmp_path, size=5 * MiB + 7)
    fake_hub.knobs.cut_put_after = 2 * MiB + 100  # the 3rd chunk is cut in the middle
    cfg = _cfg(tmp_path, fake_hub)
    s = _run(cfg)
    assert s.errors == [] and s.sent_dumps == 1
    c = fake_hub.crashes["c1"]
    assert bytes(c.data) == (d / "vmcore").read_bytes() and c.complete
    # The retried chunk met a 409 (the hub kept half of it) and went on from the hub's offset:
    # no byte was stored twice and under one chunk was sent twice.
    assert any(r[0] == "PUT" and r[2] == 409 for r in fake_hub.requests)
    assert fake_hub.put_bytes == c.size


def test_agent_killed_mid_upload_resumes_next_run(tmp_path: Path, fake_hub: FakeHub) -> None:
    d = _rhel_dir(tmp_path, size=4 * MiB)
    fake_hub.knobs.die_after_puts = 2  # the hub goes away after two chunks
    cfg = _cfg(tmp_path, fake_hub, retry_attempts=2)
    sleeps: list[float] = []
    s = _run(cfg, sleeps)
    assert s.hub_down and s.exit_code == 75 and sleeps == [1.0]
    entry = state.load(cfg.state_file).crashes[str(d)]
    assert entry.crash_id == "c1" and not entry.done and not entry.has_vmcore
    assert len(fake_hub.crashes["c1"].data) == 2 * MiB
    fake_hub.knobs.die_after_puts = None
    n = len(fake_hub.requests)
    s = _run(cfg)
    assert (s.sent_logs, s.sent_dumps, s.resumed, s.exit_code) == (0, 1, 1, 0)
    assert bytes(fake_hub.crashes["c1"].data) == (d / "vmcore").read_bytes()
    # The resumed run asked for the offset and sent only the missing 2 MiB.
    later = fake_hub.requests[n:]
    assert ("GET", "/api/v1/crashes/c1/vmcore/upload", 200) in later
    assert sum(1 for r in later if r[0] == "PUT") == 2


def test_hub_outage_is_survived_with_backoff(tmp_path: Path, fake_hub: FakeHub) -> None:
    _rhel_dir(tmp_path)
    fake_hub.knobs.down_for = 3
    sleeps: list[float] = []
    s = _run(_cfg(tmp_path, fake_hub), sleeps)
    assert s.exit_code == 0 and s.sent_logs == 1 and s.sent_dumps == 1
    assert sleeps == [1.0, 2.0, 4.0]  # exponential, capped by retry_max


def test_hub_down_for_good_keeps_everything(tmp_path: Path, fake_hub: FakeHub) -> None:
    d = _rhel_dir(tmp_path)
    fake_hub.knobs.down = True
    cfg = _cfg(tmp_path, fake_hub, local_dumps="delete-uploaded", retry_attempts=3, retry_max=1.5)
    sleeps: list[float] = []
    s = _run(cfg, sleeps)
    assert s.hub_down and s.exit_code == 75 and sleeps == [1.0, 1.5]
    assert (d / "vmcore").exists()
    fake_hub.knobs.down = False
    s = _run(cfg)
    assert s.exit_code == 0 and s.deleted == 1 and not (d / "vmcore").exists()
    assert (d / "vmcore-dmesg.txt").exists()  # logs are always kept


def test_connection_refused_is_an_outage(tmp_path: Path) -> None:
    _rhel_dir(tmp_path)
    cfg = config.from_mapping({"hub": "http://127.0.0.1:9", "token": "x",
                               "crash_dirs": [str(tmp_path / "crash")],
                               "state_file": str(tmp_path / "s.json"), "retry_attempts": 2, "timeout": 2.0,
                               "settle_seconds": 0})
    sleeps: list[float] = []
    s = _run(cfg, sleeps)
    assert s.hub_down and s.exit_code == 75 and len(sleeps) == 1


def test_no_delete_before_confirm(tmp_path: Path, fake_hub: FakeHub) -> None:
    d = _rhel_dir(tmp_path, size=2 * MiB)
    fake_hub.knobs.confirm = False  # the hub holds every byte but never says complete
    cfg = _cfg(tmp_path, fake_hub, local_dumps="delete-uploaded")
    s = _run(cfg)
    assert s.deleted == 0 and (d / "vmcore").exists()
    assert len(fake_hub.crashes["c1"].data) == 2 * MiB
    assert not state.load(cfg.state_file).crashes[str(d)].done
    fake_hub.knobs.confirm = True
    fake_hub.crashes["c1"].complete = True  # verification finished on the hub
    s = _run(cfg)
    assert s.deleted == 1 and not (d / "vmcore").exists()
    assert state.load(cfg.state_file).crashes[str(d)].vmcore_deleted


def test_incomplete_and_settling_dirs_are_skipped(tmp_path: Path, fake_hub: FakeHub) -> None:
    d = _rhel_dir(tmp_path)
    (d / "vmcore").rename(d / "vmcore-incomplete")
    deb = tmp_path / "crash" / "202611260459"
    deb.mkdir()
    (deb / "dmesg.202611260459").write_text(LOG.replace("12.3", "42.3"))
    (deb / "dump-incomplete").write_bytes(b"x" * 100)
    fresh = _rhel_dir(tmp_path, name="127.0.0.1-2026-11-26-05:30:00", log=LOG.replace("12.3", "52.3"))
    cfg = _cfg(tmp_path, fake_hub, settle_seconds=3600)
    s = _run(cfg)
    assert (s.found, s.not_ready, s.sent_logs) == (3, 3, 0)
    old = time.time() - 7200
    for f in fresh.iterdir():
        os.utime(f, (old, old))
    s = _run(cfg)
    assert (s.not_ready, s.sent_logs) == (2, 1)
    assert fake_hub.crashes["c1"].crash_dir == fresh.name


def test_debian_layout_and_dump_without_log(tmp_path: Path, fake_hub: FakeHub) -> None:
    deb = tmp_path / "crash" / "202611260459"
    deb.mkdir(parents=True)
    (deb / "dmesg.202611260459").write_text(LOG)
    (deb / "dump.202611260459").write_bytes(b"makedumpfile" + os.urandom(MiB))
    only_dump = tmp_path / "crash" / "10.0.0.5-202611260510"
    only_dump.mkdir()
    (only_dump / "dump.202611260510").write_bytes(b"KDUMP   " + os.urandom(1000))
    cfg = _cfg(tmp_path, fake_hub)
    s = _run(cfg)
    assert s.sent_logs == 2 and s.errors == []
    by_dir = {c.crash_dir: c for c in fake_hub.crashes.values()}
    assert by_dir["202611260459"].complete and by_dir["202611260459"].log == LOG.encode()
    # No log: the dump itself went in the POST (the hub reads the log out of it).
    assert by_dir[only_dump.name].log is None and by_dir[only_dump.name].complete


def test_wrong_token_stops_the_run(tmp_path: Path, fake_hub: FakeHub) -> None:
    _rhel_dir(tmp_path)
    cfg = _cfg(tmp_path, fake_hub, token="wrong")
    s = _run(cfg)
    assert s.exit_code == 1 and "token" in s.errors[0] and s.sent_logs == 0


def test_state_file_is_replaced_atomically(tmp_path: Path, fake_hub: FakeHub) -> None:
    d = _rhel_dir(tmp_path)
    cfg = _cfg(tmp_path, fake_hub)
    _run(cfg)
    doc = json.loads(Path(cfg.state_file).read_text())
    assert doc["version"] == 1 and doc["crashes"][str(d)]["done"] is True
    assert [p.name for p in Path(cfg.state_file).parent.iterdir() if p.name.startswith(".agent-state.")] == []


def test_config_errors(tmp_path: Path) -> None:
    with pytest.raises(config.ConfigError, match="hub"):
        config.from_mapping({"token": "x"})
    with pytest.raises(config.ConfigError, match="unknown setting"):
        config.from_mapping({"hub": "http://h", "token": "x", "hubb": 1})
    with pytest.raises(config.ConfigError, match="local_dumps"):
        config.from_mapping({"hub": "http://h", "token": "x", "local_dumps": "delete"})
    with pytest.raises(config.ConfigError, match="token_file"):
        config.from_mapping({"hub": "http://h", "token_file": str(tmp_path / "nope")})
    (tmp_path / "tok").write_text("abc\n")
    (tmp_path / "agent.toml").write_text(f'hub = "http://h:1/"\ntoken_file = "{tmp_path / "tok"}"\n'
                                         'crash_dirs = "/var/crash"\n')
    c = config.load(tmp_path / "agent.toml")
    assert (c.hub, c.token, c.crash_dirs) == ("http://h:1", "abc", ("/var/crash",))
    # TOML is typed: a string is no number, a bool no int.
    with pytest.raises(config.ConfigError, match="'chunk_size' must be int, not str"):
        config.from_mapping({"hub": "http://h", "token": "x", "chunk_size": "8388608"})
    with pytest.raises(config.ConfigError, match="'retry_attempts' must be int, not bool"):
        config.from_mapping({"hub": "http://h", "token": "x", "retry_attempts": True})


def test_config_table_is_the_dataclass(tmp_path: Path) -> None:
    """One table: every field is a setting with help, a Literal field is a closed set, and only
    from_mapping/load read this machine (from_dict leaves an empty token and host empty)."""
    assert [s.name for s in config.SETTINGS] == [f.name for f in dataclasses.fields(config.AgentConfig)]
    assert all(s.help for s in config.SETTINGS)
    assert {s.name: s.choices for s in config.SETTINGS if s.choices} == {
        "send_vmcore": ("auto", "always", "never"), "local_dumps": ("keep", "delete-uploaded")}
    bare = config.AgentConfig.from_dict({"hub": "http://h/", "token_file": str(tmp_path / "nope")})
    assert (bare.hub, bare.token, bare.host) == ("http://h", "", "")
    assert config.AgentConfig.from_dict(bare.to_dict()) == bare
    (tmp_path / "tok").write_text("abc\n")
    full = config.from_mapping({**bare.to_dict(), "token_file": str(tmp_path / "tok")})
    assert (full.token, full.host) == ("abc", socket.gethostname())


def test_cli_once_and_dry_run(tmp_path: Path, fake_hub: FakeHub, capsys: pytest.CaptureFixture[str]) -> None:
    d = _rhel_dir(tmp_path)
    old = time.time() - 3600
    for f in d.iterdir():
        os.utime(f, (old, old))
    conf = tmp_path / "agent.toml"
    conf.write_text(f'hub = "{fake_hub.url}"\ntoken = "{TOKEN}"\ncrash_dirs = ["{tmp_path / "crash"}"]\n'
                    f'state_file = "{tmp_path / "state.json"}"\nkdump_root = "{tmp_path / "noroot"}"\n')
    assert cli.main(["agent", "--config", str(conf), "--dry-run"]) == 0
    assert "would send the log and, if the hub wants it, the dump" in capsys.readouterr().out
    assert fake_hub.requests == []
    assert cli.main(["agent", "--config", str(conf), "--once"]) == 0
    assert "1 log(s) sent, 1 dump(s) uploaded" in capsys.readouterr().err
    # The real host report went out: kdump check of an empty root says fail, with its items.
    rep = fake_hub.reports[0]
    assert rep["kdump"]["verdict"] == "fail" and rep["host"] and rep["agent_version"]
    assert cli.main(["agent", "--config", str(conf), "--dry-run"]) == 0
    assert "done (crash c1)" in capsys.readouterr().out
    assert cli.main(["agent", "--config", str(tmp_path / "missing.toml"), "--once"]) == 2


def test_state_forgets_removed_dirs(tmp_path: Path, fake_hub: FakeHub) -> None:
    d = _rhel_dir(tmp_path)
    cfg = _cfg(tmp_path, fake_hub)
    _run(cfg)
    assert str(d) in state.load(cfg.state_file).crashes
    for f in d.iterdir():
        f.unlink()
    d.rmdir()
    _run(cfg)
    assert state.load(cfg.state_file).crashes == {}


def test_refused_host_report_does_not_stop_shipping(tmp_path: Path, fake_hub: FakeHub) -> None:
    _rhel_dir(tmp_path)
    # The fake hub answers 404 to a report sent to the wrong path: simulate with a bad host report URL.
    cfg = _cfg(tmp_path, fake_hub)
    with HubClient(cfg.hub, cfg.token) as c:
        c.report_host = lambda r: c._request("POST", "/api/v1/hosts/nowhere", json=r.to_dict())  # type: ignore[method-assign]
        s = Agent(cfg, c, sleep=lambda _: None, kdump_report=lambda: {}, host_info=HostInfo).run_once()
    assert s.sent_logs == 1 and s.exit_code == 1 and s.errors[0].startswith("host report:")
    assert not s.host_reported


def test_a_rate_limited_host_report_neither_waits_nor_stops_shipping(
    tmp_path: Path, fake_hub: FakeHub
) -> None:
    """The hub limits host reports per token (429): the agent goes on shipping at once (issue 14)."""
    _rhel_dir(tmp_path)
    cfg = _cfg(tmp_path, fake_hub)
    sleeps: list[float] = []

    def limited(report: HostReport) -> None:
        raise HubUnavailable("POST /api/v1/hosts/report: HTTP 429 too many host reports", 429, {}, 3600.0)

    with HubClient(cfg.hub, cfg.token) as c:
        c.report_host = limited  # type: ignore[method-assign]
        s = Agent(cfg, c, sleep=sleeps.append, kdump_report=lambda: {}, host_info=HostInfo).run_once()
    assert s.sent_logs == 1 and s.sent_dumps == 1 and not s.hub_down
    assert sleeps == [] and s.errors[0].startswith("host report:") and "429" in s.errors[0]


def test_a_dump_refused_as_not_the_crashs_is_not_sent_again(tmp_path: Path, fake_hub: FakeHub) -> None:
    d = _rhel_dir(tmp_path)
    fake_hub.knobs.refuse_dump = "not this crash's dump: the kernel log inside the dump is not the crash's"
    cfg = _cfg(tmp_path, fake_hub)
    s = _run(cfg)
    assert s.sent_logs == 1 and s.sent_dumps == 0 and fake_hub.puts == 1
    assert len(s.errors) == 1 and "DumpMismatchError" in s.errors[0]  # said once, in this run's summary
    entry = state.load(cfg.state_file).crashes[str(d)]
    assert entry.done and not entry.has_vmcore and "log inside the dump" in (entry.vmcore_refused or "")
    # The next run sends nothing: the same bytes would be refused again; the dump stays on disk.
    s2 = _run(cfg)
    assert (s2.sent_logs, s2.sent_dumps) == (0, 0) and fake_hub.puts == 1 and (d / "vmcore").exists()
    assert s2.errors == [] and s2.exit_code == 0
