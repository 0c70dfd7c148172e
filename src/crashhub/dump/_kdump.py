"""kdump-compressed ("diskdump") files: makedumpfile's default output, and QEMU's kdump-* dumps.

Layout (makedumpfile ``diskdump_mod.h``; crash ``diskdump.c``; libkdumpfile ``diskdump.c``), B = block
size: header at 0, sub-header at B (its fields grow with ``header_version``), ELF notes after it, then
``bitmap_blocks`` blocks of bitmaps (1st half "is RAM", 2nd half "was dumped"), then one 24-byte
``page_desc`` per set bit of the 2nd bitmap in pfn order, then page data.
"""

from __future__ import annotations

import struct

from crashhub.dump import _vmcoreinfo as vmci
from crashhub.dump._base import MAX_NOTES_BYTES, DumpReader, parse_notes
from crashhub.dump._bitmap import Bitmap
from crashhub.dump._source import check_size, decompress_page
from crashhub.errors import DumpFormatError, DumpTruncatedError, ExcludedPageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator

    from crashhub.dump._source import Source

SIGNATURES = (b"KDUMP   ", b"DISKDUMP")
HEADER_SIZE = 464
SUB_HEADER_SIZE = 104
DESC_SIZE = 24
DESC_BLOCK = DESC_SIZE * 128

DUMP_DH_COMPRESSED_ZLIB = 0x1
DUMP_DH_COMPRESSED_LZO = 0x2
DUMP_DH_COMPRESSED_SNAPPY = 0x4
DUMP_DH_COMPRESSED_INCOMPLETE = 0x8
DUMP_DH_EXCLUDED_VMEMMAP = 0x10
DUMP_DH_COMPRESSED_ZSTD = 0x20
CODEC_FLAGS = ((DUMP_DH_COMPRESSED_ZLIB, "zlib"), (DUMP_DH_COMPRESSED_LZO, "lzo"),
               (DUMP_DH_COMPRESSED_SNAPPY, "snappy"), (DUMP_DH_COMPRESSED_ZSTD, "zstd"))

# 2^36 pfns = 256 TiB of 4 KiB pages: a bound on max_mapnr far above any machine.
MAX_MAPNR = 1 << 36
# Bitmaps are read whole; 2 × 512 MiB would be 16 PiB of RAM.  Anything larger is corrupt.
MAX_BITMAP_BYTES = 1 << 30

UTS_FIELDS = ("sysname", "nodename", "release", "version", "machine", "domainname")
MACHINES = {"x86_64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64", "s390x": "s390x",
            "ppc64le": "ppc64", "ppc64": "ppc64", "riscv64": "riscv64"}


class KdumpHeader:
    """disk_dump_header + kdump_sub_header (fields a ``header_version`` lacks keep their defaults)."""

    signature: bytes
    header_version: int
    utsname: dict[str, str]
    timestamp: int
    status: int
    block_size: int
    sub_hdr_size: int
    bitmap_blocks: int
    max_mapnr: int
    nr_cpus: int
    # sub-header (0 / None when header_version is too old to have the field)
    phys_base: int = 0
    dump_level: int | None = None
    split: bool = False
    start_pfn: int = 0
    end_pfn: int = 0
    offset_vmcoreinfo: int = 0
    size_vmcoreinfo: int = 0
    offset_note: int = 0
    size_note: int = 0

    def __init__(self, **fields: object) -> None:
        # Plain class (dataclasses is slow to import); every field must be given or have a default.
        for name in self.__annotations__:
            if name in fields:
                setattr(self, name, fields.pop(name))
            elif not hasattr(type(self), name):
                raise TypeError(f"KdumpHeader needs {name}")
        if fields:
            raise TypeError(f"unknown KdumpHeader fields {sorted(fields)}")


def _cstr(b: bytes) -> str:
    return b.split(b"\0", 1)[0].decode("utf-8", "replace")


def parse_header(source: Source) -> tuple[KdumpHeader, str]:
    """Read and bound-check the header and sub-header; return it with the byte order."""
    path = source.path
    raw = source.pread(0, HEADER_SIZE)
    sig = raw[:8]
    if sig not in SIGNATURES:
        raise DumpFormatError(f"bad kdump signature {sig!r}", path, 0)
    # Byte order is the dumped machine's: take the one whose block size is a plausible page size
    # (as libkdumpfile does).
    endian = ""
    for e in "<>":
        bs = struct.unpack_from(e + "i", raw, 428)[0]
        if 512 <= bs <= 1 << 20 and bs & (bs - 1) == 0:
            endian = e
            break
    if not endian:
        raise DumpFormatError("kdump block_size is not a page size in either byte order", path, 428)
    version = struct.unpack_from(endian + "i", raw, 8)[0]
    uts = {name: _cstr(raw[12 + 65 * i:12 + 65 * (i + 1)]) for i, name in enumerate(UTS_FIELDS)}
    tv_sec = struct.unpack_from(endian + "q", raw, 408)[0]
    status, block_size, sub_hdr_size, bitmap_blocks, max_mapnr32 = struct.unpack_from(
        endian + "IiiII", raw, 424)
    nr_cpus = struct.unpack_from(endian + "i", raw, 460)[0]
    check_size(path, "sub_hdr_size", sub_hdr_size, 1 << 16, 432)
    check_size(path, "header_version", version, 1 << 10, 8)
    fields: dict[str, object] = {}
    if sig == b"KDUMP   ":
        sub = source.pread(block_size, SUB_HEADER_SIZE)
        fields["phys_base"] = struct.unpack_from(endian + "Q", sub, 0)[0]
        if version >= 1:
            fields["dump_level"] = struct.unpack_from(endian + "i", sub, 8)[0]
        if version >= 2:
            split, start, end = struct.unpack_from(endian + "iQQ", sub, 12)
            fields.update(split=bool(split), start_pfn=start, end_pfn=end)
        if version >= 3:
            vmci_at = struct.unpack_from(endian + "QQ", sub, 32)
            fields["offset_vmcoreinfo"], fields["size_vmcoreinfo"] = vmci_at
        if version >= 4:
            fields["offset_note"], fields["size_note"] = struct.unpack_from(endian + "QQ", sub, 48)
    max_mapnr = max_mapnr32
    if sig == b"KDUMP   " and version >= 6:
        start, end, max64 = struct.unpack_from(endian + "QQQ", sub, 80)
        max_mapnr = max64
        if fields.get("split"):
            fields.update(start_pfn=start, end_pfn=end)
    check_size(path, "max_mapnr", max_mapnr, MAX_MAPNR, block_size + 96)
    check_size(path, "bitmap_blocks", bitmap_blocks * block_size, MAX_BITMAP_BYTES, 436)
    if not fields.get("split"):
        fields.update(start_pfn=0, end_pfn=max_mapnr)
    hdr = KdumpHeader(signature=sig, header_version=version, utsname=uts, timestamp=tv_sec, status=status,
                      block_size=block_size, sub_hdr_size=sub_hdr_size, bitmap_blocks=bitmap_blocks,
                      max_mapnr=max_mapnr, nr_cpus=nr_cpus, **fields)
    if hdr.split and not 0 <= hdr.start_pfn <= hdr.end_pfn <= max_mapnr:
        raise DumpFormatError(f"split pfn range {hdr.start_pfn}..{hdr.end_pfn} out of range", path,
                              block_size + 16)
    return hdr, endian


class KdumpDump(DumpReader):
    format = "kdump"

    def __init__(self, source: Source) -> None:
        super().__init__(source)
        path = self.path
        self.header, self.endian = parse_header(source)
        h = self.header
        self.format = "diskdump" if h.signature == b"DISKDUMP" else "split-kdump" if h.split else "kdump"
        self.page_size = h.block_size
        self.arch = MACHINES.get(h.utsname["machine"]) or None
        self.phys_base = h.phys_base if h.signature == b"KDUMP   " else None
        codecs = [name for bit, name in CODEC_FLAGS if h.status & bit]
        self.compression = "+".join(codecs) if codecs else None
        if h.size_note:
            check_size(path, "size_note", h.size_note, MAX_NOTES_BYTES, h.block_size + 56)
            self.notes = parse_notes(source.pread(h.offset_note, h.size_note), path, h.offset_note,
                                     self.endian)
        if h.size_vmcoreinfo:
            check_size(path, "size_vmcoreinfo", h.size_vmcoreinfo, vmci.MAX_VMCOREINFO, h.block_size + 40)
            self.vmcoreinfo = vmci.parse(source.pread(h.offset_vmcoreinfo, h.size_vmcoreinfo))
        else:
            for n in self.notes:
                if n.name == "VMCOREINFO":
                    self.vmcoreinfo = vmci.parse(n.desc)
        if self.arch is None and self.vmcoreinfo.symbol("init_top_pgt") is not None:
            # QEMU's kdump-* header leaves utsname.machine empty (drgn wants --architecture there).
            self.arch = "x86_64"
        bs = h.block_size
        self.bitmap_offset = (1 + h.sub_hdr_size) * bs
        bitmap_len = h.bitmap_blocks * bs
        need = (h.max_mapnr + 7) // 8
        # Two bitmaps when there is room for both (crash / libkdumpfile's rule); old single-bitmap
        # diskdumps use the one for both meanings.
        per = (need + bs - 1) // bs * bs
        if bitmap_len >= 2 * per and per:
            half = bitmap_len // 2
            self._bitmap1 = Bitmap(source, self.bitmap_offset, min(need, half))
            self._bitmap2 = Bitmap(source, self.bitmap_offset + half, min(need, half))
        else:
            if bitmap_len < need:
                raise DumpFormatError(f"bitmaps ({bitmap_len} bytes) too small for {h.max_mapnr} pfns",
                                      path, 436)
            self._bitmap1 = self._bitmap2 = Bitmap(source, self.bitmap_offset, need)
        if self.bitmap_offset + bitmap_len > source.size:
            raise DumpTruncatedError(f"the file ends inside the bitmaps ({bitmap_len} bytes at "
                                     f"{self.bitmap_offset:#x})", path, source.size)
        self.descs_offset = self.bitmap_offset + bitmap_len
        # Descriptors are numbered by set bits of bitmap2; a split file counts from its start_pfn.
        self._base = self._bitmap2.rank(h.start_pfn)
        total = self._bitmap2.rank(h.end_pfn) - self._base
        self.pages_dumped = total
        self._desc_cache: dict[int, bytes] = {}
        self._desc_struct = struct.Struct(self.endian + "qIIQ")
        self._check_complete()
        check_size(path, "page descriptor table end", self.descs_offset + DESC_SIZE * total,
                   1 << 62, 436)

    def _check_complete(self) -> None:
        """makedumpfile killed half way leaves no INCOMPLETE flag: look at the last descriptor."""
        size = self.source.size
        end = self.descs_offset + DESC_SIZE * self.pages_dumped
        if end > size:
            self.incomplete_reasons.append(f"the file ends at {size} bytes, inside the page descriptors "
                                           f"(they end at {end})")
            return
        # Page data is written in pfn order, so the last descriptors point furthest; many of them
        # may share the one zero page, so look at the last few thousand, not just the last.
        n = min(self.pages_dumped, 1024)
        if n:
            tail = self.source.pread(end - DESC_SIZE * n, DESC_SIZE * n)
            for off, psize, _flags, _pf in struct.iter_unpack(self.endian + "qIIQ", tail):
                if off == 0 or off + psize > size:
                    self.incomplete_reasons.append("the last page descriptors point past the data written "
                                                   f"(file ends at {size} bytes)")
                    break

    # -- bitmaps
    def is_ram(self, pfn: int) -> bool:
        return self._bitmap1.bit(pfn)

    def page_present(self, pfn: int) -> bool:
        h = self.header
        return h.start_pfn <= pfn < h.end_pfn and self._bitmap2.bit(pfn)

    def ram_pages(self) -> int:
        return self._bitmap1.count()

    def present_pfns(self) -> list[int]:
        """Every dumped pfn (for tests and sampling; memory ~ 8 bytes per dumped page)."""
        return list(self.iter_present_pfns())

    def iter_present_pfns(self) -> Iterator[int]:
        """The dumped pfns in order, streaming the bitmap."""
        return self._bitmap2.set_bits(self.header.start_pfn, self.header.end_pfn)

    def _rank(self, pfn: int) -> int:
        """Index of ``pfn``'s descriptor: dumped pages below it in this file."""
        return self._bitmap2.rank(pfn) - self._base

    def descriptor(self, pfn: int) -> tuple[int, int, int]:
        """(offset, size, flags) of a dumped page."""
        return self._descriptor(pfn)[:3]

    def _descriptor(self, pfn: int) -> tuple[int, int, int, int]:
        """(offset, size, flags, where the descriptor is).  Descriptors are read 128 at a time: pages
        read together are usually neighbours (a log ring, a page-table walk)."""
        at = self.descs_offset + DESC_SIZE * self._rank(pfn)
        block = at // DESC_BLOCK
        data = self._desc_cache.get(block)
        if data is None:
            start = block * DESC_BLOCK
            data = self.source.pread(start, min(DESC_BLOCK, max(0, self.source.size - start)))
            if len(self._desc_cache) >= 64:
                self._desc_cache.clear()
            self._desc_cache[block] = data
        rel = at - block * DESC_BLOCK
        if rel + DESC_SIZE > len(data):  # a descriptor across two blocks, or past the end of the file
            data = self.source.pread(at, DESC_SIZE)
            rel = 0
        off, size, flags, _pflags = self._desc_struct.unpack_from(data, rel)
        return off, size, flags, at

    def _load_page(self, pfn: int) -> bytes:
        h = self.header
        ps = self.page_size
        if pfn < 0 or pfn >= h.max_mapnr:
            raise ExcludedPageError(f"pfn {pfn:#x} is beyond max_mapnr {h.max_mapnr:#x}", self.path, pfn=pfn)
        if not h.start_pfn <= pfn < h.end_pfn:
            raise ExcludedPageError(f"pfn {pfn:#x} is in another part of this split dump", self.path, pfn=pfn)
        if not self._bitmap2.bit(pfn):
            what = "was excluded (dump level)" if self._bitmap1.bit(pfn) else "is not RAM"
            raise ExcludedPageError(f"pfn {pfn:#x} {what}", self.path, pfn=pfn)
        off, size, flags, where = self._descriptor(pfn)
        if off == 0:
            # makedumpfile leaves the descriptor zeroed when it ran out of space (crash: "incomplete").
            raise ExcludedPageError(f"pfn {pfn:#x} was not written (incomplete dump)", self.path, where, pfn)
        if off < 0 or size == 0 or size > ps:
            raise DumpFormatError(f"page descriptor of pfn {pfn:#x}: offset {off:#x} size {size}",
                                  self.path, where)
        data = self.source.pread(off, size)
        codec = None
        for bit, name in CODEC_FLAGS:
            if flags & bit:
                codec = name
                break
        if codec is None:
            if size != ps:
                raise DumpFormatError(f"raw page of pfn {pfn:#x} has size {size}", self.path, where)
            return data
        return decompress_page(codec, data, ps, self.path, off)
