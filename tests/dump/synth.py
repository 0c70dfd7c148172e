"""Build small synthetic x86_64 vmcores from the documented layouts (formats.md §1–4).

Nothing here comes from a real kernel: a few MiB of "RAM" with real 4-level page tables (1 GiB, 2 MiB
and 4 KiB mappings), a kernel log in any of the three printk layouts, VMCOREINFO, CPU notes, written
out as ELF (kexec-style, or makedumpfile -E style with p_filesz < p_memsz), kdump-compressed (any
codec, any dump level), or flattened (records in any order and size).  The same method was checked
against drgn/libkdumpfile and makedumpfile -R (formats.md, "Checked here"); the tests cross-check the
output again with those tools where they are installed.  (``recompress`` alone takes a real dump: it
writes a crash-lab kdump file's pages again in another codec.)
"""

from __future__ import annotations

import os
import random
import struct
import zlib
from dataclasses import dataclass, field

PAGE = 4096
START_KERNEL_MAP = 0xFFFFFFFF80000000
DIRECT_MAP = 0xFFFF888000000000
VMALLOC = 0xFFFFC90000000000
X86_64_REGS = 27


@dataclass
class Machine:
    ram_pages: int = 2048  # 8 MiB
    phys_base: int = 0x200000
    kaslr: int = 0x1C000000  # kernel text shift (must keep text inside RAM via phys_base)
    hole: tuple[int, int] = (0x9F, 0x100)  # a not-RAM pfn range (legacy VGA hole)
    release: str = "6.1.0-56-cloud-amd64"
    hostname: str = "synth-host"
    version: str = "#1 SMP PREEMPT_DYNAMIC Debian 6.1.192-2"
    build_id: str = "0123456789abcdef0123456789abcdef01234567"
    crash_time: int = 1764130000
    mem: dict[int, bytearray] = field(default_factory=dict)
    symbols: dict[str, int] = field(default_factory=dict)
    vmci_extra: list[str] = field(default_factory=list)
    next_free: int = 0x400  # pfn allocator for page tables / data
    cpus: list[tuple[int, list[int]]] = field(default_factory=list)  # (pid, regs)
    levels: int = 4  # 5: LA57 paging (NUMBER(pgtable_l5_enabled)=1, direct map at 0xff11000000000000)
    direct_map: int = DIRECT_MAP
    arch: str = "x86_64"  # or "aarch64": 4 KiB granule, 48-bit VA (the same index layout as x86_64)

    # -- physical memory
    def is_ram(self, pfn: int) -> bool:
        return 0 <= pfn < self.ram_pages and not self.hole[0] <= pfn < self.hole[1]

    def write_phys(self, addr: int, data: bytes) -> None:
        while data:
            pfn, off = divmod(addr, PAGE)
            assert self.is_ram(pfn), hex(addr)
            n = min(len(data), PAGE - off)
            self.mem.setdefault(pfn, bytearray(PAGE))[off:off + n] = data[:n]
            data = data[n:]
            addr += n

    def read_phys(self, addr: int, n: int) -> bytes:
        out = bytearray()
        while n:
            pfn, off = divmod(addr, PAGE)
            k = min(n, PAGE - off)
            out += self.mem.get(pfn, bytes(PAGE))[off:off + k]
            addr += k
            n -= k
        return bytes(out)

    def alloc(self, pages: int = 1) -> int:
        pfn = self.next_free
        self.next_free += pages
        assert self.next_free < self.ram_pages
        for p in range(pfn, pfn + pages):
            self.mem.setdefault(p, bytearray(PAGE))
        return pfn * PAGE

    # -- page tables
    def build_page_tables(self) -> None:
        # init_top_pgt lives in the kernel image: its physical address is sym - map + phys_base.
        self.text_va = START_KERNEL_MAP + self.kaslr
        self.pgd_pa = self.phys_base + 0x10000
        self.symbols["swapper_pg_dir"] = self.pgd_pa - self.phys_base + START_KERNEL_MAP
        if self.arch == "x86_64":
            self.symbols["init_top_pgt"] = self.symbols["swapper_pg_dir"]  # the same table on x86_64
        self.mem.setdefault(self.pgd_pa // PAGE, bytearray(PAGE))
        # Direct map: one 1 GiB page at DIRECT_MAP -> 0 (PUD with PSE).
        if self.levels == 5:
            self.direct_map = 0xFF11000000000000
        self._map(self.direct_map, 0, level_stop=2)
        # Kernel text: 2 MiB pages map START_KERNEL_MAP + x -> phys_base + x, for the first 4 MiB.
        for i in range(2):
            self._map(START_KERNEL_MAP + i * (2 << 20), self.phys_base + i * (2 << 20), level_stop=3)
        self.vmalloc_next = VMALLOC

    def _table(self, table_pa: int, index: int) -> int:
        e = struct.unpack("<Q", self.read_phys(table_pa + 8 * index, 8))[0]
        if e & 1:
            return e & 0x000FFFFFFFFFF000
        new = self.alloc()
        # Present|RW plus NX and some high "software" bits that must be masked off by readers.
        # x86: Present|RW|A|D plus NX; arm64: a table descriptor (0b11) plus NSTable; the high bits
        # are attributes that readers must mask off.
        flags = 0x63 | (1 << 63) if self.arch == "x86_64" else 0x3 | (1 << 63)
        self.write_phys(table_pa + 8 * index, struct.pack("<Q", new | flags))
        return new

    def _map(self, va: int, pa: int, level_stop: int) -> None:
        """level_stop: 2 = 1 GiB page in the PUD, 3 = 2 MiB page in the PMD, 4 = 4 KiB page in the PTE
        (counted below the P4D with 5 levels)."""
        t = self.pgd_pa
        if self.levels == 5:
            t = self._table(t, (va >> 48) & 0x1FF)
        for level, shift in enumerate((39, 30, 21, 12), start=1):
            idx = (va >> shift) & 0x1FF
            if level == level_stop:
                if self.arch == "x86_64":
                    flags = 0x63 | (1 << 63) | (0x80 if level in (2, 3) else 0)  # PSE for large pages
                else:  # arm64: block (0b01) above the last level, page (0b11) at it; AF, UXN
                    flags = (0x1 if level in (2, 3) else 0x3) | 0x400 | (1 << 54)
                self.write_phys(t + 8 * idx, struct.pack("<Q", pa | flags))
                return
            t = self._table(t, idx)

    def vmalloc(self, data: bytes) -> int:
        """Copy ``data`` into fresh, physically scattered pages mapped with 4 KiB PTEs; return the va."""
        va = self.vmalloc_next
        npages = (len(data) + PAGE - 1) // PAGE
        self.vmalloc_next += (npages + 1) * PAGE
        for i in range(npages):
            pa = self.alloc()
            self.alloc()  # leave a gap so the pages are not contiguous
            self._map(va + i * PAGE, pa, level_stop=4)
            self.write_phys(pa, data[i * PAGE:(i + 1) * PAGE])
        return va

    def kdata(self, data: bytes, align: int = 64) -> int:
        """Place ``data`` in the kernel image's data (text mapping); return its kernel va."""
        off = getattr(self, "_kdata_off", 0x20000)
        off = (off + align - 1) // align * align
        self._kdata_off = off + len(data)
        self.write_phys(self.phys_base + off, data)
        return START_KERNEL_MAP + off

    def direct(self, data: bytes) -> int:
        """Place ``data`` in fresh contiguous pages, addressed through the direct map."""
        pa = self.alloc((len(data) + PAGE - 1) // PAGE)
        self.write_phys(pa, data)
        return self.direct_map + pa

    def uts(self, kref: bool = False) -> None:
        """init_uts_ns: before Linux 5.11 a 4-byte kref came first and VMCOREINFO had no offset."""
        fields = [b"Linux", self.hostname.encode(), self.release.encode(), self.version.encode(),
                  self.arch.encode(), b"(none)"]
        name = b"".join(f.ljust(65, b"\0") for f in fields)
        self.symbols["init_uts_ns"] = self.kdata((b"\1\0\0\0" if kref else b"") + name + bytes(16))
        if not kref:
            self.vmci_extra.append("OFFSET(uts_namespace.name)=0")

    def vmcoreinfo(self) -> bytes:
        lines = [f"OSRELEASE={self.release}", f"BUILD-ID={self.build_id}", f"PAGESIZE={PAGE}"]
        lines += [f"SYMBOL({k})={v:x}" for k, v in self.symbols.items()]
        if self.arch == "x86_64":
            lines += [f"NUMBER(phys_base)={self.phys_base}",
                      f"NUMBER(pgtable_l5_enabled)={int(self.levels == 5)}", "NUMBER(sme_mask)=0",
                      f"KERNELOFFSET={self.kaslr:x}"]
        else:  # arch/arm64/kernel/vmcore_info.c: the kernel image's va - pa, written in hex
            lines += ["NUMBER(VA_BITS)=48", f"NUMBER(kimage_voffset)={START_KERNEL_MAP - self.phys_base:#x}",
                      "NUMBER(PHYS_OFFSET)=0x0", f"KERNELOFFSET={self.kaslr:x}", "NUMBER(TCR_EL1_T1SZ)=0x10"]
        lines += self.vmci_extra
        lines.append(f"CRASHTIME={self.crash_time}")
        return ("\n".join(lines) + "\n").encode()


# --------------------------------------------------------------------------- printk layouts

def lockless_log(m: Machine, records: list[tuple[int, int, bytes]], count_bits: int = 5,
                 size_bits: int = 10, caller: bool = True) -> None:
    """The 5.10+ ring (kernel/printk/printk_ringbuffer.c), records (ts_nsec, caller_id, text),
    written as the kernel writes them, so old records are overwritten when the rings wrap."""
    count, size = 1 << count_bits, 1 << size_bits
    desc_size, info_size = 24, 88
    descs = bytearray(desc_size * count)
    infos = bytearray(info_size * count)
    data = bytearray(size)
    lpos = 0
    first_id = count  # ids start past the first wrap, as the kernel's initial DESC0_ID does
    tail = first_id
    # live data blocks: id -> (begin, next)
    live: dict[int, tuple[int, int]] = {}
    for n, (ts, cid, text) in enumerate(records):
        rid = first_id + n
        need = (8 + len(text) + 7) // 8 * 8
        begin = lpos
        if begin % size + need > size:  # does not fit before the end: data goes to the next wrap's start
            nxt = (begin // size + 1) * size + need
            start = 0
        else:
            nxt = begin + need
            start = begin % size
        lpos = nxt
        # push the tail past blocks and descriptors being overwritten
        while live and (min(live) + count <= rid or live[min(live)][0] + size < nxt):
            old = min(live)
            del live[old]
            tail = old + 1
        live[rid] = (begin, nxt)
        data[start:start + 8] = struct.pack("<Q", rid)
        data[start + 8:start + 8 + len(text)] = text
        d = (rid % count) * desc_size
        struct.pack_into("<QQQ", descs, d, (2 << 62) | rid, begin, nxt)
        i = (rid % count) * info_size
        struct.pack_into("<QQHBB", infos, i, n, ts, len(text), 0, 6)  # seq, ts, text_len, facility, flags
        struct.pack_into("<I", infos, i + 20, cid)
    head = first_id + len(records) - 1
    descs_va, infos_va, data_va = m.vmalloc(bytes(descs)), m.direct(bytes(infos)), m.vmalloc(bytes(data))
    # struct printk_ringbuffer: desc_ring {count_bits u32, descs, infos, head_id, tail_id, last_finalized}
    # at 0 (48 bytes), text_data_ring {size_bits u32, data, head_lpos, tail_lpos} at 48, fail at 80.
    prb = struct.pack("<I4xQQQQQ", count_bits, descs_va, infos_va, head, tail, head)
    prb += struct.pack("<I4xQQQ", size_bits, data_va, lpos, 0) + bytes(8)
    prb_va = m.kdata(prb)
    m.symbols["prb"] = m.kdata(struct.pack("<Q", prb_va))
    m.vmci_extra += [
        "SIZE(printk_ringbuffer)=88", "OFFSET(printk_ringbuffer.desc_ring)=0",
        "OFFSET(printk_ringbuffer.text_data_ring)=48", "OFFSET(printk_ringbuffer.fail)=80",
        "OFFSET(prb_desc_ring.count_bits)=0", "OFFSET(prb_desc_ring.descs)=8",
        "OFFSET(prb_desc_ring.infos)=16", "OFFSET(prb_desc_ring.head_id)=24",
        "OFFSET(prb_desc_ring.tail_id)=32", "SIZE(prb_desc)=24", "OFFSET(prb_desc.state_var)=0",
        "OFFSET(prb_desc.text_blk_lpos)=8", "OFFSET(prb_data_blk_lpos.begin)=0",
        "OFFSET(prb_data_blk_lpos.next)=8", "SIZE(printk_info)=88", "OFFSET(printk_info.seq)=0",
        "OFFSET(printk_info.ts_nsec)=8", "OFFSET(printk_info.text_len)=16",
        "OFFSET(prb_data_ring.size_bits)=0", "OFFSET(prb_data_ring.data)=8",
        "OFFSET(atomic_long_t.counter)=0",
    ]
    if caller:
        m.vmci_extra.append("OFFSET(printk_info.caller_id)=20")


def printk_log(m: Machine, records: list[tuple[int, int, bytes]], buf_len: int = 2048,
               struct_name: str = "printk_log", caller: bool = False) -> None:
    """Linux 3.5–5.9 records: struct printk_log {u64 ts_nsec; u16 len, text_len, dict_len; u8 facility,
    flags:5, level:3; [u32 caller_id]} (16 bytes, 20 → 24 with caller_id), text, dict, padded to 8.
    A record that does not fit at the end leaves a zero-length marker and goes to index 0."""
    hsize = 24 if caller else 16
    buf = bytearray(buf_len)
    nxt = 0
    live: list[tuple[int, int]] = []  # (index, len) in chain order, oldest first

    def drop(lo: int, hi: int) -> None:
        while live and live[0][0] < hi and lo < live[0][0] + live[0][1]:
            live.pop(0)

    for ts, cid, text in records:
        size = (hsize + len(text) + 7) // 8 * 8
        if nxt + size + hsize > buf_len:
            # No room before the end: a zero-length header marks the wrap, the record goes to 0.
            drop(nxt, nxt + hsize)
            buf[nxt:nxt + hsize] = bytes(hsize)
            nxt = 0
        drop(nxt, nxt + size)
        rec = struct.pack("<QHHHBB", ts, size, len(text), 0, 0, 6)
        if caller:
            rec += struct.pack("<I", cid) + bytes(4)
        buf[nxt:nxt + size] = (rec + text).ljust(size, b"\0")
        live.append((nxt, size))
        nxt += size
    first = live[0][0] if live else nxt
    m.symbols["log_buf"] = m.kdata(struct.pack("<Q", m.direct(bytes(buf))))
    m.symbols["log_buf_len"] = m.kdata(struct.pack("<i", buf_len))
    m.symbols["log_first_idx"] = m.kdata(struct.pack("<I", first))
    m.symbols["log_next_idx"] = m.kdata(struct.pack("<I", nxt))
    s = struct_name
    m.vmci_extra += [f"SIZE({s})={hsize}", f"OFFSET({s}.ts_nsec)=0", f"OFFSET({s}.len)=8",
                     f"OFFSET({s}.text_len)=10"]
    if caller:
        m.vmci_extra.append(f"OFFSET({s}.caller_id)=16")


def char_ring(m: Machine, text: bytes, buf_len: int = 1024) -> None:
    """Before 3.5: log_buf is a plain ring of characters; log_end counts every byte ever written."""
    buf = bytearray(buf_len)
    for i, b in enumerate(text):
        buf[i % buf_len] = b
    m.symbols["log_buf"] = m.kdata(struct.pack("<Q", m.direct(bytes(buf))))
    m.symbols["log_buf_len"] = m.kdata(struct.pack("<i", buf_len))
    m.symbols["log_end"] = m.kdata(struct.pack("<I", len(text)))
    m.symbols["logged_chars"] = m.kdata(struct.pack("<I", min(len(text), buf_len)))


# --------------------------------------------------------------------------- notes and files

def note(name: bytes, ntype: int, desc: bytes) -> bytes:
    name0 = name + b"\0"
    return (struct.pack("<III", len(name0), len(desc), ntype) + name0.ljust((len(name0) + 3) // 4 * 4, b"\0")
            + desc.ljust((len(desc) + 3) // 4 * 4, b"\0"))


def prstatus(pid: int, regs: list[int]) -> bytes:
    """elf_prstatus: pid at 32, pr_reg at 112 (27 registers on x86_64, 34 on arm64)."""
    d = bytearray(336)
    struct.pack_into("<i", d, 32, pid)
    d = d.ljust(112 + 8 * len(regs) + 8, b"\0")
    struct.pack_into(f"<{len(regs)}Q", d, 112, *regs)
    return bytes(d)


def notes_blob(m: Machine, qemu: bool = False) -> bytes:
    out = b"".join(note(b"CORE", 1, prstatus(pid, regs)) for pid, regs in m.cpus)
    if qemu:
        out += b"".join(note(b"QEMU", 0, bytes(0x1B8)) for _ in m.cpus)
    return out + note(b"VMCOREINFO", 0, m.vmcoreinfo())


def ram_ranges(m: Machine) -> list[tuple[int, int]]:
    """(start pfn, end pfn) of RAM."""
    out, start = [], None
    for pfn in range(m.ram_pages + 1):
        if m.is_ram(pfn) and pfn < m.ram_pages:
            if start is None:
                start = pfn
        elif start is not None:
            out.append((start, pfn))
            start = None
    return out


def to_elf(m: Machine, excluded: set[int] = frozenset(), qemu: bool = False,  # type: ignore[assignment]
           text_load: bool = True) -> bytes:
    """kexec/makedumpfile-style ELF64 core.  Excluded pfns at the end of a range become
    p_filesz < p_memsz; elsewhere the range is split (as makedumpfile -E does)."""
    notes = notes_blob(m, qemu)
    segs: list[tuple[int, int, int]] = []  # (paddr, filesz, memsz)
    for s, e in ram_ranges(m):
        p = s
        while p < e:
            q = p
            while q < e and q not in excluded:
                q += 1
            r = q
            while r < e and r in excluded:
                r += 1
            segs.append((p * PAGE, (q - p) * PAGE, (r - p) * PAGE))
            p = r
    loads = []
    if text_load and m.arch == "x86_64":
        loads.append((START_KERNEL_MAP, m.phys_base, 4 << 20, 4 << 20))
    loads += [(m.direct_map + pa, pa, fs, ms) for pa, fs, ms in segs]
    nph = 1 + len(loads)
    phoff = 192 if qemu else 64  # QEMU 7.2 puts the program headers after a section header
    data_off = phoff + 56 * nph
    out = bytearray(struct.pack("<4sBBBBB7sHHIQQQIHHHHHH", b"\x7fELF", 2, 1, 1, 0, 0, bytes(7), 4,
                                62 if m.arch == "x86_64" else 183, 1, 0,
                                phoff, 0, 0, 64, 56, nph, 0, 0, 0))
    out = out.ljust(phoff, b"\0")
    body = bytearray(notes)
    table = [struct.pack("<IIQQQQQQ", 4, 0, data_off, 0, 0, len(notes), len(notes), 0)]
    for vaddr, paddr, fs, ms in loads:
        off = data_off + len(body)
        table.append(struct.pack("<IIQQQQQQ", 1, 7, off, vaddr, paddr, fs, ms, PAGE))
        body += m.read_phys(paddr, fs)
    out += b"".join(table)
    out += body
    return bytes(out)


def _compress(codec: str, page: bytes) -> tuple[bytes, int]:
    if codec == "zlib":
        return zlib.compress(page), 0x1
    if codec == "lzo":
        from lzallright import LZOCompressor  # noqa: PLC0415

        return LZOCompressor().compress(page), 0x2
    if codec == "snappy":
        import cramjam  # noqa: PLC0415

        return bytes(cramjam.snappy.compress_raw(page)), 0x4
    if codec == "zstd":
        import zstandard  # noqa: PLC0415

        return zstandard.ZstdCompressor(level=1).compress(page), 0x20
    raise ValueError(codec)


def to_kdump(m: Machine, codec: str = "zlib", dump_level: int = 1,  # noqa: PLR0917
             excluded: set[int] = frozenset(),  # type: ignore[assignment]
             status_extra: int = 0, nr_cpus: int | None = None, split: tuple[int, int] | None = None,
             uts: bool = True) -> bytes:
    """makedumpfile-style kdump-compressed file (header_version 6)."""
    bs = PAGE
    max_mapnr = m.ram_pages
    notes = notes_blob(m)
    vmci = m.vmcoreinfo()
    sub_len = 104 + len(notes)
    sub_hdr_size = (sub_len + bs - 1) // bs
    bm_bytes = (max_mapnr + 7) // 8
    per = (bm_bytes + bs - 1) // bs
    bitmap_blocks = 2 * per
    bm1 = bytearray(per * bs)
    bm2 = bytearray(per * bs)
    lo, hi = split if split else (0, max_mapnr)
    for pfn in range(max_mapnr):
        if m.is_ram(pfn):
            bm1[pfn >> 3] |= 1 << (pfn & 7)
            if pfn not in excluded:
                bm2[pfn >> 3] |= 1 << (pfn & 7)
    dumped = [p for p in range(max_mapnr) if bm2[p >> 3] & (1 << (p & 7)) and lo <= p < hi]
    descs_off = (1 + sub_hdr_size + bitmap_blocks) * bs
    data_off = descs_off + 24 * len(dumped)
    descs = bytearray()
    data = bytearray()
    codec_flag = _compress(codec, bytes(bs))[1]
    zero_at = None
    if dump_level & 1:
        # makedumpfile writes one shared zero page first; every zero page points at it.
        zero_at = (data_off, *_compress(codec, bytes(bs)))
        data += zero_at[1]
    for pfn in dumped:
        page = bytes(m.mem.get(pfn, bytes(bs)))
        if zero_at is not None and not any(page):
            descs += struct.pack("<qIIQ", zero_at[0], len(zero_at[1]), zero_at[2], 0)
            continue
        comp, flag = _compress(codec, page)
        if len(comp) >= bs:
            comp, flag = page, 0  # stored raw when compression does not help
        descs += struct.pack("<qIIQ", data_off + len(data), len(comp), flag, 0)
        data += comp
    hdr = bytearray(bs)
    hdr[0:8] = b"KDUMP   "
    struct.pack_into("<i", hdr, 8, 6)
    if uts:
        for i, f in enumerate([b"Linux", m.hostname.encode(), m.release.encode(), m.version.encode(),
                               m.arch.encode(), b"(none)"]):
            hdr[12 + 65 * i:12 + 65 * i + len(f)] = f
    struct.pack_into("<qq", hdr, 408, m.crash_time + 5, 0)
    struct.pack_into("<IiiIIIIIIi", hdr, 424, codec_flag | status_extra, bs, sub_hdr_size, bitmap_blocks,
                     min(max_mapnr, 0xFFFFFFFF), 0, 0, 0, 0, nr_cpus if nr_cpus is not None else len(m.cpus))
    sub = bytearray(sub_hdr_size * bs)
    off_note = bs + 104
    vmci_in_notes = notes.index(b"VMCOREINFO\0\0") + 12
    struct.pack_into("<QiiQQQQQQQQQQQ", sub, 0, m.phys_base, dump_level, 1 if split else 0,
                     lo if split else 0, hi if split else 0,
                     off_note + vmci_in_notes, len(vmci), off_note, len(notes), 0, 0,
                     lo, hi, max_mapnr)
    sub[104:104 + len(notes)] = notes
    return bytes(hdr + sub + bm1 + bm2 + descs + data)


def to_diskdump(m: Machine) -> bytes:
    """The old diskdump format (signature "DISKDUMP"): no sub-header, no notes, no VMCOREINFO, one
    bitmap of dumped pages (crash reads it as both bitmaps), zlib pages."""
    bs = PAGE
    per = ((m.ram_pages + 7) // 8 + bs - 1) // bs
    bm = bytearray(per * bs)
    dumped = [pfn for pfn in range(m.ram_pages) if m.is_ram(pfn)]
    for pfn in dumped:
        bm[pfn >> 3] |= 1 << (pfn & 7)
    data_off = (1 + per) * bs + 24 * len(dumped)
    descs, data = bytearray(), bytearray()
    for pfn in dumped:
        page = bytes(m.mem.get(pfn, bytes(bs)))
        comp, flag = zlib.compress(page), 1
        if len(comp) >= bs:
            comp, flag = page, 0
        descs += struct.pack("<qIIQ", data_off + len(data), len(comp), flag, 0)
        data += comp
    hdr = bytearray(bs)
    hdr[0:8] = b"DISKDUMP"
    struct.pack_into("<i", hdr, 8, 1)
    for i, f in enumerate([b"Linux", m.hostname.encode(), m.release.encode(), m.version.encode(),
                           b"x86_64", b"(none)"]):
        hdr[12 + 65 * i:12 + 65 * i + len(f)] = f
    struct.pack_into("<qq", hdr, 408, m.crash_time, 0)
    struct.pack_into("<IiiIIIIIIi", hdr, 424, 0x1, bs, 0, per, m.ram_pages, 0, 0, 0, 0, len(m.cpus))
    return bytes(hdr + bm + descs + data)


def recompress(src: str | os.PathLike[str], dst: str | os.PathLike[str], codec: str) -> None:
    """Write the kdump-compressed file ``src`` again with every page in ``codec``: a real dump in a
    codec the crash lab cannot make (Debian 12's makedumpfile 1.7.2 is built without snappy and zstd).
    Header, notes, bitmaps and page contents stay; the status codec bits, descriptors and page data
    change.  Pages that shared one descriptor (makedumpfile's zero page) still share one."""
    from crashhub import dump  # noqa: PLC0415 (the reader decodes the pages it re-encodes)
    from crashhub.dump._kdump import CODEC_FLAGS, KdumpDump  # noqa: PLC0415
    from crashhub.dump._source import decompress_page  # noqa: PLC0415

    with dump.open_dump(src) as d:
        assert isinstance(d, KdumpDump) and d.format == "kdump", d.format
        e, bs, n = d.endian, d.page_size, d.pages_dumped
        head = bytearray(d.source.pread(0, d.descs_offset))
        table = d.source.pread(d.descs_offset, 24 * n)
        (status,) = struct.unpack_from(e + "I", head, 424)
        for bit, _ in CODEC_FLAGS:
            status &= ~bit
        struct.pack_into(e + "I", head, 424, status | _compress(codec, bytes(bs))[1])
        data_off = d.descs_offset + len(table)
        descs, data = bytearray(), bytearray()
        moved: dict[tuple[int, int], tuple[int, int, int]] = {}
        for i in range(n):
            off, size, flags, pflags = struct.unpack_from(e + "qIIQ", table, 24 * i)
            if (off, size) not in moved:
                raw = d.source.pread(off, size)
                old = next((name for bit, name in CODEC_FLAGS if flags & bit), None)
                page = raw if old is None else decompress_page(old, raw, bs, d.path, off)
                comp, flag = _compress(codec, page)
                if len(comp) >= bs:
                    comp, flag = page, 0  # stored raw, as makedumpfile does
                moved[off, size] = (data_off + len(data), len(comp), flag)
                data += comp
            descs += struct.pack(e + "qIIQ", *moved[off, size], pflags)
    with open(dst, "wb") as f:
        f.write(head + descs + data)


def to_flat(dump: bytes, chunk: int = 4096, shuffle: int | None = None, overlap: bool = False) -> bytes:
    """Flattened form: records of ``chunk`` bytes; ``shuffle`` seeds a random record order; zero
    chunks are left out (gaps), as makedumpfile never writes holes."""
    recs = []
    for off in range(0, len(dump), chunk):
        piece = dump[off:off + chunk]
        if any(piece) or off + chunk >= len(dump):
            recs.append((off, piece))
    if shuffle is not None:
        random.Random(shuffle).shuffle(recs)
    if overlap:
        # A record that is later overwritten by the right bytes: later writes win.
        recs.insert(0, (0, b"\xee" * min(len(dump), 3 * chunk)))
    out = bytearray(b"makedumpfile\0".ljust(16, b"\0") + struct.pack(">qq", 1, 1))
    out = out.ljust(4096, b"\0")
    for off, piece in recs:
        out += struct.pack(">qq", off, len(piece)) + piece
    out += struct.pack(">qq", -1, -1)
    return bytes(out)


LOG_LINES = [
    b"Linux version 6.1.0-56-cloud-amd64 (debian-kernel@lists.debian.org)",
    b"Command line: BOOT_IMAGE=/vmlinuz root=/dev/vda1 crashkernel=256M",
    b"sysrq: Trigger a crash",
    b"Kernel panic - not syncing: sysrq triggered crash",
    b"CPU: 1 PID: 321 Comm: bash Not tainted 6.1.0-56-cloud-amd64 #1",
    b"Call Trace:\n <TASK>\n dump_stack_lvl+0x44/0x5c",  # a record with newlines inside
    b"odd bytes: \x01\x7f\xc3\xa9 tab\there",
]


def standard_machine(layout: str = "lockless", records: int = 40, **kw: object) -> Machine:
    m = Machine(**kw)  # type: ignore[arg-type]
    m.build_page_tables()
    m.uts()
    recs = [(1_000_000 * i + 123_456_789 * (i % 3), (0x80000000 | (i % 2)) if i % 5 == 0 else 100 + i,
             LOG_LINES[i % len(LOG_LINES)] + b" #%d" % i) for i in range(records)]
    if layout == "lockless":
        lockless_log(m, recs)
    elif layout == "printk_log":
        printk_log(m, recs)
    elif layout == "log":
        printk_log(m, recs, struct_name="log")
    elif layout == "printk_log_caller":
        printk_log(m, recs, caller=True)
    elif layout == "char-ring":
        char_ring(m, b"".join(b"<6>" + t + b"\n" for _, _, t in recs))
    nregs = X86_64_REGS if m.arch == "x86_64" else 34
    m.cpus = [(0, [0x1000 + i for i in range(nregs)]), (321, [0x2000 + i for i in range(nregs)])]
    # some data pages, zero pages, and random content for page-read checks
    rnd = random.Random(7)
    for pfn in range(0x300, 0x380):
        m.mem[pfn] = bytearray(rnd.randbytes(PAGE)) if pfn % 3 else bytearray(PAGE)
    return m
