"""Crash directory layouts, told apart by content, on real lab crash directories."""

from __future__ import annotations

import calendar
import os
from pathlib import Path
from typing import Any

import pytest

from crashhub.ingest._layouts import looks_like_kernel_log, parse_dir_name, scan

from .conftest import crash_dir


def test_dir_names() -> None:
    assert parse_dir_name("10.0.0.5-2026-11-26-04:59:39")[:2] == ("10.0.0.5", "ip")
    host, kind, t, layout = parse_dir_name("web-7-202611260459")
    assert (host, kind, layout) == ("web-7", "name", "debian")
    assert t == calendar.timegm((2026, 11, 26, 4, 59, 0, 0, 0, 0))
    assert parse_dir_name("202611260459")[0] is None and parse_dir_name("202611260459")[3] == "debian"
    assert parse_dir_name("fe80::1-2026-11-26-04:59:39")[1] == "ip"
    assert parse_dir_name("random") == (None, None, None, None)


@pytest.mark.lab
@pytest.mark.parametrize(
    ("layout", "kind", "fmt", "log", "kexec", "host"),
    [
        ("rhel", "rhel", "kdump", "vmcore-dmesg.txt", True, "127.0.0.1"),
        ("rhel-ssh", "rhel", "flat-kdump", "vmcore-dmesg.txt", True, "10.0.2.15"),
        ("elf", "rhel", "elf", "vmcore-dmesg.txt", True, "127.0.0.1"),
        ("debian", "debian", "flat-kdump", "dmesg.", False, None),
    ],
)
def test_lab_layouts(  # noqa: PLR0917 - one argument per parametrize column
    lab: Any, layout: str, kind: str, fmt: str, log: str, kexec: bool, host: str | None
) -> None:
    d = crash_dir(lab.crash("6.1", "null"), layout)
    cd = scan(d)
    assert cd.layout == kind and cd.ready
    assert cd.dump is not None and cd.dump_format == fmt
    assert cd.log is not None and cd.log.name.startswith(log)
    assert (cd.kexec_log is not None) == kexec
    assert cd.name_host == host and cd.name_time is not None


@pytest.mark.lab
def test_content_not_names_decides(lab: Any, tmp_path: Path) -> None:
    """Files renamed to meaningless names are still found by what they hold."""
    src = crash_dir(lab.crash("6.1", "null"), "rhel")
    d = tmp_path / "whatever"
    d.mkdir()
    try:
        os.link(src / "vmcore", d / "a.bin")
    except OSError:
        (d / "a.bin").write_bytes((src / "vmcore").read_bytes())
    (d / "b.txt").write_bytes((src / "vmcore-dmesg.txt").read_bytes())
    (d / "c.log").write_bytes((src / "kexec-dmesg.log").read_bytes())
    (d / "notes").write_text("hello\n")
    (d / "kernel_link").symlink_to("/etc/passwd")
    cd = scan(d)
    assert cd.dump == d / "a.bin" and cd.dump_format == "kdump"
    assert cd.log == d / "b.txt" and cd.kexec_log == d / "c.log"
    assert cd.layout == "generic"


def test_incomplete_names_block(tmp_path: Path) -> None:
    d = tmp_path / "10.0.0.5-2026-11-26-04:59:39"
    d.mkdir()
    (d / "vmcore-dmesg-incomplete.txt").write_text("[    0.000000] Linux version 6.1\n" * 3)
    (d / "vmcore-incomplete").write_bytes(b"KDUMP   " + b"\0" * 100)
    cd = scan(d)
    assert not cd.ready and set(cd.incomplete) == {"vmcore-dmesg-incomplete.txt", "vmcore-incomplete"}
    assert cd.log is None and cd.dump is None  # never opened


def test_kernel_log_sniffing() -> None:
    assert looks_like_kernel_log(b"[    0.000000] Linux version 6.1.0\n[    0.1] x\n")
    assert looks_like_kernel_log(b"<4>[   12.345678] foo\n<4>[   12.345679] bar\n")
    assert not looks_like_kernel_log(b"\x7fELF\0\0\0")
    assert not looks_like_kernel_log(b"just some notes\nmore\n")
