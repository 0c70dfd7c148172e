"""The agent's small pure parts: meminfo estimate, makedumpfile versions, build-id notes, crash-dir scan,
settings documented, and the host install staying free of the web/database stack."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tests.need import missing

from crashhub.agent import _config as config
from crashhub.agent import _estimate as estimate
from crashhub.agent import _hostinfo as hostinfo
from crashhub.agent import _makedumpfile as mdf
from crashhub.agent import _scan as scan
from crashhub.errors import InputError
from crashhub.kernel import kernel_version

from .conftest import DATA

REPO = Path(__file__).resolve().parents[2]
MEMINFO = (DATA / "hosts/debian12-good/proc/meminfo").read_text()


def test_meminfo_parse() -> None:
    m = estimate.parse_meminfo(MEMINFO)
    assert m["MemTotal"] == 1_700_000 * 1024 and m["HugePages_Total"] == 0
    with pytest.raises(InputError, match="MemTotal"):
        estimate.parse_meminfo("foo: 1 kB\n")


def test_estimate_levels() -> None:
    m = estimate.parse_meminfo(MEMINFO)
    e31, e23, e0 = (estimate.estimate(m, d) for d in (31, 23, 0))
    assert set(e31.parts) == {"slab", "kernel_stack", "page_tables", "vmalloc", "percpu", "memmap",
                              "other_kernel"}
    assert e31.parts["slab"] == 120_000 * 1024
    assert e23.bytes - e31.bytes == m["AnonPages"]  # bit 8 off: user pages stay
    assert e0.bytes - e31.bytes == m["AnonPages"] + m["Buffers"] + m["Cached"] + m["MemFree"]
    assert e31.bytes < e23.bytes < e0.bytes
    # At -d 0 nearly all of memory is written: the estimate is close to MemTotal plus the memmap.
    assert abs(e0.bytes - m["MemTotal"] - e0.parts["memmap"]) < 0.15 * m["MemTotal"]


def test_estimate_live_meminfo() -> None:
    m = estimate.parse_meminfo(Path("/proc/meminfo").read_text())
    e = estimate.estimate(m, 31)
    assert 0 < e.bytes < m["MemTotal"] + e.parts["memmap"]


def test_makedumpfile_versions(tmp_path: Path) -> None:
    assert kernel_version("6.12.117+deb12-cloud-amd64") == (6, 12, 117)
    assert kernel_version("3.10.0-1160.el7.x86_64") == (3, 10, 0)
    assert kernel_version("garbage") is None
    assert mdf.latest_supported((1, 7, 2)) == (6, 0, 1)
    assert mdf.latest_supported((1, 7, 10)) is None
    assert [b.fixed_in for b in mdf.bugs_for((1, 7, 2), (6, 12, 0))] == [(1, 7, 3), (1, 7, 6), (1, 7, 7)]
    assert mdf.bugs_for((1, 7, 2), (6, 1, 0)) == []
    assert [b.fixed_in for b in mdf.bugs_for((1, 7, 6), (6, 12, 5))] == [(1, 7, 7)]
    status = "Package: foo\nStatus: install ok installed\nVersion: 1\n\n" \
             "Package: makedumpfile\nStatus: deinstall ok config-files\nVersion: 1:1.7.2-1\n"
    assert mdf.version_from_dpkg_status(status) is None
    assert mdf.version_from_dpkg_status(status.replace("deinstall ok config-files", "install ok installed")) \
        == (1, 7, 2)
    assert mdf.version_from_binary(tmp_path / "missing") is None


def test_makedumpfile_real_binary() -> None:
    if not Path("/usr/bin/makedumpfile").exists():
        missing("makedumpfile", "not installed (Debian package makedumpfile)")
    out = subprocess.run(["/usr/bin/makedumpfile", "-v"], capture_output=True, text=True, check=False)
    v = mdf.version_from_binary(Path("/usr/bin/makedumpfile"))
    assert v is not None and f"version {mdf.fmt(v)} " in out.stdout + out.stderr


def _note(name: bytes, ntype: int, desc: bytes) -> bytes:
    def pad(b: bytes) -> bytes:
        return b + b"\0" * (-len(b) % 4)
    return struct.pack("<III", len(name), len(desc), ntype) + pad(name) + pad(desc)


def test_build_id_notes() -> None:
    bid = bytes(range(20))
    blob = _note(b"Xen\0", 6, b"\1\2\3") + _note(b"GNU\0", 3, bid)
    assert hostinfo.build_id_from_notes(blob) == bid.hex()
    assert hostinfo.build_id_from_notes(blob[:-4]) is None  # truncated
    assert hostinfo.build_id_from_notes(_note(b"GNU\0", 1, b"\0" * 16)) is None  # ABI tag, not a build-id


def test_build_id_live() -> None:
    if not Path("/sys/kernel/notes").exists():
        missing("/sys/kernel/notes", "this kernel does not export its notes")
    info = hostinfo.host_info("/")
    assert info.release == os.uname().release
    assert info.build_id is None or len(info.build_id) in (40, 64)


def test_hardware_line(tmp_path: Path) -> None:
    d = tmp_path / "sys/class/dmi/id"
    d.mkdir(parents=True)
    for name, val in (("sys_vendor", "QEMU"), ("product_name", "Standard PC (i440FX + PIIX, 1996)"),
                      ("bios_version", "1.16.2-debian-1.16.2-1"), ("bios_date", "04/01/2014")):
        (d / name).write_text(val + "\n")
    # The kernel's own oops line for this machine (board name absent in QEMU).
    assert hostinfo.hardware(tmp_path) == \
        "QEMU Standard PC (i440FX + PIIX, 1996), BIOS 1.16.2-debian-1.16.2-1 04/01/2014"


def test_scan_layouts(tmp_path: Path) -> None:
    rh = tmp_path / "10.0.0.5-2026-11-26-04:59:39"
    rh.mkdir()
    (rh / "vmcore.flat").write_bytes(b"makedumpfile")
    (rh / "vmcore-dmesg.txt").write_text("log")
    deb = tmp_path / "web-01-202611260459"
    deb.mkdir()
    (deb / "dump.202611260459.xz").write_bytes(b"x")
    (deb / "dmesg.202611260459").write_text("log")
    (tmp_path / "kexec_cmd").write_text("kexec -p ...")
    (tmp_path / "lost+found").mkdir()
    found = {c.path.name: c for c in scan.scan([str(tmp_path), str(tmp_path / "nope")])}
    assert sorted(found) == [rh.name, deb.name]
    a, b = found[rh.name], found[deb.name]
    assert (a.layout, a.host_tag, a.vmcore and a.vmcore.name) == ("rhel", "10.0.0.5", "vmcore.flat")
    assert (b.layout, b.host_tag, b.vmcore and b.vmcore.name) == ("debian", "web-01", "dump.202611260459.xz")
    now = time.time()
    assert a.ready(now + 100, 60) and not a.ready(now, 60)
    (rh / "vmcore-dmesg-incomplete.txt").write_text("")
    c = scan.classify(rh)
    assert c is not None and c.incomplete == ("vmcore-dmesg-incomplete.txt",) and not c.ready(now + 100, 0)
    empty = tmp_path / "202611260500"
    empty.mkdir()
    c = scan.classify(empty)
    assert c is not None and not c.ready(now + 100, 0)


def test_every_setting_documented() -> None:
    doc = (REPO / "docs/host.md").read_text()
    missing = [s.name for s in config.SETTINGS if f"`{s.name}`" not in doc]
    assert missing == []


def test_systemd_units_shipped() -> None:
    d = REPO / "src/crashhub/agent/systemd"
    svc = (d / "crashhub-agent.service").read_text()
    assert "crashhub agent --once" in svc and "SuccessExitStatus=75" in svc
    assert "OnBootSec=" in (d / "crashhub-agent.timer").read_text()
    example = config.tomllib.loads((d / "agent.example.toml").read_text())
    example["token"] = "x"
    assert config.from_mapping(example).send_vmcore == "auto"


_NO_WEB = """
import sys
import crashhub.cli
import crashhub.agent._check, crashhub.agent._ship, crashhub.agent._client, crashhub.agent._hostinfo
import crashhub.commands.agent, crashhub.commands.kdump
heavy = sorted(m for m in sys.modules if m.split('.')[0] in
               {'fastapi', 'starlette', 'sqlalchemy', 'alembic', 'uvicorn', 'pydantic', 'jinja2',
                'psycopg', 'drgn', 'yaml', 'multipart', 'prometheus_client'}
               or m.startswith(('crashhub.web', 'crashhub.store', 'crashhub.jobs', 'crashhub.analyze')))
print(','.join(heavy))
"""


def test_agent_imports_no_web_or_db_stack() -> None:
    out = subprocess.run([sys.executable, "-c", _NO_WEB], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(REPO / "src")})
    assert out.stdout.strip() == ""
