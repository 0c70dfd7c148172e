"""What every dump reader shares: physical reads built on pages, virtual reads through page tables.

A reader subclass supplies ``read_page`` (and may override ``read_phys`` when it can read ranges
directly).  Virtual addresses are translated by the architecture's walker (``x86_64.py``), created
on first use from VMCOREINFO, so readers that are only asked for facts never build one.
"""

from __future__ import annotations

import struct

from crashhub.dump._source import MAX_READ
from crashhub.dump._vmcoreinfo import VmcoreInfo
from crashhub.errors import DumpFormatError, ExcludedPageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from crashhub.dump._arm64 import Arm64Walker
    from crashhub.dump._source import Source
    from crashhub.dump._x86_64 import Walker

# x86_64 user_regs_struct order in NT_PRSTATUS.pr_reg (27 registers).
X86_64_REGS = ("r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8", "rax", "rcx", "rdx",
               "rsi", "rdi", "orig_rax", "rip", "cs", "eflags", "rsp", "ss", "fs_base", "gs_base", "ds",
               "es", "fs", "gs")
AARCH64_REGS = (*(f"x{i}" for i in range(31)), "sp", "pc", "pstate")

# elf_prstatus: pr_pid at 32, pr_reg at 112 on every 64-bit Linux ABI (siginfo 12 + cursig 2 + pad 2
# + sigpend 8 + sighold 8 = 32; then pid ppid pgrp sid (16) and four timevals (64)).
PRSTATUS_PID = 32
PRSTATUS_REG = 112


# Plain classes, not dataclasses: importing dataclasses costs ~15% of `crashhub dump dmesg`'s run.
class Note:
    """One ELF note; ``offset`` is where its descriptor is in the file, for error messages."""

    __slots__ = ("desc", "name", "offset", "type")

    def __init__(self, name: str, type_: int, desc: bytes, offset: int) -> None:
        self.name, self.type, self.desc, self.offset = name, type_, desc, offset

    def __repr__(self) -> str:
        return f"Note({self.name!r}, {self.type}, {len(self.desc)} bytes at {self.offset:#x})"


class CpuState:
    """One NT_PRSTATUS note: the task a CPU ran at the crash and its registers."""

    __slots__ = ("index", "pid", "registers")

    def __init__(self, index: int, pid: int, registers: dict[str, int]) -> None:
        self.index, self.pid, self.registers = index, pid, registers

    def __repr__(self) -> str:
        return f"CpuState({self.index}, pid={self.pid})"


MAX_NOTES_BYTES = 64 << 20
MAX_NOTES = 1 << 16


def parse_notes(data: bytes, path: str, base: int, endian: str = "<") -> list[Note]:
    """Parse an ELF note area.  A truncated note ends the list with a DumpFormatError."""
    notes: list[Note] = []
    pos = 0
    n = len(data)
    while pos + 12 <= n:
        namesz, descsz, ntype = struct.unpack_from(endian + "III", data, pos)
        if namesz == 0 and descsz == 0 and ntype == 0:
            break  # zero padding at the end of a PT_NOTE (kexec-tools leaves some)
        name_off = pos + 12
        desc_off = name_off + ((namesz + 3) & ~3)
        end = desc_off + ((descsz + 3) & ~3)
        if desc_off + descsz > n:
            raise DumpFormatError(f"ELF note ({namesz}/{descsz} bytes) runs past its area",
                                  path, base + pos)
        name = data[name_off:name_off + namesz].split(b"\0", 1)[0].decode("ascii", "replace")
        notes.append(Note(name, ntype, data[desc_off:desc_off + descsz], base + desc_off))
        if len(notes) > MAX_NOTES:
            raise DumpFormatError(f"more than {MAX_NOTES} ELF notes", path, base + pos)
        pos = end
    return notes


def cpu_states(notes: list[Note], arch: str | None, endian: str = "<") -> list[CpuState]:
    names = X86_64_REGS if arch == "x86_64" else AARCH64_REGS if arch == "aarch64" else ()
    out: list[CpuState] = []
    for note in notes:
        if note.type != 1 or note.name != "CORE" or len(note.desc) < PRSTATUS_REG:
            continue
        pid = struct.unpack_from(endian + "i", note.desc, PRSTATUS_PID)[0]
        regs: dict[str, int] = {}
        if names and len(note.desc) >= PRSTATUS_REG + 8 * len(names):
            vals = struct.unpack_from(f"{endian}{len(names)}Q", note.desc, PRSTATUS_REG)
            regs = dict(zip(names, vals, strict=True))
        out.append(CpuState(len(out), pid, regs))
    return out


class DumpReader:
    """A dump opened for reading: physical pages, virtual reads, VMCOREINFO, CPU notes."""

    format: str = "unknown"
    compression: str | None = None
    wrapper: str | None = None

    def __init__(self, source: Source) -> None:
        self.source = source
        self.path = source.path
        self.page_size = 4096
        self.arch: str | None = None
        self.endian = "<"
        self.vmcoreinfo = VmcoreInfo()
        self.notes: list[Note] = []
        self.phys_base: int | None = None
        self._walker: Walker | Arm64Walker | None = None
        # Why the dump is known to be cut short (a capture that died, a copy still running).
        self.incomplete_reasons: list[str] = []
        # A plain dict is an LRU here (insertion order; a hit is moved to the end): collections
        # costs ~1 ms of every `crashhub dump dmesg` start.
        self._cache: dict[int, bytes] = {}
        self._cache_max = 512

    # -- to be supplied by a subclass
    def _load_page(self, pfn: int) -> bytes:
        raise NotImplementedError

    def page_present(self, pfn: int) -> bool:
        raise NotImplementedError

    # -- shared
    @property
    def is_qemu(self) -> bool:
        """Written by QEMU's dump-guest-memory (it adds "QEMU" CPU-state notes): pr_pid is the vCPU."""
        return any(n.name == "QEMU" for n in self.notes)

    @property
    def cpus(self) -> list[CpuState]:
        return cpu_states(self.notes, self.arch, self.endian)

    def read_page(self, pfn: int, zero_excluded: bool = False) -> bytes:
        """The ``page_size`` bytes of page frame ``pfn``; ExcludedPageError when it is not in the dump."""
        page = self._cache.pop(pfn, None)
        if page is not None:
            self._cache[pfn] = page
            return page
        try:
            page = self._load_page(pfn)
        except ExcludedPageError:
            if zero_excluded:
                return bytes(self.page_size)
            raise
        self._cache[pfn] = page
        if len(self._cache) > self._cache_max:
            del self._cache[next(iter(self._cache))]
        return page

    def read_phys(self, addr: int, size: int, zero_excluded: bool = False) -> bytes:
        if addr < 0 or size < 0 or size > MAX_READ:
            raise DumpFormatError(f"bad physical read of {size} bytes at {addr:#x}", self.path)
        ps = self.page_size
        out = []  # joined once: no growing buffer copied again at the end
        while size > 0:
            pfn, off = divmod(addr, ps)
            n = min(size, ps - off)
            page = self.read_page(pfn, zero_excluded)
            out.append(page if n == ps else page[off:off + n])
            addr += n
            size -= n
        return b"".join(out)

    def translate(self, vaddr: int) -> int:
        """Kernel virtual → physical address (page-table walk)."""
        if self._walker is None:
            self._walker = self._make_walker()
        return self._walker.translate(vaddr)

    def _make_walker(self) -> Walker | Arm64Walker:
        if self.arch == "aarch64":
            from crashhub.dump._arm64 import Arm64Walker  # noqa: PLC0415 (per architecture, on use)

            return Arm64Walker.from_vmcoreinfo(self.vmcoreinfo, self.read_phys, self.path)
        if self.arch not in (None, "x86_64"):
            raise DumpFormatError(f"virtual addresses on {self.arch} are not supported", self.path)
        from crashhub.dump._x86_64 import Walker  # noqa: PLC0415

        return Walker.from_vmcoreinfo(self.vmcoreinfo, self.phys_base, self.read_phys, self.path)

    def read_virt(self, addr: int, size: int) -> bytes:
        """Read kernel virtual memory, page by page through the page tables."""
        if size < 0 or size > MAX_READ:
            raise DumpFormatError(f"bad virtual read of {size} bytes at {addr:#x}", self.path)
        out = []
        ps = 4096  # the smallest translation granule (x86_64, arm64 4K); runs merge larger pages
        run_pa, run_len = -1, 0  # physically contiguous pages are read in one go
        while size > 0:
            n = min(size, ps - (addr % ps))
            pa = self.translate(addr)
            if run_len and pa == run_pa + run_len:
                run_len += n
            else:
                if run_len:
                    out.append(self.read_phys(run_pa, run_len))
                run_pa, run_len = pa, n
            addr += n
            size -= n
        if run_len:
            out.append(self.read_phys(run_pa, run_len))
        return b"".join(out)

    def read_u64_virt(self, addr: int) -> int:
        v: int = struct.unpack(self.endian + "Q", self.read_virt(addr, 8))[0]
        return v

    def close(self) -> None:
        self.source.close()
        self._cache.clear()

    def __enter__(self) -> DumpReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
