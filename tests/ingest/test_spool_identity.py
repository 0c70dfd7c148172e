"""The spool under issue 14's identity rules: whose crash a directory is, and whose dump.

A spool directory named by an IP is that address's crash unless the dump names its host (utsname);
the same log text from two addresses is two crashes; a dump that is not the directory's crash is not
kept (noted), the log still is.  Synthetic dumps (tests/dump/synth.py), no lab needed.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from tests.web.test_identity import DIR, LOG_A, LOG_B, dump_of

from crashhub.ingest import Pipeline, SpoolWatcher
from crashhub.store import Hub

STAMP = DIR.split("-", 1)[1]  # 2025-11-26-04:06:52, twelve seconds after the synthetic CRASHTIME


def _spool_dir(spool: Path, name: str, log: str, vmcore: bytes | None = None) -> Path:
    d = spool / name
    d.mkdir()
    (d / "vmcore-dmesg.txt").write_text(log)
    if vmcore is not None:
        (d / "vmcore").write_bytes(vmcore)
    t = time.time() - 60  # settled
    for f in d.iterdir():
        os.utime(f, (t, t))
    return d


def _scan(pipeline: Pipeline, spool: Path) -> None:
    SpoolWatcher(spool, pipeline, settle=0.5, interval=0.1, lease=60).scan_once()


def test_the_same_log_from_two_addresses_is_two_crashes(hub: Hub, pipeline: Pipeline, tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    _spool_dir(spool, f"10.0.0.5-{STAMP}", LOG_A)
    _spool_dir(spool, f"10.0.0.6-{STAMP}", LOG_A)
    _scan(pipeline, spool)
    crashes = hub.store.crashes.list_crashes()
    hosts = sorted((c.host, c.host_source) for c in crashes)
    assert hosts == [("10.0.0.5", "dir-ip"), ("10.0.0.6", "dir-ip")]


def test_the_dumps_utsname_names_the_host_of_an_address(hub: Hub, pipeline: Pipeline, tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    _spool_dir(spool, f"10.0.0.5-{STAMP}", LOG_A, dump_of(LOG_A, hostname="web-a"))
    _spool_dir(spool, f"10.0.0.6-{STAMP}", LOG_A, dump_of(LOG_A, hostname="web-b"))
    _scan(pipeline, spool)
    crashes = hub.store.crashes.list_crashes()
    assert sorted((c.host, c.host_source, c.has_vmcore) for c in crashes) == [
        ("web-a", "utsname", True),
        ("web-b", "utsname", True),
    ]


def test_a_dump_that_is_not_the_directorys_crash_is_not_kept(
    hub: Hub, pipeline: Pipeline, tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    _spool_dir(spool, f"10.0.0.5-{STAMP}", LOG_A, dump_of(LOG_B, hostname="web-a"))
    _scan(pipeline, spool)
    (c,) = hub.store.crashes.list_crashes()
    # The log is the crash; the dump of another crash is left out, not attached to it.
    assert not c.has_vmcore and c.host == "10.0.0.5"
    assert [f.role for f in c.files] == ["log"]
