"""The parts of a ``makedumpfile --split`` dump (vmcore.1 … vmcore.N) read as one dump.

Each part is a complete kdump file (header, both bitmaps, VMCOREINFO) whose descriptors and pages
cover only its own pfn range, ``start_pfn_64 .. end_pfn_64`` in the sub-header (header_version 6;
``start_pfn``/``end_pfn`` before).  crash opens them together the same way (``diskdump.c``).
"""

from __future__ import annotations

import bisect
import itertools
import os

from crashhub.dump._base import DumpReader
from crashhub.dump._detect import open_dump
from crashhub.dump._kdump import KdumpDump
from crashhub.errors import DumpFormatError, ExcludedPageError


class SplitDump(DumpReader):
    format = "split-kdump"

    def __init__(self, parts: list[KdumpDump]) -> None:
        if not parts:
            raise DumpFormatError("no parts given for a split dump")
        parts = sorted(parts, key=lambda p: p.header.start_pfn)
        first = parts[0]
        super().__init__(first.source)
        self.path = ", ".join(p.path for p in parts)
        for p in parts:
            h = p.header
            if not h.split:
                raise DumpFormatError("not a part of a split dump", p.path, first.page_size + 12)
            if h.max_mapnr != first.header.max_mapnr or p.vmcoreinfo.raw != first.vmcoreinfo.raw:
                raise DumpFormatError(f"a part of another dump than {first.path}", p.path)
        for a, b in itertools.pairwise(parts):
            if b.header.start_pfn < a.header.end_pfn:
                raise DumpFormatError(f"pfn ranges of {a.path} and {b.path} overlap", b.path)
        self.parts = parts
        self._starts = [p.header.start_pfn for p in parts]
        self.page_size, self.arch, self.endian = first.page_size, first.arch, first.endian
        self.vmcoreinfo, self.notes, self.phys_base = first.vmcoreinfo, first.notes, first.phys_base
        self.compression = first.compression
        self.incomplete_reasons = [r for p in parts for r in p.incomplete_reasons]

    def _part(self, pfn: int) -> KdumpDump | None:
        i = bisect.bisect_right(self._starts, pfn) - 1
        if i >= 0 and pfn < self.parts[i].header.end_pfn:
            return self.parts[i]
        return None

    def page_present(self, pfn: int) -> bool:
        part = self._part(pfn)
        return part is not None and part.page_present(pfn)

    def _load_page(self, pfn: int) -> bytes:
        part = self._part(pfn)
        if part is None:
            raise ExcludedPageError(f"pfn {pfn:#x} is in none of the parts given", self.path, pfn=pfn)
        return part.read_page(pfn)

    def close(self) -> None:
        for p in self.parts:
            p.close()
        self._cache.clear()


def open_split(paths: list[str | os.PathLike[str]]) -> SplitDump:
    """Open the parts of a split dump together (any order); close the result."""
    parts: list[KdumpDump] = []
    try:
        for path in paths:
            d = open_dump(path)
            if not isinstance(d, KdumpDump):
                d.close()
                raise DumpFormatError(f"a {d.format} file is not a part of a split dump", str(path))
            parts.append(d)
        return SplitDump(parts)
    except BaseException:
        for d in parts:
            d.close()
        raise
