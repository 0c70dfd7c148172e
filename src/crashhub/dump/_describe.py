"""Dump facts as data: what a dump is, read without debuginfo (:class:`crashhub.model.DumpFacts`).

Named describe.py, not facts.py: a submodule named like the package's `facts()` function would
replace that function on the package when it is imported lazily.
"""

from __future__ import annotations

import os
import re
from typing import Any

from crashhub.dump._base import DumpReader
from crashhub.dump._elf import ElfDump
from crashhub.dump._kdump import DUMP_DH_COMPRESSED_INCOMPLETE, DUMP_DH_EXCLUDED_VMEMMAP, KdumpDump
from crashhub.dump._vmcoreinfo import build_id_is_broken
from crashhub.errors import DumpError
from crashhub.kernel import kernel_version
from crashhub.model import DumpFacts

# makedumpfile -d bits (makedumpfile.8).
DUMP_LEVEL_BITS = ((1, "zero pages"), (2, "non-private cache pages"), (4, "private cache pages"),
                   (8, "user data pages"), (16, "free pages"))
UTS_LEN = 65


def dump_level_excludes(level: int) -> tuple[str, ...]:
    return tuple(name for bit, name in DUMP_LEVEL_BITS if level & bit)


def read_utsname(dump: DumpReader) -> dict[str, str] | None:
    """``init_uts_ns.name`` through the page tables, or None when it cannot be read."""
    info = dump.vmcoreinfo
    sym = info.symbol("init_uts_ns")
    if sym is None:
        return None
    known = info.offset("uts_namespace.name")
    try:
        raw = dump.read_virt(sym, 6 * UTS_LEN + 16)
    except (DumpError, NotImplementedError):
        return None
    # Before Linux 5.11 a kref (4 bytes) came before the name; VMCOREINFO rarely says where it is, so
    # look for the sysname and check the release against OSRELEASE.
    for off in ([known] if known is not None else [0, 4, 8]):
        if raw[off:off + 6] != b"Linux\0":
            continue
        fields = [raw[off + i * UTS_LEN:off + (i + 1) * UTS_LEN].split(b"\0", 1)[0].decode("utf-8", "replace")
                  for i in range(6)]
        uts = dict(zip(("sysname", "nodename", "release", "version", "machine", "domainname"), fields,
                       strict=True))
        if info.osrelease is None or uts["release"] == info.osrelease:
            return uts
    return None


# linux_banner (init/version.c): "Linux version " UTS_RELEASE " (" COMPILE_BY "@" COMPILE_HOST ") ("
# COMPILER ") " UTS_VERSION "\n".  The release must look like one; the rest must be printable.
_BANNER = re.compile(rb"Linux version (\d+\.\d+[\w.+~-]*) \([ -~]{1,300}?\) (#[ -~]{1,200})\n")
BANNER_SCAN_BYTES = 1 << 30  # how much of a dump's memory the banner search reads at most
_SCAN_CHUNK = 8 << 20


def find_banner(dump: DumpReader) -> tuple[str, str] | None:
    """(release, version) from the first 'Linux version' banner in the dump's memory, or None."""
    budget = BANNER_SCAN_BYTES
    if isinstance(dump, ElfDump):
        for ld in dump.loads:
            pos, end = ld.offset, ld.offset + ld.filesz
            while pos < end and budget > 0:
                n = min(_SCAN_CHUNK + 1024, end - pos)  # overlap: a banner across two chunks
                try:
                    data = dump.source.pread(pos, n)
                except DumpError:
                    break
                m = _BANNER.search(data)
                if m:
                    return m.group(1).decode(), m.group(2).decode()
                pos += _SCAN_CHUNK
                budget -= n
        return None
    if isinstance(dump, KdumpDump):
        buf = b""
        for pfn in dump.iter_present_pfns():
            if budget <= 0:
                break
            try:
                page = dump.read_page(pfn)
            except DumpError:
                buf = b""
                continue
            budget -= len(page)
            buf = buf[-1024:] + page
            if b"Linux version " in buf:
                m = _BANNER.search(buf)
                if m:
                    return m.group(1).decode(), m.group(2).decode()
    return None


def _panic_cpu(dump: DumpReader, log: bytes | None) -> tuple[int | None, list[str]]:
    """Which CPU note belongs to the crash: the last "CPU: n PID: p" of the log, else the only busy CPU."""
    cpus = dump.cpus
    notes: list[str] = []
    if not cpus:
        return None, notes
    qemu = dump.is_qemu
    if log:
        from crashhub.triage import last_task_line  # noqa: PLC0415  (the dump reader stays light)

        line = last_task_line(log)
        if line is not None:
            n, pid = line
            if not qemu:
                hits = [c.index for c in cpus if c.pid == pid and pid != 0]
                if len(hits) == 1:
                    return hits[0], notes
            elif n < len(cpus):
                return n, notes  # QEMU stores the vCPU index as pr_pid, not the task
    busy = [c.index for c in cpus if c.pid != 0]
    if not qemu and len(busy) == 1:
        return busy[0], notes
    notes.append("panic CPU not identified from the CPU notes")
    return None, notes


def facts_of(dump: DumpReader, path: str, log: bytes | None = None, log_layout: str | None = None
             ) -> DumpFacts:
    """Facts of an opened dump.  ``log`` (its kernel log, if already read) helps find the panic CPU."""
    info = dump.vmcoreinfo
    warnings: list[str] = []
    uts: dict[str, str] | None = None
    dump_level = None
    incomplete = excluded_vmemmap = partial = False
    pages_present = max_pfn = ram_bytes = None
    cpus: int | None = len(dump.cpus) or None
    crash_time = info.crash_time
    extra: dict[str, Any] = {}
    if isinstance(dump, KdumpDump):
        h = dump.header
        if h.utsname.get("sysname"):
            uts = h.utsname
        dump_level = h.dump_level
        incomplete = bool(h.status & DUMP_DH_COMPRESSED_INCOMPLETE)
        excluded_vmemmap = bool(h.status & DUMP_DH_EXCLUDED_VMEMMAP)
        # crash prints [PARTIAL DUMP] for any non-split diskdump with dump_level > 0.
        partial = bool(dump_level) and not h.split
        pages_present = dump.pages_dumped
        max_pfn = h.max_mapnr
        ram_bytes = dump.ram_pages() * dump.page_size
        if h.nr_cpus > 0:
            cpus = h.nr_cpus
        if h.split:
            extra["split_pfns"] = (h.start_pfn, h.end_pfn)
            warnings.append(f"one part of a split dump: pfns {h.start_pfn:#x}..{h.end_pfn:#x}")
        if crash_time is None and h.timestamp > 0:
            warnings.append("no CRASHTIME in VMCOREINFO; the header's timestamp is when the dump was saved")
        if incomplete:
            warnings.append("makedumpfile did not finish writing this dump (INCOMPLETE)")
    elif isinstance(dump, ElfDump):
        ram_bytes = dump.ram_bytes
        pages_present = dump.present_bytes // dump.page_size
        max_pfn = max((ld.paddr + ld.memsz for ld in dump.loads), default=0) // dump.page_size
        partial = dump.present_bytes < dump.ram_bytes
    if uts is None:
        uts = read_utsname(dump)
    release = info.osrelease or (uts or {}).get("release") or None
    if release is None:
        # No VMCOREINFO (QEMU/libvirt dumps without the vmcoreinfo device, some hypervisors): find
        # the kernel's own banner in memory, as kdumpid does.
        banner = find_banner(dump)
        if banner is not None:
            release = banner[0]
            uts = {**(uts or {}), "version": (uts or {}).get("version") or banner[1]}
            warnings.append("no VMCOREINFO: release read from the 'Linux version' banner in memory")
    build_id = info.build_id
    if release and info.raw.get("BUILD-ID") and build_id is None and build_id_is_broken(release):
        warnings.append(f"VMCOREINFO BUILD-ID of {release} is known to be wrong; ignored")
    if release and dump_level is not None and dump_level & 8 and (kernel_version(release) or (0,)) >= (6, 10):
        # Linux 6.10 made PG_slab a page type (commit 46df8e73a4a3 "mm: free up PG_slab"); makedumpfile
        # 1.7.x then reads a slab's counter as page.mapping and drops live slab pages as user data.
        warnings.append("Linux >= 6.10 dumped with dump level bit 8 (user data): makedumpfile <= 1.7.x "
                        "drops live slab pages, so task and slab structures may be missing; use -d 23")
    if dump.incomplete_reasons:
        incomplete = True
        warnings += dump.incomplete_reasons
    arch = dump.arch or ((uts or {}).get("machine") or None)
    panic_cpu, more = _panic_cpu(dump, log)
    warnings += more
    regs: dict[str, int] = {}
    panic_pid = None
    if panic_cpu is not None:
        c = dump.cpus[panic_cpu]
        regs = dict(c.registers)
        panic_pid = None if dump.is_qemu else c.pid
    try:
        file_size = os.stat(path).st_size
    except OSError:
        file_size = None
    return DumpFacts(
        path=path, format=dump.format + (f"+{dump.wrapper}" if dump.wrapper else ""),
        compression=dump.compression, wrapper=dump.wrapper, arch=arch, release=release,
        version=(uts or {}).get("version") or None, build_id=build_id,
        hostname=(uts or {}).get("nodename") or None, crash_time=crash_time, cpus=cpus,
        page_size=dump.page_size, dump_level=dump_level,
        dump_level_excludes=dump_level_excludes(dump_level or 0), partial=partial, incomplete=incomplete,
        excluded_vmemmap=excluded_vmemmap, pages_present=pages_present, max_pfn=max_pfn,
        file_size=file_size, ram_bytes=ram_bytes, phys_base=dump.phys_base,
        kernel_offset=info.kernel_offset, panic_cpu=panic_cpu, panic_pid=panic_pid, registers=regs,
        vmcoreinfo=dict(info.raw), warnings=tuple(warnings), log_layout=log_layout, **extra)
