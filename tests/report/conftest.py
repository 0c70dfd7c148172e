"""A hub with a lab crash and its dump (its log has a planted host name, IPs, user) and another crash.

``hub``: the crashes kept in the repository (tests/labdata.py; the quick tier); ``lab_hub``: the same
from today's lab run with its whole dump, for the tests that analyse it with drgn and crash.
"""

# ruff: noqa: PLC0415 - optional test dependencies import where used

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from tests.labdata import case

from crashhub import config
from crashhub.web import Context, build_context

HOST = "db7.prod.example.com"
PLANTED = [HOST, "db7", "10.20.30.40", "fe80::1ff:fe23:4567:890a", "alice", "4a11ce-secret-tag"]


_DIGEST = re.compile(r"(?<![0-9a-f])[0-9a-f]{32,}(?![0-9a-f])")


def leaked(blob: str) -> list[str]:
    """The planted values still in ``blob``.  Hex digests (sha256 of the bundle's files, build-ids)
    are taken out first: a short planted name such as "db7" turns up inside one by chance (about one
    bundle in ten), which is not a leak."""
    text = _DIGEST.sub("", blob)
    return [v for v in PLANTED if v in text]


def plant(log: str) -> str:
    """Lines a production log could have, inserted after the boot banner."""
    lines = log.splitlines(keepends=True)
    extra = [
        f"[    1.100000] systemd[1]: Set hostname to <{HOST}>.\n",
        "[    2.200000] e1000 0000:00:03.0 eth0: link up, address 10.20.30.40\n",
        "[    2.300000] IPv6: ADDRCONF(NETDEV_CHANGE): fe80::1ff:fe23:4567:890a ready\n",
        "[    3.300000] audit: pam_unix(sshd:session): session opened for user alice(uid=1000)\n",
        "[    3.400000] crashmod: tag 4a11ce-secret-tag\n",
    ]
    return "".join(lines[:2] + extra + lines[2:])


@dataclass
class Lab:
    data: Path
    ctx: Context
    planted: str  # crash id with the planted log and a dump
    other: str  # a crash of another bucket
    release: str  # the planted crash's release (from its manifest: Debian's kernels move)
    other_release: str


def _build(root: Path, src: Path, other_log: Path, releases: tuple[str, str]) -> Lab:
    """A hub with ``src`` (a crash directory with vmcore and log; the log planted) and ``other_log``."""
    from crashhub.ingest import ingest_path

    settings = config.load(root / "data", env={}, spool_dir="", workers=0)
    ctx = build_context(settings)
    crash_dir = root / "incoming" / src.name
    crash_dir.mkdir(parents=True)
    (crash_dir / "vmcore-dmesg.txt").write_text(plant((src / "vmcore-dmesg.txt").read_text()))
    try:
        os.link(src / "vmcore", crash_dir / "vmcore")  # the dump is only read: a hard link saves 24 MB
    except OSError:
        shutil.copyfile(src / "vmcore", crash_dir / "vmcore")
    planted = ingest_path(ctx.pipeline, crash_dir, source="cli", host=HOST).crash.id
    other = ingest_path(ctx.pipeline, other_log, source="cli").crash.id
    return Lab(root / "data", ctx, planted, other, *releases)


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    root = tmp_path_factory.mktemp("report")
    null, sysrq = case("6.1", "null"), case("6.1", "sysrq")
    h = _build(root, null.crash_dir(root / "kept"), sysrq.crash_dir(root / "kept") / "vmcore-dmesg.txt",
               (null.release, sysrq.release))
    yield h
    h.ctx.hub.close()


@pytest.fixture(scope="module")
def lab_hub(tmp_path_factory: pytest.TempPathFactory, lab: Any) -> Iterator[Lab]:
    root = tmp_path_factory.mktemp("report-lab")
    run, sysrq = lab.crash("6.1", "null"), lab.crash("6.1", "sysrq")
    release = run.manifest["kernel"]["release"]
    h = _build(root, Path(run.path("rhel/vmcore-dmesg.txt")).parent,
               Path(sysrq.path("rhel/vmcore-dmesg.txt")), (release, release))
    yield h
    h.ctx.hub.close()


