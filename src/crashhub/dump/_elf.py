"""ELF64 vmcores: the kernel's /proc/vmcore as saved by cp or ``makedumpfile -E``, and QEMU's dumps.

Physical memory is the PT_LOAD map (``p_paddr`` → ``p_offset``).  ``makedumpfile -E`` marks left-out
ranges with ``p_filesz < p_memsz``: the tail reads as excluded.  On x86_64 the kernel adds a PT_LOAD
for the kernel text (``p_vaddr`` = ``_text``) that repeats part of RAM; it also gives ``phys_base``.
QEMU (``dump-guest-memory``) puts its program headers after the notes' section header, so only
``e_phoff`` is trusted (QEMU 7.2 writes them at offset 192), and adds one ``"QEMU"`` note per CPU.
"""

from __future__ import annotations

import bisect
import struct

from crashhub.dump import _vmcoreinfo as vmci
from crashhub.dump._base import MAX_NOTES_BYTES, DumpReader, parse_notes
from crashhub.dump._source import check_size
from crashhub.errors import DumpFormatError, ExcludedPageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from crashhub.dump._source import Source

PT_LOAD = 1
PT_NOTE = 4
PN_XNUM = 0xFFFF
MAX_PHDRS = 1 << 20
MAX_FILE = 1 << 56
ELF_MACHINES = {62: "x86_64", 183: "aarch64", 22: "s390x", 21: "ppc64", 243: "riscv64", 3: "i386"}
KERNEL_TEXT_BASE = 0xFFFFFFFF80000000  # __START_KERNEL_map on x86_64


class Load:
    """One PT_LOAD: physical ``paddr`` .. ``paddr + memsz``, of which ``filesz`` bytes are at ``offset``."""

    __slots__ = ("filesz", "memsz", "offset", "paddr", "vaddr")

    def __init__(self, paddr: int, vaddr: int, offset: int, filesz: int, memsz: int) -> None:
        self.paddr, self.vaddr, self.offset, self.filesz, self.memsz = paddr, vaddr, offset, filesz, memsz


class ElfDump(DumpReader):
    format = "elf"

    def __init__(self, source: Source) -> None:
        super().__init__(source)
        path = self.path
        ident = source.pread(0, 64)
        if ident[:4] != b"\x7fELF":
            raise DumpFormatError("not an ELF file", path, 0)
        if ident[4] != 2:
            raise DumpFormatError("only ELF64 vmcores are supported", path, 4)
        self.endian = "<" if ident[5] == 1 else ">"
        e = self.endian
        (e_type, e_machine, _ver, _entry, e_phoff, e_shoff, _flags, _ehsize, e_phentsize, e_phnum,
         e_shentsize, _shnum, _shstrndx) = struct.unpack_from(e + "HHIQQQIHHHHHH", ident, 16)
        if e_type != 4:
            raise DumpFormatError(f"ELF type {e_type} is not a core file", path, 16)
        self.arch = ELF_MACHINES.get(e_machine, f"machine-{e_machine}")
        if e_phnum == PN_XNUM:
            # More than 65534 program headers: the real count is section header 0's sh_info (QEMU
            # does this for guests with many RAM ranges).
            if e_shoff == 0 or e_shentsize < 64:
                raise DumpFormatError("PN_XNUM without a section header", path, 56)
            e_phnum = struct.unpack_from(e + "I", source.pread(e_shoff, 64), 44)[0]
        check_size(path, "program header count", e_phnum, MAX_PHDRS, 56)
        if e_phentsize != 56:
            raise DumpFormatError(f"program header size {e_phentsize}, expected 56", path, 54)
        table = source.pread(e_phoff, 56 * e_phnum)
        loads: list[Load] = []
        note_bytes = 0
        for i in range(e_phnum):
            p_type, _pflags, off, vaddr, paddr, filesz, memsz, _align = struct.unpack_from(
                e + "IIQQQQQQ", table, 56 * i)
            where = e_phoff + 56 * i
            if p_type == PT_NOTE:
                note_bytes += filesz
                check_size(path, "PT_NOTE size", note_bytes, MAX_NOTES_BYTES, where)
                self.notes += parse_notes(source.pread(off, filesz), path, off, e)
            elif p_type == PT_LOAD:
                if filesz > memsz:
                    raise DumpFormatError(f"PT_LOAD p_filesz {filesz:#x} > p_memsz {memsz:#x}", path, where)
                if off > MAX_FILE or filesz > MAX_FILE or paddr + memsz >= 1 << 64:
                    raise DumpFormatError(f"PT_LOAD {i} ({off:#x}+{filesz:#x}) is out of range", path, where)
                if off + filesz > source.size:
                    # A file cut short (a copy still running): keep what is there, the rest is missing.
                    self.incomplete_reasons.append(
                        f"the file ends at {source.size} bytes, PT_LOAD {i} needs {off + filesz}")
                    filesz = max(0, source.size - off)
                loads.append(Load(paddr, vaddr, off, filesz, memsz))
        if self.is_qemu:
            self.format = "qemu-elf"
        for n in self.notes:
            if n.name == "VMCOREINFO":
                self.vmcoreinfo = vmci.parse(n.desc)
                break
        self.page_size = self.vmcoreinfo.page_size or 4096
        if self.page_size & (self.page_size - 1) or not 512 <= self.page_size <= 1 << 20:
            raise DumpFormatError(f"VMCOREINFO PAGESIZE {self.page_size} is not a page size", path)
        text = [ld for ld in loads if self.arch == "x86_64" and ld.vaddr >= KERNEL_TEXT_BASE]
        self.phys_base = self.vmcoreinfo.number("phys_base")
        if self.phys_base is None and text:
            self.phys_base = text[0].paddr - (text[0].vaddr - KERNEL_TEXT_BASE)
        # The RAM map: the text segment repeats RAM, keep it only if no RAM segment covers it.
        self.loads = sorted((ld for ld in loads if ld not in text), key=lambda ld: ld.paddr)
        self._starts = [ld.paddr for ld in self.loads]
        self._extra = [ld for ld in text
                       if not any(r.paddr <= ld.paddr < r.paddr + r.memsz for r in self.loads)]

    def _find(self, addr: int) -> Load | None:
        i = bisect.bisect_right(self._starts, addr) - 1
        # Segments may overlap (they should not): look back a few.
        for j in range(i, max(i - 4, -1), -1):
            ld = self.loads[j]
            if ld.paddr <= addr < ld.paddr + ld.memsz:
                return ld
        for ld in self._extra:
            if ld.paddr <= addr < ld.paddr + ld.memsz:
                return ld
        return None

    def page_present(self, pfn: int) -> bool:
        addr = pfn * self.page_size
        ld = self._find(addr)
        return ld is not None and addr - ld.paddr < ld.filesz

    @property
    def ram_bytes(self) -> int:
        return sum(ld.memsz for ld in self.loads)

    @property
    def present_bytes(self) -> int:
        return sum(ld.filesz for ld in self.loads)

    def _load_page(self, pfn: int) -> bytes:
        return self.read_phys(pfn * self.page_size, self.page_size)

    def read_phys(self, addr: int, size: int, zero_excluded: bool = False) -> bytes:
        if addr < 0 or size < 0:
            raise DumpFormatError(f"bad physical read of {size} bytes at {addr:#x}", self.path)
        out = bytearray()
        while size > 0:
            ld = self._find(addr)
            if ld is None:
                if not zero_excluded:
                    raise ExcludedPageError(f"physical address {addr:#x} is not in the dump", self.path,
                                            pfn=addr // self.page_size)
                # Zero up to the next segment (or the end of the request).
                i = bisect.bisect_right(self._starts, addr)
                n = min(size, (self._starts[i] - addr) if i < len(self._starts) else size)
                out += bytes(n)
            else:
                rel = addr - ld.paddr
                n = min(size, ld.memsz - rel)
                if rel < ld.filesz:
                    n = min(n, ld.filesz - rel)
                    out += self.source.pread(ld.offset + rel, n)
                elif zero_excluded:
                    out += bytes(n)
                else:
                    raise ExcludedPageError(f"physical address {addr:#x} was left out (p_filesz < p_memsz)",
                                            self.path, pfn=addr // self.page_size)
            addr += n
            size -= n
        return bytes(out)
