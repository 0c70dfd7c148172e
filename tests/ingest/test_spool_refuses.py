"""Issue 14 finding 3: the spool takes only what it owns (no links followed, bad names failed once)."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import pytest

from crashhub.ingest import Pipeline, SpoolWatcher
from crashhub.store import Hub

LOG = b"[    0.000000] Linux version 6.1.0-56-cloud-amd64\n" * 3


def _watcher(pipeline: Pipeline, root: Path) -> SpoolWatcher:
    return SpoolWatcher(root, pipeline, settle=0.5, interval=0.1, lease=60)


def _aged(d: Path) -> Path:
    t = time.time() - 60
    for f in [d, *d.iterdir()]:
        os.utime(f, (t, t), follow_symlinks=False)
    return d


def _outside(tmp_path: Path) -> Path:
    """A directory outside the spool that looks like a crash directory (a log and a 'dump')."""
    out = tmp_path / "elsewhere" / "10.0.0.7-2026-11-26-04:00:00"
    out.mkdir(parents=True)
    (out / "vmcore-dmesg.txt").write_bytes(LOG)
    (out / "secret.txt").write_bytes(b"not the spool's\n")
    return _aged(out)


def test_symlinked_directory_is_refused_and_recorded(
    hub: Hub, pipeline: Pipeline, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    link = spool / "10.0.0.7-2026-11-26-04:00:00"
    link.symlink_to(_outside(tmp_path), target_is_directory=True)
    w = _watcher(pipeline, spool)
    with caplog.at_level(logging.WARNING, logger="crashhub.spool"):
        assert w.scan_once() == []
        assert w.scan_once() == []
    assert hub.store.crashes.list_crashes() == []
    refused = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(refused) == 1 and "symbolic link" in refused[0]  # logged once, not every scan
    assert hub.store.uploads.spool_item_state(f"{link.absolute()}|refused") == "failed"


def test_symlinked_files_are_not_read(
    hub: Hub, pipeline: Pipeline, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    out = _outside(tmp_path)
    spool = tmp_path / "spool"
    d = spool / "10.0.0.8-2026-11-26-04:00:00"
    d.mkdir(parents=True)
    (d / "vmcore-dmesg.txt").symlink_to(out / "vmcore-dmesg.txt")
    (d / "vmcore").symlink_to(out / "secret.txt")
    _aged(d)
    w = _watcher(pipeline, spool)
    with caplog.at_level(logging.WARNING, logger="crashhub.spool"):
        assert w.scan_once() == []
    assert hub.store.crashes.list_crashes() == []
    (key,) = [w.item_key(d, w.fingerprint(d))]
    assert hub.store.uploads.spool_item_state(key) == "failed"
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for name in ("vmcore", "vmcore-dmesg.txt"):
        assert f"refused {name}: a symbolic link, not read" in logged, logged


def test_symlinked_log_beside_a_real_one_is_ignored(hub: Hub, pipeline: Pipeline, tmp_path: Path) -> None:
    out = _outside(tmp_path)
    spool = tmp_path / "spool"
    d = spool / "10.0.0.8-2026-11-26-04:00:00"
    d.mkdir(parents=True)
    (d / "vmcore-dmesg.txt").write_bytes(LOG)
    (d / "dmesg.txt").symlink_to(out / "secret.txt")
    _aged(d)
    (o,) = _watcher(pipeline, spool).scan_once()
    assert [f.name for f in o.crash.files] == ["vmcore-dmesg.txt"]
    assert any("dmesg.txt: a symbolic link, not read" in n for n in o.notes)


def test_bad_directory_name_is_a_failed_item_not_retried(
    hub: Hub, pipeline: Pipeline, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spool = tmp_path / "spool"
    d = spool / "x-2026-12-04-99:99:99"
    d.mkdir(parents=True)
    (d / "vmcore-dmesg.txt").write_bytes(LOG)
    _aged(d)
    w = _watcher(pipeline, spool)
    with caplog.at_level(logging.WARNING, logger="crashhub.spool"):
        assert w.scan_once() == []
    key = w.item_key(d, w.fingerprint(d))
    assert hub.store.uploads.spool_item_state(key) == "failed"
    (msg,) = [r.getMessage() for r in caplog.records]
    assert "is not a valid time" in msg and "retrying" not in msg
    # A restarted watcher (no memory of its own) leaves it alone too.
    caplog.clear()
    w2 = _watcher(pipeline, spool)
    w2.retry_delay = 0.0
    assert w2.scan_once() == [] and caplog.records == []
    assert hub.store.crashes.list_crashes() == []
