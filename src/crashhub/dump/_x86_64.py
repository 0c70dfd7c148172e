"""x86_64 kernel virtual → physical translation by walking the kernel's page tables.

As makedumpfile does (``arch/x86_64.c``): start at ``SYMBOL(init_top_pgt) - __START_KERNEL_map +
phys_base`` (``init_level4_pgt`` before Linux 4.13), walk 4 or 5 levels by ``NUMBER(pgtable_l5_enabled)``
(VMCOREINFO since 4.14), mask entries with ``~0xfff0000000000fff`` and ``~NUMBER(sme_mask)`` (AMD SME,
4.14), stop at 1 GiB / 2 MiB pages.  SYMBOL values already carry the KASLR shift.  No direct-map
constants are used: they are wrong under memory KASLR.
"""

from __future__ import annotations

import struct

from crashhub.errors import DumpFormatError, TranslationError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from crashhub.dump._vmcoreinfo import VmcoreInfo

    ReadPhys = Callable[[int, int], bytes]

START_KERNEL_MAP = 0xFFFFFFFF80000000
ENTRY_MASK = ~0xFFF0000000000FFF & ((1 << 64) - 1)
PRESENT = 0x1
PSE = 0x80

class Walker:
    """Translates kernel virtual addresses of one dump; caches the last few thousand pages."""

    def __init__(self, pgd: int, levels: int, sme_mask: int, read_phys: ReadPhys, path: str) -> None:
        self.pgd = pgd
        self.levels = levels
        self.mask = ENTRY_MASK & ~sme_mask
        self._read = read_phys
        self.path = path
        self._cache: dict[int, int] = {}  # 4 KiB page number -> physical page
        self._pmd: dict[int, int] = {}  # 2 MiB page number -> physical base
        self._pud: dict[int, int] = {}  # 1 GiB page number -> physical base

    @classmethod
    def from_vmcoreinfo(cls, info: VmcoreInfo, phys_base: int | None, read_phys: ReadPhys,
                        path: str) -> Walker:
        top = info.symbol("init_top_pgt")
        if top is None:
            top = info.symbol("init_level4_pgt")
        if top is None:
            raise DumpFormatError("VMCOREINFO has no SYMBOL(init_top_pgt): cannot walk page tables", path)
        pb = info.number("phys_base")
        if pb is None:
            pb = phys_base if phys_base is not None else 0
        levels = 5 if info.number("pgtable_l5_enabled") == 1 else 4
        return cls(top - START_KERNEL_MAP + pb, levels, info.number("sme_mask") or 0, read_phys, path)

    def _entry(self, table: int, index: int) -> int:
        v: int = struct.unpack("<Q", self._read(table + 8 * index, 8))[0]
        return v

    def translate(self, vaddr: int) -> int:
        page = vaddr >> 12
        hit = self._cache.get(page)
        if hit is not None:
            return hit | (vaddr & 0xFFF)
        # The kernel image and the direct map use 2 MiB / 1 GiB pages: one walk answers for all of
        # such a page (a 128 KiB printk ring is then one walk, not 32).
        for shift, cache in ((21, self._pmd), (30, self._pud)):
            base = cache.get(vaddr >> shift)
            if base is not None:
                return base | (vaddr & ((1 << shift) - 1))
        paddr, shift = self._walk(vaddr)
        if shift == 12:
            if len(self._cache) >= 8192:
                self._cache.clear()
            self._cache[page] = paddr & ~0xFFF
        else:
            cache = self._pmd if shift == 21 else self._pud
            if len(cache) >= 8192:
                cache.clear()
            cache[vaddr >> shift] = paddr & ~((1 << shift) - 1)
        return paddr

    def _walk(self, vaddr: int) -> tuple[int, int]:
        """(physical address, page shift) of ``vaddr``."""
        vaddr &= (1 << 64) - 1
        table = self.pgd
        shifts = (48, 39, 30, 21, 12) if self.levels == 5 else (39, 30, 21, 12)
        for level, shift in enumerate(shifts):
            e = self._entry(table, (vaddr >> shift) & 0x1FF)
            if not e & PRESENT:
                raise TranslationError(f"virtual address {vaddr:#x} is not mapped "
                                       f"(level {len(shifts) - level} entry {e:#x})", self.path,
                                       address=vaddr)
            base = e & self.mask
            if shift in (30, 21) and e & PSE:
                # 1 GiB (PUD) or 2 MiB (PMD) page.
                return (base & ~((1 << shift) - 1)) | (vaddr & ((1 << shift) - 1)), shift
            table = base
        return table | (vaddr & 0xFFF), 12
