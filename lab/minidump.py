"""A real lab dump cut down to the pages crashhub's own readers use, small enough to keep in git.

``python -m lab minidump --kernel 6.1 --kind null --out tests/data/minidump/6.1-null`` takes the run's
``elf/vmcore`` (``makedumpfile -E -d 31``), reads it the way the hub does at ingest
(``crashhub.dump.facts``: VMCOREINFO, utsname, the printk ring, the panic CPU's registers) while
recording every physical page those reads touch, and writes:

- ``vmcore``: an ELF64 core with the original notes (VMCOREINFO, one NT_PRSTATUS per CPU) and only
  the touched pages; every other page of each original PT_LOAD is still described (``p_filesz`` 0,
  ``p_memsz`` kept), so the RAM map is the original and the rest reads as left out, as in any
  partial dump.  It is a subset of real kernel memory, not a synthetic image: its log and facts
  are the original's, which this tool checks before it writes anything;
- ``vmcore-dmesg.txt``: the capture's own log of the same crash;
- ``manifest.json``: the lab's expectations (release, kind, culprit) and the sizes.

The quick test tier (``pytest -m "not lab"``) ingests it as a crash with a dump; drgn and crash need
the whole dump and stay in the lab tier.
"""

from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path

from crashhub import dump
from crashhub.dump._detect import open_dump
from crashhub.dump._elf import ElfDump
from lab.run import LabRun

PT_LOAD, PT_NOTE = 1, 4


def touched_pages(vmcore: Path) -> tuple[set[int], int]:
    """(pfns read by ``dump.facts`` on ``vmcore``, page size)."""
    seen: set[int] = set()
    original = ElfDump.read_phys

    def recording(self: ElfDump, addr: int, size: int, zero_excluded: bool = False) -> bytes:
        ps = self.page_size
        seen.update(range(addr // ps, (addr + max(size, 1) - 1) // ps + 1))
        return original(self, addr, size, zero_excluded)

    ElfDump.read_phys = recording  # type: ignore[method-assign]
    try:
        dump.facts(vmcore)
        dump.dmesg(vmcore)
        with open_dump(vmcore) as d:
            page_size = d.page_size
    finally:
        ElfDump.read_phys = original  # type: ignore[method-assign]
    return seen, page_size


def _runs(pfns: list[int]) -> list[tuple[int, int]]:
    """Sorted pfns as (first, count) runs."""
    out: list[tuple[int, int]] = []
    for p in pfns:
        if out and out[-1][0] + out[-1][1] == p:
            out[-1] = (out[-1][0], out[-1][1] + 1)
        else:
            out.append((p, 1))
    return out


def _segments(d: ElfDump, pfns: set[int]) -> list[tuple[int, int, int, bool]]:
    """(paddr, vaddr, size, kept) covering every original RAM segment: kept runs and left-out gaps."""
    ps = d.page_size
    segs: list[tuple[int, int, int, bool]] = []
    for ld in d.loads:
        first, end = ld.paddr // ps, (ld.paddr + ld.memsz) // ps
        inside = sorted(p for p in pfns if first <= p < end and d.page_present(p))
        at = ld.paddr
        for start, n in _runs(inside):
            lo = start * ps
            if lo > at:
                segs.append((at, _vaddr(ld.vaddr, ld.paddr, at), lo - at, False))
            segs.append((lo, _vaddr(ld.vaddr, ld.paddr, lo), n * ps, True))
            at = lo + n * ps
        if at < ld.paddr + ld.memsz:
            segs.append((at, _vaddr(ld.vaddr, ld.paddr, at), ld.paddr + ld.memsz - at, False))
    return segs


def _vaddr(seg_vaddr: int, seg_paddr: int, paddr: int) -> int:
    return seg_vaddr + (paddr - seg_paddr) if seg_vaddr else 0


def write_minidump(src: Path, dest: Path) -> int:
    """Write the cut-down ELF core of ``src`` (an ELF vmcore) to ``dest``; returns its size."""
    pfns, _ = touched_pages(src)
    with open_dump(src) as d:
        if not isinstance(d, ElfDump):
            raise ValueError(f"{src}: an ELF vmcore is needed (the run's elf/vmcore)")
        notes = b"".join(_note_bytes(n.name, n.type, n.desc) for n in d.notes)
        segs = _segments(d, pfns)
        phnum = 1 + len(segs)
        off = 64 + 56 * phnum
        table = [struct.pack("<IIQQQQQQ", PT_NOTE, 0, off, 0, 0, len(notes), len(notes), 0)]
        data = [notes]
        off += len(notes)
        for paddr, vaddr, size, kept in segs:
            filesz = size if kept else 0
            table.append(struct.pack("<IIQQQQQQ", PT_LOAD, 7, off, vaddr, paddr, filesz, size, 0))
            if kept:
                data.append(d.read_phys(paddr, size))
                off += size
        machine = 62  # EM_X86_64: the lab is x86_64
        head = (b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
                + struct.pack("<HHIQQQIHHHHHH", 4, machine, 1, 0, 64, 0, 0, 64, 56, phnum, 0, 0, 0))
    dest.write_bytes(head + b"".join(table) + b"".join(data))
    return dest.stat().st_size


def _note_bytes(name: str, type_: int, desc: bytes) -> bytes:
    raw = name.encode() + b"\0"
    pad = lambda b: b + bytes(-len(b) % 4)  # noqa: E731
    return struct.pack("<III", len(raw), len(desc), type_) + pad(raw) + pad(desc)


def make(run: LabRun, out: Path) -> dict[str, object]:
    """Write ``out``/{vmcore, vmcore-dmesg.txt, manifest.json} from a lab run; check it reads the same."""
    src = run.path("elf/vmcore")
    out.mkdir(parents=True, exist_ok=True)
    size = write_minidump(src, out / "vmcore")
    want, got = dump.facts(src), dump.facts(out / "vmcore")
    same = ("release", "version", "hostname", "build_id", "crash_time", "arch", "cpus", "panic_cpu",
            "panic_pid", "registers", "ram_bytes", "kernel_offset", "incomplete")
    diff = [k for k in same if getattr(want, k, None) != getattr(got, k, None)]
    if diff or dump.dmesg(src) != dump.dmesg(out / "vmcore"):
        (out / "vmcore").unlink()
        raise RuntimeError(f"{src}: the cut-down dump reads differently ({diff or 'log'})")
    shutil.copyfile(run.path("elf/vmcore-dmesg.txt"), out / "vmcore-dmesg.txt")
    manifest = {
        "from": f"lab run {run.kernel}/{run.kind} elf/vmcore ({run.manifest['kernel']['release']})",
        "crash_dir": src.parent.name,
        "release": run.manifest["kernel"]["release"],
        "expected": run.expected,
        "source_bytes": src.stat().st_size,
        "vmcore_bytes": size,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest
