"""The kernel log read from a dump, formatted byte for byte as ``makedumpfile --dump-dmesg`` writes it.

Three layouts, chosen by which VMCOREINFO symbols exist (never by version number):

* ``SYMBOL(prb)``: the lockless ring buffer (Linux 5.10, commit 896fbe20b4e2 "printk: use the lockless
  ringbuffer"); makedumpfile ``printk.c:dump_lockless_dmesg``.
* ``SYMBOL(log_first_idx)``: variable-length ``printk_log`` records (Linux 3.5, commit 7ff9554bb578
  "printk: convert byte-buffer to variable-length record buffer"; the struct was ``log`` until 3.11);
  makedumpfile ``dump_dmesg`` / ``dump_log_entry``.
* ``SYMBOL(log_end)``: the character ring before 3.5, written out raw.

Record lines are ``[%5llu.%06lu] `` (plus, when asked for and ``printk_info.caller_id`` is exported,
``[%8s] `` caller id ``T<pid>``/``C<cpu>``: makedumpfile prints it since 1.7.5, commit 48bb1e0 "add
PRINTK_CALLER id support to --dump-dmesg option"; 1.7.2–1.7.4, as in Debian 12, do not), text bytes
kept when ``isprint || isspace`` in the C locale,
others as ``\\x%02x`` of a *signed* char (so 0xc3 prints as ``\\xffffffc3``, as makedumpfile does),
and each newline inside a record followed by the prefix's width of spaces.
"""

from __future__ import annotations

import struct

from crashhub.errors import DumpError, DumpFormatError
from crashhub.kernel import kernel_version

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Protocol

    from crashhub.dump._vmcoreinfo import VmcoreInfo

    class VirtReader(Protocol):
        path: str
        vmcoreinfo: VmcoreInfo

        def read_virt(self, addr: int, size: int) -> bytes: ...

MAX_LOG_BYTES = 1 << 28  # log_buf_len is at most 2^25 in practice (CONFIG_LOG_BUF_SHIFT ≤ 25)
MAX_DESC_BITS = 22
DESC_SV_BITS = 64
DESC_FLAGS_SHIFT = DESC_SV_BITS - 2
DESC_ID_MASK = (1 << DESC_FLAGS_SHIFT) - 1
DESC_COMMITTED = 1
DESC_FINALIZED = 2
CALLER_CPU = 0x80000000


class KernelLog:
    """The log text and how it was found; ``corrupted`` with a reason when the walk stopped early."""

    __slots__ = ("corrupted", "layout", "reason", "records", "text")

    def __init__(self, text: bytes, layout: str, records: int, corrupted: bool = False,
                 reason: str | None = None) -> None:
        self.text, self.layout, self.records = text, layout, records  # layout: lockless|printk_log|char-ring
        self.corrupted, self.reason = corrupted, reason


# C-locale isprint (0x20..0x7e) or isspace (\t \n \v \f \r, space); everything else is escaped.
# Done with bytes.translate rather than re: this module loads on every `crashhub dump dmesg`, and re
# costs ~3 ms of that command's start-up.
_PLAIN = b"\t\n\x0b\x0c\r" + bytes(range(0x20, 0x7F))
_ESC = [
    bytes([b]) if b in _PLAIN else (b"\\x%02x" % b if b < 0x80 else b"\\xffffff%02x" % b) for b in range(256)
]


def format_record(ts_nsec: int, caller_id: int | None, text: bytes) -> bytes:
    """One record as makedumpfile writes it, ending in a newline."""
    sec, rem = divmod(ts_nsec, 1_000_000_000)
    prefix = b"[%5d.%06d] " % (sec, rem // 1000)
    if caller_id is not None:
        cid = b"%c%d" % (67 if caller_id & CALLER_CPU else 84, caller_id & ~CALLER_CPU)
        prefix += b"[%8s] " % cid
    if text.translate(None, _PLAIN):  # anything left is a byte makedumpfile escapes
        text = b"".join([_ESC[b] for b in text])
    if b"\n" in text:
        text = text.replace(b"\n", b"\n" + b" " * len(prefix))
    return prefix + text + b"\n"


def _need(info: VmcoreInfo, path: str, kind: str, *names: str) -> list[int]:
    table = {"SYMBOL": info.symbols, "SIZE": info.sizes, "OFFSET": info.offsets}[kind]
    out = []
    for n in names:
        v = table.get(n)
        if v is None:
            raise DumpFormatError(f"VMCOREINFO lacks {kind}({n}): cannot read the kernel log", path)
        out.append(v)
    return out


def _u(data: bytes, off: int, fmt: str) -> int:
    if off < 0 or off + struct.calcsize(fmt) > len(data):
        raise DumpFormatError(f"field offset {off} outside a {len(data)}-byte structure")
    v: int = struct.unpack_from("<" + fmt, data, off)[0]
    return v


def read_log(dump: VirtReader, caller_id: bool = False) -> KernelLog:
    """Find the log layout from VMCOREINFO and extract it (caller ids as makedumpfile >= 1.7.5)."""
    try:
        return _read_log(dump, caller_id)
    except DumpError as e:
        if e.path is None:  # raised by a pure helper: name the dump
            raise type(e)(e.message, dump.path, e.offset) from None
        raise


def _read_log(dump: VirtReader, caller_id: bool) -> KernelLog:
    info = dump.vmcoreinfo
    if not info.raw:
        raise DumpFormatError("the dump has no VMCOREINFO: cannot find the kernel log", dump.path)
    if info.symbol("prb") is not None:
        return _lockless(dump, caller_id)
    if info.symbol("log_buf") is None or info.symbol("log_buf_len") is None:
        raise DumpFormatError("VMCOREINFO lacks SYMBOL(log_buf)/SYMBOL(prb): cannot find the kernel log",
                              dump.path)
    if info.symbol("log_end") is not None:
        return _char_ring(dump)
    return _printk_log(dump, caller_id)


def _lockless(dump: VirtReader, caller_id: bool) -> KernelLog:
    info, path = dump.vmcoreinfo, dump.path
    (prb_sym,) = _need(info, path, "SYMBOL", "prb")
    prb_size, desc_size, info_size = _need(info, path, "SIZE", "printk_ringbuffer", "prb_desc", "printk_info")
    o = info.offsets
    (o_desc_ring, o_text_ring, o_count_bits, o_descs, o_infos, o_head, o_tail, o_state, o_lpos, o_begin,
     o_next, o_ts, o_text_len, o_size_bits, o_data) = _need(
        info, path, "OFFSET", "printk_ringbuffer.desc_ring", "printk_ringbuffer.text_data_ring",
        "prb_desc_ring.count_bits", "prb_desc_ring.descs", "prb_desc_ring.infos", "prb_desc_ring.head_id",
        "prb_desc_ring.tail_id", "prb_desc.state_var", "prb_desc.text_blk_lpos", "prb_data_blk_lpos.begin",
        "prb_data_blk_lpos.next", "printk_info.ts_nsec", "printk_info.text_len", "prb_data_ring.size_bits",
        "prb_data_ring.data")
    o_counter = o.get("atomic_long_t.counter", 0)
    o_caller = o.get("printk_info.caller_id") if caller_id else None
    if prb_size > 4096 or desc_size > 256 or info_size > 1024:
        raise DumpFormatError(f"implausible printk ring sizes {prb_size}/{desc_size}/{info_size}", path)
    prb_addr = _u(dump.read_virt(prb_sym, 8), 0, "Q")
    prb = dump.read_virt(prb_addr, prb_size)
    count_bits = _u(prb, o_desc_ring + o_count_bits, "I")
    size_bits = _u(prb, o_text_ring + o_size_bits, "I")
    if count_bits > MAX_DESC_BITS or (1 << size_bits) > MAX_LOG_BYTES:
        raise DumpFormatError(f"implausible printk ring ({count_bits} descriptor bits, "
                              f"{size_bits} text bits)", path)
    count = 1 << count_bits
    ring_size = 1 << size_bits
    tail = _u(prb, o_desc_ring + o_tail + o_counter, "Q") & DESC_ID_MASK
    head = _u(prb, o_desc_ring + o_head + o_counter, "Q") & DESC_ID_MASK
    corrupted, reason = False, None
    span = (head - tail) & DESC_ID_MASK
    if span >= count:
        # makedumpfile would loop up to 2^62 times here; every live record is within one ring's worth.
        corrupted, reason = True, f"head_id {head:#x} and tail_id {tail:#x} are {span} records apart"
        tail = (head - count + 1) & DESC_ID_MASK
        span = count - 1
    # Only the live slots tail..head are read, in id order (a kernel that has not wrapped its ring yet,
    # as most have not within hours of boot, uses a tenth of the 4096 descriptors and 88-byte infos).
    # The k-th live record's descriptor and info are then the k-th slot of these two buffers.
    descs = _ring_slots(dump, _u(prb, o_desc_ring + o_descs, "Q"), desc_size, count, first=tail % count,
                        n=span + 1)
    infos = _ring_slots(dump, _u(prb, o_desc_ring + o_infos, "Q"), info_size, count, first=tail % count,
                        n=span + 1)
    data_addr = _u(prb, o_text_ring + o_data, "Q")
    lo = hi = -1  # logical positions (lpos) where the first live block begins and the last ends
    # Field offsets are checked once against the struct sizes, then read without per-call checks:
    # this loop runs once per record (4096 on a default 6.1 kernel).
    fields = ((o_state + o_counter, 8, desc_size), (o_lpos + o_begin, 8, desc_size),
              (o_lpos + o_next, 8, desc_size), (o_text_len, 2, info_size), (o_ts, 8, info_size),
              (o_caller if o_caller is not None else 0, 4, info_size))
    for off, width, size in fields:
        if off < 0 or off + width > size:
            raise DumpFormatError(f"printk field offset {off} outside its {size}-byte struct", path)
    o_sv, o_b, o_n = o_state + o_counter, o_lpos + o_begin, o_lpos + o_next
    # One unpack per descriptor and per info (struct.iter_unpack over the slots), not one per field.
    desc_rows = _rows(descs, desc_size, [(o_sv, "Q"), (o_b, "Q"), (o_n, "Q")])
    info_fields = [(o_ts, "Q"), (o_text_len, "H")] + ([(o_caller, "I")] if o_caller is not None else [])
    info_rows = _rows(infos, info_size, info_fields)
    found: list[tuple[int, int, int, int | None]] = []  # (ts_nsec, text offset in the ring, length, caller)
    rid = tail
    for (sv, begin_lpos, next_lpos), row in zip(desc_rows, info_rows, strict=True):
        state = (sv >> DESC_FLAGS_SHIFT) & 3
        if (sv & DESC_ID_MASK) == rid and state in (DESC_COMMITTED, DESC_FINALIZED):
            begin = begin_lpos % ring_size
            nxt = next_lpos % ring_size
            if begin != nxt:
                text_len = row[1]
                if begin > nxt:
                    begin = 0  # the block wrapped: its data starts at the ring's beginning
                begin += 8  # skip the descriptor id stored in front of the text
                # makedumpfile compares unsigned: next < begin wraps to a huge value, text_len stays.
                if 0 <= nxt - begin < text_len:
                    text_len = nxt - begin
                # A text running past the ring's end is cut there (makedumpfile copies from the
                # ring buffer it read, which ends there).
                found.append((row[0], begin, max(0, min(text_len, ring_size - begin)),
                              row[2] if o_caller is not None else None))
                if lo < 0:
                    lo = begin_lpos
                hi = next_lpos
        rid = (rid + 1) & DESC_ID_MASK
    data, start = _text_ring(dump, data_addr, ring_size, lo=lo, hi=hi, live=found)
    out = []
    for ts, begin, text_len, caller in found:
        p = (begin - start) % ring_size
        out.append(format_record(ts, caller, data[p:p + text_len]))
    return KernelLog(b"".join(out), "lockless", len(found), corrupted, reason)


def _rows(buf: bytes, size: int, fields: list[tuple[int, str]]) -> Iterator[tuple[int, ...]]:
    """The given (offset, struct code) fields of every ``size``-byte slot of ``buf``, little-endian,
    in the order given.  Offsets were checked to fall inside the slot; fields that overlap (a bad
    VMCOREINFO) are read one by one."""
    order = sorted(range(len(fields)), key=lambda j: fields[j][0])
    fmt, at = "<", 0
    for j in order:
        off, code = fields[j]
        if off < at:
            return _rows_slow(buf, size, fields)
        fmt += f"{off - at}x{code}" if off > at else code
        at = off + struct.calcsize("<" + code)
    fmt += f"{size - at}x" if size > at else ""
    rows = struct.Struct(fmt).iter_unpack(buf)
    if order == sorted(order):
        return rows
    back = [order.index(j) for j in range(len(fields))]
    return (tuple(r[i] for i in back) for r in rows)


def _rows_slow(buf: bytes, size: int, fields: list[tuple[int, str]]) -> Iterator[tuple[int, ...]]:
    readers = [(off, struct.Struct("<" + code).unpack_from) for off, code in fields]
    for k in range(0, len(buf) - size + 1, size):
        yield tuple(r(buf, k + off)[0] for off, r in readers)


def _text_ring(dump: VirtReader, addr: int, size: int, *, lo: int, hi: int,
               live: list[tuple[int, int, int, int | None]]) -> tuple[bytes, int]:
    """``(buf, start)``: ring bytes from offset ``start`` on (wrapping) that hold every live record's
    text; a text at ring offset ``b`` is at ``(b - start) % size`` in ``buf``.

    Blocks are allocated in record order, so the live text is the logical span from the first live
    block's ``begin`` to the last one's ``next``.  When that span is small only it is read; any record
    outside it (a corrupted lpos) makes the whole ring be read, so the text is always what makedumpfile,
    which reads the whole ring, would print.
    """
    length = hi - lo
    if live and 0 < length <= size // 2:
        start = lo % size
        first = min(length, size - start)
        buf = dump.read_virt(addr + start, first)
        if length > first:  # the span wraps to the ring's beginning
            buf += dump.read_virt(addr, length - first)
        if all((b - start) % size + n <= length for _ts, b, n, _c in live):
            return buf, start
    return dump.read_virt(addr, size), 0


def _ring_slots(dump: VirtReader, addr: int, slot: int, count: int, *, first: int, n: int) -> bytes:
    """The ``n`` slots (of ``slot`` bytes) from index ``first`` on of a ring of ``count`` at ``addr``,
    in ring order: wrapping past the last slot to slot 0."""
    stop = min(first + n, count)
    buf = dump.read_virt(addr + first * slot, (stop - first) * slot)
    if first + n > count:
        buf += dump.read_virt(addr, (first + n - count) * slot)
    return buf


def _printk_log(dump: VirtReader, caller_id: bool) -> KernelLog:
    info, path = dump.vmcoreinfo, dump.path
    log_buf_sym, len_sym, first_sym, next_sym = _need(info, path, "SYMBOL", "log_buf", "log_buf_len",
                                                      "log_first_idx", "log_next_idx")
    # The struct was "log" until Linux 3.11 (commit 62e32ac3505a "printk: rename struct log to struct
    # printk_log"); makedumpfile accepts both.
    st = "printk_log" if info.size("printk_log") is not None else "log"
    (rec_size,) = _need(info, path, "SIZE", st)
    o_ts, o_len, o_text_len = _need(info, path, "OFFSET", f"{st}.ts_nsec", f"{st}.len", f"{st}.text_len")
    o_caller = info.offset(f"{st}.caller_id") if caller_id else None
    if not 8 <= rec_size <= 256:
        raise DumpFormatError(f"implausible SIZE({st}) {rec_size}", path)
    log_buf = _u(dump.read_virt(log_buf_sym, 8), 0, "Q")
    buf_len = _u(dump.read_virt(len_sym, 4), 0, "i")
    first = _u(dump.read_virt(first_sym, 4), 0, "I")
    nxt = _u(dump.read_virt(next_sym, 4), 0, "I")
    if not 0 < buf_len <= MAX_LOG_BYTES:
        raise DumpFormatError(f"implausible log_buf_len {buf_len}", path)
    buf = dump.read_virt(log_buf, buf_len)

    def rlen(p: int) -> int:
        return _u(buf, p + o_len, "H")

    out = []
    ptr = first
    seen: set[int] = set()
    corrupted, reason = False, None
    while ptr != nxt:
        if ptr in seen or ptr + rec_size > buf_len:
            # makedumpfile detects the cycle and keeps the records before it.
            corrupted, reason = True, f"printk_log record chain broken at index {ptr}"
            break
        seen.add(ptr)
        rec = ptr if rlen(ptr) else 0  # len 0 marks the end of the buffer: wrap to index 0
        text_len = _u(buf, rec + o_text_len, "H")
        text = buf[rec + rec_size:rec + rec_size + text_len]
        caller = _u(buf, rec + o_caller, "I") if o_caller is not None else None
        out.append(format_record(_u(buf, rec + o_ts, "Q"), caller, text))
        step = rlen(ptr)
        if step == 0:
            step = rlen(0)
            ptr = step
        else:
            ptr += step
        if step == 0:
            corrupted, reason = True, "printk_log record of length 0 at the start of the buffer"
            break
    return KernelLog(b"".join(out), "printk_log", len(out), corrupted, reason)


def _char_ring(dump: VirtReader) -> KernelLog:
    info, path = dump.vmcoreinfo, dump.path
    log_buf_sym, len_sym, end_sym = _need(info, path, "SYMBOL", "log_buf", "log_buf_len", "log_end")
    log_buf = _u(dump.read_virt(log_buf_sym, 8), 0, "Q")
    buf_len = _u(dump.read_virt(len_sym, 4), 0, "i")
    # log_end became "unsigned" in 2.6.25 (it was unsigned long): read the width that kernel had.
    wide = (kernel_version(info.osrelease) or (0,)) < (2, 6, 25)
    end = _u(dump.read_virt(end_sym, 8 if wide else 4), 0, "Q" if wide else "I")
    if not 0 < buf_len <= MAX_LOG_BYTES:
        raise DumpFormatError(f"implausible log_buf_len {buf_len}", path)
    if end < buf_len:
        text = dump.read_virt(log_buf, end)
    else:
        index = end & (buf_len - 1)
        text = dump.read_virt(log_buf + index, buf_len - index) + dump.read_virt(log_buf, index)
    return KernelLog(text, "char-ring", text.count(b"\n"))
