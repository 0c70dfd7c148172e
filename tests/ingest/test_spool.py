"""The spool watcher on lab crash directories: whole directories only, each crash ingested once."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest
from tests.labdata import case

from crashhub.ingest import Pipeline, SpoolWatcher
from crashhub.store import Hub

from .conftest import copy_dir, crash_dir


def watcher(pipeline: Pipeline, root: Path, settle: float = 0.5) -> SpoolWatcher:
    return SpoolWatcher(root, pipeline, settle=settle, interval=0.1, lease=60)


def _age(d: Path, seconds: float) -> None:
    t = time.time() - seconds
    for f in d.iterdir():
        os.utime(f, (t, t), follow_symlinks=False)


@pytest.mark.lab
def test_every_layout_once(lab: Any, hub: Hub, pipeline: Pipeline, tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    run = lab.crash("6.1", "null")
    for lay in ("rhel", "rhel-ssh", "elf", "debian"):
        # The directories keep the names kdump gave them: the host part of a name is the sender's
        # (a prefix here would make four hosts of one, and the same log from four hosts is four crashes).
        d = copy_dir(crash_dir(run, lay), spool)
        _age(d, 60)
    w = watcher(pipeline, spool)
    outs = w.scan_once()
    assert len(outs) == 4 and sum(o.created for o in outs) == 1
    assert len({o.crash.id for o in outs}) == 1
    assert w.scan_once() == []  # nothing twice
    # A new watcher (a restart) finds every item done in the store.
    assert watcher(pipeline, spool).scan_once() == []
    assert len(hub.store.crashes.list_crashes()) == 1


def test_incomplete_left_alone_until_renamed(hub: Hub, pipeline: Pipeline, tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    d = copy_dir(case("6.1", "null").crash_dir(tmp_path / "kept"), spool)
    (d / "vmcore").rename(d / "vmcore-incomplete")
    (d / "vmcore-dmesg.txt").rename(d / "vmcore-dmesg-incomplete.txt")
    _age(d, 60)
    w = watcher(pipeline, spool)
    before = os.stat(d / "vmcore-incomplete").st_atime_ns
    assert w.scan_once() == [] and hub.store.crashes.list_crashes() == []
    assert os.stat(d / "vmcore-incomplete").st_atime_ns == before  # not even opened
    (d / "vmcore-dmesg-incomplete.txt").rename(d / "vmcore-dmesg.txt")
    assert w.scan_once() == []  # the dump is still incomplete
    (d / "vmcore-incomplete").rename(d / "vmcore")
    _age(d, 60)
    (o,) = w.scan_once()
    assert o.created and o.crash.has_vmcore


@pytest.mark.lab
def test_real_incomplete_dump_is_waited_for(lab: Any, hub: Hub, pipeline: Pipeline, tmp_path: Path) -> None:
    run = lab.crash("6.1", "null", variant="incomplete")
    spool = tmp_path / "spool"
    spool.mkdir()
    d = copy_dir(Path(run.path("rhel-ssh-incomplete/vmcore-incomplete")).parent, spool)
    _age(d, 60)
    assert watcher(pipeline, spool).scan_once() == []


def test_growing_file_is_waited_for(hub: Hub, pipeline: Pipeline, tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    d = spool / "10.0.0.9-2026-11-26-04:00:00"
    d.mkdir(parents=True)
    log = d / "vmcore-dmesg.txt"
    log.write_bytes(b"[    0.000000] Linux version 6.1.0-56-cloud-amd64\n")
    w = watcher(pipeline, spool, settle=0.6)
    assert w.scan_once() == []  # just written
    for i in range(3):
        time.sleep(0.3)
        with open(log, "ab") as f:
            f.write(b"[    1.%06d] still writing\n" % i)
        assert w.scan_once() == []
    time.sleep(0.8)
    (o,) = w.scan_once()
    assert o.created and o.crash.host == "10.0.0.9" and o.crash.host_source == "dir-ip"
    assert o.crash.crash_time_source == "dir-name"


def test_unreadable_dump_in_spool_keeps_the_log(hub: Hub, pipeline: Pipeline, tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    d = spool / "10.0.0.9-2026-11-26-04:00:00"
    d.mkdir(parents=True)
    (d / "vmcore-dmesg.txt").write_bytes(b"[    0.000000] Linux version 6.1.0-56-cloud-amd64\n" * 3)
    (d / "vmcore").write_bytes(b"KDUMP   " + b"\xff" * 5000)  # a kdump signature and garbage
    _age(d, 60)
    (o,) = watcher(pipeline, spool).scan_once()
    assert not o.crash.has_vmcore and any("not readable" in n for n in o.notes)
