"""Readers against synthetic dumps built from the documented layouts (tests/dump/synth.py).

Old log layouts (3.5–5.9 ``printk_log``, < 3.5 character ring) cannot come from the crash lab, which
boots 6.1 and 6.12 kernels only: they are tested here on dumps built from the layouts, and the text is
compared with makedumpfile 1.7.2's --dump-dmesg on the same synthetic files where it is installed.
"""

from __future__ import annotations

import bz2
import errno
import gzip
import io
import lzma
import os
import shutil
import struct
import subprocess
from pathlib import Path
from typing import Any

import lz4.frame
import pytest
import zstandard
from tests.dump import synth
from tests.need import missing, need_module

from crashhub import dump
from crashhub.dump._printk import format_record, read_log
from crashhub.dump._vmcoreinfo import build_id_is_broken, parse
from crashhub.errors import DumpFormatError, ExcludedPageError, TranslationError

MAKEDUMPFILE = shutil.which("makedumpfile")
LAYOUTS = ["lockless", "printk_log", "log", "printk_log_caller", "char-ring"]
RELEASE = {"lockless": "6.1.0-56-cloud-amd64", "printk_log": "4.19.0-20-amd64", "log": "3.10.0-1160.el7",
           "printk_log_caller": "5.4.0-100-generic", "char-ring": "3.2.0-4-amd64"}


def machine(layout: str = "lockless") -> synth.Machine:
    return synth.standard_machine(layout, release=RELEASE[layout])


def write(tmp: Path, name: str, data: bytes) -> Path:
    p = tmp / name
    p.write_bytes(data)
    return p


# --------------------------------------------------------------------------- record format


def test_format_record_matches_makedumpfile_rules() -> None:
    assert format_record(1_234_567_890, None, b"hello") == b"[    1.234567] hello\n"
    assert format_record(12345 * 10**9, None, b"a\nb") == b"[12345.000000] a\n               b\n"
    assert format_record(0, None, b"\x01\x7f\xc3\t") == b"[    0.000000] \\x01\\x7f\\xffffffc3\t\n"
    assert format_record(0, 0x80000001, b"x") == b"[    0.000000] [      C1] x\n"
    assert format_record(0, 42, b"x\ny") == b"[    0.000000] [     T42] x\n                          y\n"


def test_vmcoreinfo_key_forms() -> None:
    info = parse(b"OSRELEASE=6.1.0\nPAGESIZE=4096\nSYMBOL(prb)=ffffffff82a1b2c0\nSIZE(page)=64\n"
                 b"OFFSET(page.flags)=0\nLENGTH(mem_section)=2048\nNUMBER(VMALLOC_START)=0xffffc90000000000\n"
                 b"NUMBER(phys_base)=-2097152\nNUMBER(x)=010\nKERNELOFFSET=2a000000\nBUILD-ID=ABCDEF0123456789"
                 b"abcdef0123456789abcdef01\nCRASHTIME=1764130000")  # no final newline (old kernels)
    assert info.symbol("prb") == 0xFFFFFFFF82A1B2C0
    assert info.size("page") == 64 and info.offset("page.flags") == 0
    assert info.lengths["mem_section"] == 2048
    assert info.number("VMALLOC_START") == 0xFFFFC90000000000
    assert info.number("phys_base") == -2097152 and info.number("x") == 10
    assert info.kernel_offset == 0x2A000000 and info.crash_time == 1764130000 and info.page_size == 4096
    assert info.build_id == "abcdef0123456789abcdef0123456789abcdef01"
    assert build_id_is_broken("6.1.115-1") and build_id_is_broken("6.10.14")
    assert not build_id_is_broken("6.1.119")
    assert parse(b"OSRELEASE=6.1.115\nBUILD-ID=" + b"a" * 40).build_id is None


# --------------------------------------------------------------------------- every container


def containers(m: synth.Machine) -> dict[str, bytes]:
    kd = synth.to_kdump(m, "zlib")
    elf = synth.to_elf(m)
    return {
        "elf": elf,
        "kdump-zlib": kd,
        "kdump-lzo": synth.to_kdump(m, "lzo", dump_level=31),
        "kdump-snappy": synth.to_kdump(m, "snappy"),
        "kdump-zstd": synth.to_kdump(m, "zstd"),
        "flat-kdump": synth.to_flat(kd, shuffle=3),
        "flat-elf": synth.to_flat(elf, chunk=65536),
        "kdump-gz": gzip.compress(kd, 1),
        "flat-xz": lzma.compress(synth.to_flat(kd)),
        "elf-bz2": bz2.compress(elf, 1),
        "kdump-zst": zstandard.ZstdCompressor().compress(kd),
        "flat-elf-lz4": lz4.frame.compress(synth.to_flat(elf)),
    }


EXPECTED_FORMAT = {"elf": "elf", "kdump-zlib": "kdump", "kdump-lzo": "kdump", "kdump-snappy": "kdump",
                   "kdump-zstd": "kdump", "flat-kdump": "flat-kdump", "flat-elf": "flat-elf",
                   "kdump-gz": "kdump+gzip", "flat-xz": "flat-kdump+xz", "elf-bz2": "elf+bzip2",
                   "kdump-zst": "kdump+zstd", "flat-elf-lz4": "flat-elf+lz4"}


@pytest.fixture(scope="module")
def lockless_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[synth.Machine, dict[str, Path]]:
    tmp = tmp_path_factory.mktemp("synth")
    m = machine("lockless")
    return m, {k: write(tmp, f"dump-{k}.bin", v) for k, v in containers(m).items()}


@pytest.mark.parametrize("kind", list(EXPECTED_FORMAT))
def test_detect_and_dmesg_every_container(lockless_files: tuple[synth.Machine, dict[str, Path]],
                                          kind: str) -> None:
    m, files = lockless_files
    assert dump.detect(files[kind]) == EXPECTED_FORMAT[kind]
    assert dump.dmesg(files[kind]) == dump.dmesg(files["elf"])
    f = dump.facts(files[kind])
    assert (f.release, f.hostname, f.build_id, f.crash_time, f.cpus) == (
        m.release, m.hostname, m.build_id, m.crash_time, 2)
    assert f.format == EXPECTED_FORMAT[kind] and f.arch == "x86_64" and f.page_size == 4096
    assert f.panic_cpu == 1 and f.panic_pid == 321 and f.registers["rip"] == 0x2000 + 16
    assert f.log_layout == "lockless" and f.kernel_offset == m.kaslr


@pytest.mark.parametrize("layout", LAYOUTS)
def test_log_layouts_against_makedumpfile(tmp_path: Path, layout: str) -> None:
    m = machine(layout)
    # makedumpfile's initial() wants a memory model: a FLATMEM mem_map pointer is the least it takes.
    m.symbols["mem_map"] = m.kdata(struct.pack("<Q", synth.DIRECT_MAP + 0x100000))
    m.vmci_extra += ["SIZE(page)=64", "OFFSET(page.flags)=0", "OFFSET(page._refcount)=52",
                     "OFFSET(page.mapping)=24", "OFFSET(page.lru)=8"]
    if layout == "char-ring":
        # a 3.2 kernel: kref before the name, no OFFSET(uts_namespace.name)
        m.vmci_extra.remove("OFFSET(uts_namespace.name)=0")
        m.uts(kref=True)
    ours = {}
    for kind, data in (("elf", synth.to_elf(m)), ("kdump", synth.to_kdump(m, "zlib"))):
        p = write(tmp_path, f"v.{kind}", data)
        ours[kind] = dump.dmesg(p)
        if MAKEDUMPFILE:
            out = tmp_path / f"{kind}.txt"
            subprocess.run([MAKEDUMPFILE, "--dump-dmesg", str(p), str(out)], check=True, capture_output=True)
            assert ours[kind] == out.read_bytes(), kind
    assert ours["elf"] == ours["kdump"]
    text = ours["elf"]
    # The newest record is always there, the oldest ones were overwritten by the ring.
    assert b"#39" in text and b"#0 " not in text and b"#0\n" not in text
    if layout == "char-ring":
        assert text.count(b"<6>") >= 10 and len(text) == 1024
    else:
        assert b"\\xffffffc3" in text and b"\n               " in text
    if layout == "printk_log_caller":
        assert dump.dmesg(write(tmp_path, "c.elf", synth.to_elf(m)), caller_id=True).count(b"] [") > 10
    if not MAKEDUMPFILE:
        missing("makedumpfile", "not installed: only our own reading was checked")


# (records, longest padding): 1..16 fill the descriptors; 17+ reuse them; the text of 101..110 wraps round
# the end of the ring within the live span; with 300-byte records the live span is over half the ring.
@pytest.mark.parametrize(("n", "pad"), [(1, 40), (5, 40), (16, 40), (17, 40), (40, 40), (61, 40), (90, 40),
                                        (101, 40), (105, 40), (110, 40), (131, 40), (20, 300), (61, 300)])
def test_lockless_live_part_read_only(tmp_path: Path, n: int, pad: int,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A ring far from full is read only where its live records are (printk._ring_slots/_text_ring);
    the text must not change, whether the live span is one piece or wraps round the ring's end."""
    m = synth.standard_machine("none", release=RELEASE["lockless"])
    recs = [(10**6 * i, 100 + i, b"record %d " % i + b"x" * (i * 7 % pad)) for i in range(n)]
    synth.lockless_log(m, recs, count_bits=4, size_bits=12)  # 16 descriptors, 4 KiB of text
    m.symbols["mem_map"] = m.kdata(struct.pack("<Q", synth.DIRECT_MAP + 0x100000))
    m.vmci_extra += ["SIZE(page)=64", "OFFSET(page.flags)=0", "OFFSET(page._refcount)=52",
                     "OFFSET(page.mapping)=24", "OFFSET(page.lru)=8"]
    p = write(tmp_path, "v.kdump", synth.to_kdump(m, "zlib"))
    text = dump.dmesg(p)
    assert text.count(b"\n") == (min(n, 16) if pad == 40 else text.count(b"record "))
    assert text.endswith(b"record %d " % (n - 1) + b"x" * ((n - 1) * 7 % pad) + b"\n")
    # The same text when every slot and the whole text ring are read (as makedumpfile does).
    from crashhub.dump import _printk as printk  # noqa: PLC0415

    def all_slots(d: Any, a: int, slot: int, count: int, *, first: int, n: int) -> bytes:
        ring = d.read_virt(a, slot * count)
        return (ring[first * slot:] + ring[:first * slot])[:n * slot]

    monkeypatch.setattr(printk, "_text_ring", lambda d, a, size, **_: (d.read_virt(a, size), 0))
    monkeypatch.setattr(printk, "_ring_slots", all_slots)
    assert dump.dmesg(p) == text
    if MAKEDUMPFILE:
        out = tmp_path / "m.txt"
        subprocess.run([MAKEDUMPFILE, "--dump-dmesg", str(p), str(out)], check=True, capture_output=True)
        assert out.read_bytes() == text


# --------------------------------------------------------------------------- pages and translation


def test_pages_every_format_and_exclusion(tmp_path: Path) -> None:
    m = machine("lockless")
    excluded = set(range(0x300, 0x380, 3)) | {0x7FF}
    files = {
        "elf": synth.to_elf(m, excluded=excluded),
        "kdump": synth.to_kdump(m, "lzo", dump_level=31, excluded=excluded),
        "flat": synth.to_flat(synth.to_kdump(m, "zstd", excluded=excluded), shuffle=5, overlap=True),
    }
    for name, data in files.items():
        with dump.open_dump(write(tmp_path, name, data)) as d:
            for pfn in range(m.ram_pages):
                want = bytes(m.mem.get(pfn, bytes(4096)))
                if not m.is_ram(pfn) or pfn in excluded:
                    with pytest.raises(ExcludedPageError) as ei:
                        d.read_page(pfn)
                    assert ei.value.pfn == pfn and str(tmp_path) in str(ei.value)
                    assert d.read_page(pfn, zero_excluded=True) == bytes(4096)
                else:
                    assert d.read_page(pfn) == want, (name, pfn)
            assert d.read_phys(0x301 * 4096 + 4000, 200) == m.read_phys(0x301 * 4096 + 4000, 200)


def test_elf_gap_and_partial_facts(tmp_path: Path) -> None:
    m = machine("lockless")
    p = write(tmp_path, "e", synth.to_elf(m, excluded={0x7FE, 0x7FF}))
    f = dump.facts(p)
    assert f.partial and f.pages_present == f.ram_bytes // 4096 - 2


def test_virtual_reads_1g_2m_4k(tmp_path: Path) -> None:
    m = machine("lockless")
    data = bytes(range(256)) * 40
    va = m.vmalloc(data)  # 4 KiB PTEs over scattered pages
    kva = m.kdata(b"kernel-data-here")  # 2 MiB pages
    dva = synth.DIRECT_MAP + 0x300 * 4096  # 1 GiB page
    with dump.open_dump(write(tmp_path, "k", synth.to_kdump(m, "zlib"))) as d:
        assert d.read_virt(va + 100, len(data) - 100) == data[100:]
        assert d.read_virt(kva, 16) == b"kernel-data-here"
        assert d.read_virt(dva, 4096) == bytes(m.mem[0x300])
        with pytest.raises(TranslationError):
            d.read_virt(0xFFFFEA0000000000, 8)


def test_utsname_with_kref_and_no_offset(tmp_path: Path) -> None:
    m = synth.Machine(release="4.9.0-3-amd64")
    m.build_page_tables()
    m.uts(kref=True)
    synth.printk_log(m, [(1, 0, b"x")])
    f = dump.facts(write(tmp_path, "e", synth.to_elf(m)))
    assert f.hostname == m.hostname and f.version == m.version


def test_split_part(tmp_path: Path) -> None:
    m = machine("lockless")
    p = write(tmp_path, "part2", synth.to_kdump(m, "zlib", split=(0x400, 0x800)))
    assert dump.detect(p) == "split-kdump"
    f = dump.facts(p)
    assert f.split_pfns == (0x400, 0x800) and not f.partial
    with dump.open_dump(p) as d:
        assert d.read_page(0x401) == bytes(m.mem.get(0x401, bytes(4096)))
        with pytest.raises(ExcludedPageError):
            d.read_page(0x300)


def test_qemu_style_elf(tmp_path: Path) -> None:
    m = machine("lockless")
    p = write(tmp_path, "q", synth.to_elf(m, qemu=True, text_load=False))
    assert dump.detect(p) == "qemu-elf"
    f = dump.facts(p)
    assert f.release == m.release and f.panic_cpu == 1 and f.panic_pid is None


def test_incomplete_and_vmemmap_flags(tmp_path: Path) -> None:
    m = machine("lockless")
    p = write(tmp_path, "k", synth.to_kdump(m, "zlib", dump_level=31, status_extra=0x18))
    f = dump.facts(p)
    assert f.incomplete and f.excluded_vmemmap and f.partial and len(f.dump_level_excludes) == 5


def test_newer_kernel_slab_warning(tmp_path: Path) -> None:
    m = synth.standard_machine("lockless", release="6.12.117+deb12-cloud-amd64")
    f = dump.facts(write(tmp_path, "k", synth.to_kdump(m, "lzo", dump_level=31)))
    assert any("slab" in w for w in f.warnings)


def test_name_is_ignored(tmp_path: Path) -> None:
    m = machine("lockless")
    p = write(tmp_path, "vmcore.flat", synth.to_elf(m))
    assert dump.detect(p) == "elf"
    with pytest.raises(DumpFormatError):
        dump.detect(write(tmp_path, "vmcore", b"not a dump at all, just text\n"))


# --------------------------------------------------------------------------- reassembly


@pytest.mark.parametrize("shuffle,overlap", [(None, False), (11, False), (12, True)])
def test_reassemble_identical_and_sparse(tmp_path: Path, shuffle: int | None, overlap: bool) -> None:
    m = machine("lockless")
    kd = synth.to_kdump(m, "zlib") + bytes(1 << 20)  # a zero tail that stays a hole
    kd = kd + b"end"
    flat = write(tmp_path, "f.flat", synth.to_flat(kd, shuffle=shuffle, overlap=overlap))
    out = tmp_path / "out"
    dump.reassemble(flat, out)
    assert out.read_bytes() == kd
    assert os.stat(out).st_blocks * 512 < len(kd) - (512 << 10)  # the zero MiB was not written
    # file objects, including a non-seekable stream as stdin would be
    buf = io.BytesIO()
    dump.reassemble(io.BufferedReader(io.BytesIO(flat.read_bytes())), buf)  # type: ignore[arg-type]
    assert buf.getvalue() == kd
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover (child)
        os.close(r)
        with os.fdopen(w, "wb") as f:
            f.write(flat.read_bytes())
        os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        dump.reassemble(f, tmp_path / "piped")
    os.waitpid(pid, 0)
    assert (tmp_path / "piped").read_bytes() == kd
    if MAKEDUMPFILE:
        with open(flat, "rb") as f:
            subprocess.run([MAKEDUMPFILE, "-R", str(tmp_path / "mk")], stdin=f, check=True,
                           capture_output=True)
        assert (tmp_path / "mk").read_bytes() == kd


def test_pages_agree_with_drgn(tmp_path: Path) -> None:
    drgn = need_module("drgn")
    m = machine("lockless")
    for name, data in (("k", synth.to_kdump(m, "lzo", dump_level=31)), ("e", synth.to_elf(m)),
                       ("f", synth.to_flat(synth.to_kdump(m, "snappy"), shuffle=2))):
        p = write(tmp_path, name, data)
        prog = drgn.Program()
        prog.set_core_dump(str(p))
        with dump.open_dump(p) as d:
            for pfn in range(0, m.ram_pages, 5):
                if m.is_ram(pfn):
                    assert d.read_page(pfn) == prog.read(pfn * 4096, 4096, True), (name, pfn)


def test_cut_short_files_are_incomplete_not_errors(tmp_path: Path) -> None:
    m = machine("lockless")
    kd = synth.to_kdump(m, "zlib")
    for name, data in (("k", kd[: len(kd) - 5000]), ("f", synth.to_flat(kd)[:-9000]),
                       ("e", synth.to_elf(m)[:-4096])):
        f = dump.facts(write(tmp_path, name, data))
        assert f.incomplete and f.release == m.release, name
        assert any("ends" in w for w in f.warnings), name


def test_reassemble_falls_back_when_the_kernel_cannot_copy(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """copy_file_range fails with EXDEV across file systems on older kernels: copy in user space."""
    kd = synth.to_kdump(machine("lockless"), "zlib")
    flat = write(tmp_path, "f.flat", synth.to_flat(kd, chunk=65536, shuffle=1))
    calls = []

    def refuse(*args: object) -> int:
        calls.append(args)
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(os, "copy_file_range", refuse)
    dump.reassemble(flat, tmp_path / "out")
    assert (tmp_path / "out").read_bytes() == kd and len(calls) == 1


def test_five_level_paging(tmp_path: Path) -> None:
    m = synth.standard_machine("lockless", levels=5)
    va = m.vmalloc(b"five levels" * 500)
    p = write(tmp_path, "k", synth.to_kdump(m, "zstd"))
    with dump.open_dump(p) as d:
        assert d.read_virt(va, 5500) == b"five levels" * 500
        assert d.read_virt(m.direct_map + 0x301 * 4096, 4096) == bytes(m.mem[0x301])
    four = write(tmp_path, "k4", synth.to_kdump(synth.standard_machine("lockless")))
    assert dump.dmesg(p) == dump.dmesg(four)
    drgn = need_module("drgn")
    prog = drgn.Program()
    prog.set_core_dump(str(p))
    assert prog.read(va, 5500) == b"five levels" * 500  # drgn walks the same 5-level tables


def test_arm64_page_tables(tmp_path: Path) -> None:
    """arm64 (4 KiB granule, 48-bit VA): swapper_pg_dir at sym - kimage_voffset, block descriptors."""
    m = synth.standard_machine("lockless", arch="aarch64")
    va = m.vmalloc(b"arm64 pages " * 600)
    for name, data in (("e", synth.to_elf(m)), ("k", synth.to_kdump(m, "zlib"))):
        p = write(tmp_path, name, data)
        with dump.open_dump(p) as d:
            assert d.arch == "aarch64"
            assert d.read_virt(va, 7200) == b"arm64 pages " * 600
            assert d.read_virt(m.direct_map + 0x301 * 4096, 4096) == bytes(m.mem[0x301])  # 1 GiB block
            assert d.cpus[1].registers["pc"] == 0x2000 + 32
        assert dump.dmesg(p) == dump.dmesg(write(tmp_path, "x86", synth.to_elf(synth.standard_machine())))
        f = dump.facts(p)
        assert f.arch == "aarch64" and f.hostname == m.hostname and f.panic_pid == 321
        drgn = need_module("drgn")
        prog = drgn.Program()
        prog.set_core_dump(str(p))
        assert prog.read(va, 7200) == b"arm64 pages " * 600  # drgn walks the same tables


def test_split_parts_read_together(tmp_path: Path) -> None:
    m = machine("lockless")
    ranges = [(0, 0x300), (0x300, 0x600), (0x600, m.ram_pages)]
    parts = [write(tmp_path, f"vmcore.{i + 1}", synth.to_kdump(m, "lzo", dump_level=31, split=r))
             for i, r in enumerate(ranges)]
    whole = dump.dmesg(write(tmp_path, "whole", synth.to_kdump(m, "lzo")))
    with dump.open_split(list(reversed(parts))) as d:
        assert read_log(d).text == whole
        for pfn in (0x10, 0x2FF, 0x300, 0x301, 0x5FF, 0x600, 0x7FE):
            assert d.read_page(pfn, zero_excluded=True) == bytes(m.mem.get(pfn, bytes(4096)))
    with pytest.raises(ExcludedPageError), dump.open_split(parts[:2]) as d:
        d.read_page(0x700)
    with pytest.raises(DumpFormatError):
        dump.open_split([parts[0], parts[0]])  # overlapping ranges


def test_reassemble_a_wrapped_flat_file(tmp_path: Path) -> None:
    kd = synth.to_kdump(machine("lockless"), "zlib")
    p = write(tmp_path, "vmcore.flat.gz", gzip.compress(synth.to_flat(kd, shuffle=9), 1))
    assert dump.detect(p) == "flat-kdump+gzip"
    dump.reassemble(p, tmp_path / "out")
    assert (tmp_path / "out").read_bytes() == kd


def test_release_from_banner_without_vmcoreinfo(tmp_path: Path) -> None:
    """A hypervisor dump without VMCOREINFO (libvirt without the vmcoreinfo device): the banner."""
    m = synth.Machine()
    m.build_page_tables()
    banner = (b"Linux version 5.14.0-427.13.1.el9_4.x86_64 (mockbuild@x86-64-01) (gcc (GCC) 11.4.1) "
              b"#1 SMP PREEMPT_DYNAMIC Wed Apr 10 10:29:16 EDT 2024\n")
    m.write_phys(0x351 * 4096 - 40, banner)  # across a page boundary
    data = bytearray(synth.to_elf(m, qemu=True, text_load=False))
    i = data.index(b"VMCOREINFO\0")
    data[i:i + 10] = b"NOTVMCINFO"  # the note is there but not VMCOREINFO
    kd = bytearray(synth.to_kdump(m, "zlib", uts=False))  # QEMU leaves the header's utsname empty
    struct.pack_into("<Q", kd, 4096 + 40, 0)  # size_vmcoreinfo
    i = kd.index(b"VMCOREINFO\0")
    kd[i:i + 10] = b"NOTVMCINFO"
    for name, blob in (("e", bytes(data)), ("k", bytes(kd))):
        f = dump.facts(write(tmp_path, name, blob))
        assert f.release == "5.14.0-427.13.1.el9_4.x86_64"
        assert f.version == "#1 SMP PREEMPT_DYNAMIC Wed Apr 10 10:29:16 EDT 2024"
        assert any("banner" in w for w in f.warnings)


def test_old_diskdump(tmp_path: Path) -> None:
    m = synth.standard_machine("lockless", release="2.6.18-8.el5")
    p = write(tmp_path, "old", synth.to_diskdump(m))
    assert dump.detect(p) == "diskdump"
    f = dump.facts(p)
    assert (f.format, f.release, f.hostname, f.cpus) == ("diskdump", "2.6.18-8.el5", m.hostname, 2)
    with dump.open_dump(p) as d:
        for pfn in (0, 0x301, 0x302, 0x7FF):
            assert d.read_page(pfn) == bytes(m.mem.get(pfn, bytes(4096)))
        with pytest.raises(ExcludedPageError):
            d.read_page(0xA0)  # the hole is not RAM


def test_printk_rows_any_field_layout() -> None:
    """_rows reads the same values whatever the offsets' order, and field by field when they overlap."""
    from crashhub.dump._printk import _rows  # noqa: PLC0415

    slots = b"".join(struct.pack("<QQHxxI", 10 + k, 20 + k, 30 + k, 40 + k) for k in range(5))
    want = [(20 + k, 30 + k, 40 + k) for k in range(5)]
    assert list(_rows(slots, 24, [(8, "Q"), (16, "H"), (20, "I")])) == want
    assert list(_rows(slots, 24, [(20, "I"), (8, "Q"), (16, "H")])) == [(c, a, b) for a, b, c in want]
    overlapping = list(_rows(slots, 24, [(8, "Q"), (8, "H"), (0, "Q")]))  # as a bad VMCOREINFO may say
    assert overlapping == [(20 + k, 20 + k, 10 + k) for k in range(5)]
