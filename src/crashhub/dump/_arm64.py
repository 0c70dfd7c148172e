"""arm64 kernel virtual → physical translation by walking ``swapper_pg_dir``.

VMCOREINFO (``arch/arm64/kernel/vmcore_info.c``, Linux 4.19+ for kimage_voffset/PHYS_OFFSET, 5.11+ for
TCR_EL1_T1SZ): ``NUMBER(VA_BITS)``, ``NUMBER(kimage_voffset)`` (kernel image va − pa),
``NUMBER(TCR_EL1_T1SZ)`` (the kernel's real VA size is 64 − T1SZ, e.g. 48 on a 52-bit build without
LVA hardware) and ``SYMBOL(swapper_pg_dir)``, a kernel-image symbol: its physical address is
``sym − kimage_voffset``.  Granule from VMCOREINFO ``PAGESIZE`` (4, 16 or 64 KiB); each level resolves
``page_shift − 3`` bits; descriptors: bit 0 valid, bit 1 table/page (1) or block (0, levels above the
last); output address bits [47:page_shift].  52-bit physical addresses (LPA/LPA2) are not decoded.
"""

from __future__ import annotations

import struct

from crashhub.errors import DumpFormatError, TranslationError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from crashhub.dump._vmcoreinfo import VmcoreInfo

    ReadPhys = Callable[[int, int], bytes]

OA_MASK = (1 << 48) - 1


class Arm64Walker:
    def __init__(self, pgd: int, va_bits: int, page_shift: int, read_phys: ReadPhys, path: str) -> None:
        if page_shift not in (12, 14, 16) or not 36 <= va_bits <= 52:
            raise DumpFormatError(f"unsupported arm64 layout: VA_BITS {va_bits}, page shift {page_shift}",
                                  path)
        self.pgd = pgd
        self.va_bits = va_bits
        self.page_shift = page_shift
        bits = page_shift - 3
        self.levels = -(-(va_bits - page_shift) // bits)
        self._read = read_phys
        self.path = path
        self._cache: dict[int, int] = {}

    @classmethod
    def from_vmcoreinfo(cls, info: VmcoreInfo, read_phys: ReadPhys, path: str) -> Arm64Walker:
        pgd = info.symbol("swapper_pg_dir")
        voff = info.number("kimage_voffset")
        va_bits = info.number("VA_BITS")
        if pgd is None or voff is None or va_bits is None:
            raise DumpFormatError("VMCOREINFO lacks SYMBOL(swapper_pg_dir), NUMBER(kimage_voffset) or "
                                  "NUMBER(VA_BITS): cannot walk arm64 page tables", path)
        t1sz = info.number("TCR_EL1_T1SZ")
        if t1sz:
            va_bits = 64 - t1sz  # what the MMU really uses (52-bit kernels on 48-bit hardware)
        page = info.page_size or 4096
        return cls((pgd - voff) & OA_MASK, va_bits, page.bit_length() - 1, read_phys, path)

    def translate(self, vaddr: int) -> int:
        ps = self.page_shift
        page = vaddr >> ps
        hit = self._cache.get(page)
        if hit is not None:
            return hit | (vaddr & ((1 << ps) - 1))
        paddr = self._walk(vaddr)
        if len(self._cache) >= 8192:
            self._cache.clear()
        self._cache[page] = paddr & ~((1 << ps) - 1)
        return paddr

    def _walk(self, vaddr: int) -> int:
        ps = self.page_shift
        bits = ps - 3
        out_mask = OA_MASK & ~((1 << ps) - 1)
        table = self.pgd
        for level in range(self.levels):
            shift = ps + bits * (self.levels - 1 - level)
            width = min(bits, self.va_bits - shift)  # the top level may resolve fewer bits
            index = (vaddr >> shift) & ((1 << width) - 1)
            desc: int = struct.unpack("<Q", self._read(table + 8 * index, 8))[0]
            last = level == self.levels - 1
            if not desc & 1:
                raise TranslationError(f"virtual address {vaddr:#x} is not mapped (level {level} "
                                       f"descriptor {desc:#x})", self.path, address=vaddr)
            if not last and not desc & 2:  # a block: 1 GiB / 2 MiB (4 KiB granule), 32 MiB, 512 MiB...
                base = desc & out_mask & ~((1 << shift) - 1)
                return base | (vaddr & ((1 << shift) - 1))
            table = desc & out_mask
        return table | (vaddr & ((1 << ps) - 1))
