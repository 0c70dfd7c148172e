"""The readers on real kdump captures from the crash lab (Debian 6.1 and 6.12 kernels in QEMU).

Reference answers come from the tools a fleet trusts: the capture kernel's own
``makedumpfile --dump-dmesg /proc/vmcore`` (vmcore-dmesg.txt next to each dump), makedumpfile -R and
--dump-dmesg run here, drgn's page reads, and the lab's manifest (uname -r, the -dbg vmlinux build-id).
"""

from __future__ import annotations

import datetime
import random
import shutil
import struct
import subprocess
from pathlib import Path
from typing import Any

import pytest
from tests.need import missing, need_module

from crashhub import dump
from crashhub.dump._kdump import KdumpDump
from crashhub.errors import DumpError

pytestmark = pytest.mark.lab
MAKEDUMPFILE = shutil.which("makedumpfile")
KERNELS = ["6.1", "6.12"]
# (logical name, its dmesg file, format)
DUMPS = [("rhel/vmcore", "rhel/vmcore-dmesg.txt", "kdump"),
         ("rhel-ssh/vmcore.flat", "rhel-ssh/vmcore-dmesg.txt", "flat-kdump"),
         ("elf/vmcore", "elf/vmcore-dmesg.txt", "elf"),
         ("debian/dump", "debian/dmesg", "flat-kdump")]


def _run(lab: Any, kernel: str, variant: str | None = None, kind: str = "null") -> Any:
    return lab.crash(kernel, kind, variant=variant)


def _mdf(*args: str, stdin: Path | None = None) -> None:
    assert MAKEDUMPFILE
    if stdin is None:
        subprocess.run([MAKEDUMPFILE, *args], check=True, capture_output=True)
    else:
        with open(stdin, "rb") as f:
            subprocess.run([MAKEDUMPFILE, *args], check=True, capture_output=True, stdin=f)


@pytest.mark.parametrize("kind", ["null", "sysrq", "bug"])  # the lab's CI core set
@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("case", DUMPS, ids=[d[0] for d in DUMPS])
def test_dmesg_and_facts(lab: Any, kernel: str, case: tuple[str, str, str], kind: str) -> None:
    name, log, fmt = case
    run = _run(lab, kernel, kind=kind)
    path = run.path(name)
    assert dump.detect(path) == fmt
    # The capture kernel's makedumpfile --dump-dmesg /proc/vmcore wrote this file.
    assert dump.dmesg(path) == run.path(log).read_bytes()
    f = dump.facts(path)
    exp = run.manifest["expected"]
    assert f.release == exp["release"] and f.build_id == exp["build_id"]
    assert f.cpus == run.manifest["guest"]["cpus"] and f.arch == "x86_64"
    created = datetime.datetime.fromisoformat(run.manifest["created"]).timestamp()
    assert f.crash_time is not None and created - 600 < f.crash_time <= created
    assert f.kernel_offset == int(exp["kaslr_offset"], 16)
    assert f.hostname and f.version and f.version.startswith("#1 SMP")
    if fmt != "elf":
        assert f.dump_level == 31 and f.partial
    if exp.get("pid"):
        assert f.panic_pid == exp["pid"]
    assert f.log_layout == "lockless" and f.registers.get("rip")


@pytest.mark.parametrize("kernel", KERNELS)
def test_reassemble_matches_makedumpfile(lab: Any, kernel: str, tmp_path: Path) -> None:
    if not MAKEDUMPFILE:
        missing("makedumpfile", "not installed (Debian package makedumpfile)")
    run = _run(lab, kernel)
    for name in ("rhel-ssh/vmcore.flat", "debian/dump"):
        flat = run.path(name)
        ours, theirs = tmp_path / "ours", tmp_path / "theirs"
        dump.reassemble(flat, ours)
        _mdf("-R", str(theirs), stdin=flat)
        assert ours.read_bytes() == theirs.read_bytes(), name
        # makedumpfile cannot --dump-dmesg a flat file; on its rebuilt copy it agrees with us in place.
        _mdf("--dump-dmesg", str(theirs), str(tmp_path / "d.txt"))
        assert dump.dmesg(flat) == (tmp_path / "d.txt").read_bytes()
        for p in (ours, theirs, tmp_path / "d.txt"):
            p.unlink()


@pytest.mark.parametrize("kernel", KERNELS)
def test_pages_agree_with_drgn(lab: Any, kernel: str) -> None:
    drgn = need_module("drgn")
    run = _run(lab, kernel)
    with dump.open_dump(run.path("rhel/vmcore")) as d:
        assert isinstance(d, KdumpDump)
        pfns = random.Random(4).sample(d.present_pfns(), 300)
    for name in ("rhel/vmcore", "rhel-ssh/vmcore.flat", "elf/vmcore", "debian/dump"):
        prog = drgn.Program()
        prog.set_core_dump(str(run.path(name)))
        with dump.open_dump(run.path(name)) as d:
            checked = 0
            for pfn in pfns:
                if not d.page_present(pfn):
                    continue  # the ELF (-E) and kdump runs are separate makedumpfile passes
                assert d.read_page(pfn) == prog.read(pfn * 4096, 4096, True), (name, pfn)
                checked += 1
            assert checked > 250, name
            # and a virtual read: the kernel's own banner through the page tables
            uts = d.vmcoreinfo.symbol("init_uts_ns")
            assert uts is not None
            assert d.read_virt(uts, 400) == prog.read(uts, 400)


def _makedumpfile_readable_copy(src: Path, dst: Path) -> None:
    """QEMU 7.2 puts its program headers at 192 (after a section header) where makedumpfile 1.7.2
    expects them right after the ELF header: copy the file with the table moved to 64."""
    shutil.copyfile(src, dst)
    with open(dst, "r+b") as f:
        ehdr = bytearray(f.read(64))
        phoff, phnum = struct.unpack_from("<Q", ehdr, 32)[0], struct.unpack_from("<H", ehdr, 56)[0]
        f.seek(phoff)
        table = f.read(56 * phnum)
        struct.pack_into("<QQ", ehdr, 32, 64, 0)  # e_phoff = 64, e_shoff = 0
        struct.pack_into("<HHH", ehdr, 58, 0, 0, 0)  # e_shentsize, e_shnum, e_shstrndx
        f.seek(0)
        f.write(ehdr)
        f.write(table)


@pytest.mark.slow
@pytest.mark.parametrize("kernel", KERNELS)
def test_qemu_dumps(lab: Any, kernel: str, tmp_path: Path) -> None:
    run = _run(lab, kernel, "qemu")
    elf, kd = run.path("qemu/dump.elf"), run.path("qemu/dump.kdump-zlib")
    assert dump.detect(elf) == "qemu-elf" and dump.detect(kd) == "flat-kdump"
    text = dump.dmesg(elf)
    assert dump.dmesg(kd) == text
    if MAKEDUMPFILE:
        copy = tmp_path / "dump.elf"
        _makedumpfile_readable_copy(elf, copy)
        _mdf("--dump-dmesg", str(copy), str(tmp_path / "d.txt"))
        assert text == (tmp_path / "d.txt").read_bytes()
    exp = run.manifest["expected"]
    for p in (elf, kd):
        f = dump.facts(p)
        assert f.release == exp["release"] and f.build_id == exp["build_id"]
        assert f.cpus == run.manifest["guest"]["cpus"] and f.arch == "x86_64"


@pytest.mark.parametrize("kernel", ["6.1"])
def test_incomplete_dumps(lab: Any, kernel: str) -> None:
    """makedumpfile killed half way: whatever is there reads, the rest is a typed error."""
    run = _run(lab, kernel, "incomplete")
    for name in ("rhel-incomplete/vmcore-incomplete", "rhel-ssh-incomplete/vmcore-incomplete"):
        p = run.path(name)
        f = dump.facts(p)
        assert f.incomplete and f.release == run.manifest["expected"]["release"]
        assert f.build_id == run.manifest["expected"]["build_id"]
        try:  # the log buffer sits high in memory: cut off here; when present it must be right
            assert dump.dmesg(p) == run.path(name.split("/")[0] + "/vmcore-dmesg.txt").read_bytes()
        except DumpError as e:
            assert str(p) in str(e)
