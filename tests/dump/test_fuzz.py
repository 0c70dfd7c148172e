"""Corrupted and truncated dumps: a typed DumpError naming the file (and offset), never a hang,
never another exception, never unbounded memory."""

from __future__ import annotations

import contextlib
import gzip
import io
import struct
import tracemalloc
import zlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lzallright import InputNotConsumed, LZOCompressor, LZOError
from tests.dump import synth

from crashhub import dump
from crashhub.dump import read_log
from crashhub.dump._flat import FlatSource
from crashhub.dump._source import _lzo1x_size, decompress_page
from crashhub.errors import DecompressError, DumpError, DumpFormatError, DumpTruncatedError, ExcludedPageError

M = synth.standard_machine("lockless")
KDUMP = synth.to_kdump(M, "zlib", dump_level=31, excluded={0x310, 0x311})
ELF = synth.to_elf(M)
FLAT = synth.to_flat(KDUMP, chunk=8192)
PRINTK = synth.standard_machine("printk_log", release="4.19.0")
PRINTK_ELF = synth.to_elf(PRINTK)
SAMPLE_PFNS = [0, 1, 0x10, 0x200, 0x210, 0x300, 0x301, 0x310, 0x400, 0x401, 0x7FF, 0x5000]

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def exercise(path: Path) -> None:
    """Everything a caller may do with a dump; only DumpError may come out."""
    try:
        dump.detect(path)
        dump.facts(path)
        with dump.open_dump(path) as d:
            for pfn in SAMPLE_PFNS:
                with contextlib.suppress(DumpError):
                    d.read_page(pfn)
            read_log(d)
    except DumpError as e:
        assert e.path is not None and str(path) in str(e)


def _write(tmp: Path, data: bytes) -> Path:
    p = tmp / "fuzzed"
    p.write_bytes(data)
    return p


@pytest.mark.timeout(300)
@FUZZ
@given(cut=st.integers(min_value=0, max_value=len(KDUMP)), which=st.sampled_from(["kdump", "elf", "flat"]))
def test_truncated(tmp_path: Path, cut: int, which: str) -> None:
    data = {"kdump": KDUMP, "elf": ELF, "flat": FLAT}[which]
    exercise(_write(tmp_path, data[:cut]))


# regions worth hitting: kdump header, sub-header + notes, bitmaps, descriptors; ELF header, phdrs, notes
KDUMP_REGIONS = [(0, 464), (4096, 4096 + 104 + 2000), (8192, 8192 + 1024), (16384, 16384 + 24 * 300)]
ELF_REGIONS = [(0, 64), (64, 64 + 56 * 4), (64 + 56 * 4, 64 + 56 * 4 + 2000)]


@pytest.mark.timeout(300)
@FUZZ
@given(data=st.data(), which=st.sampled_from(["kdump", "elf", "printk"]))
def test_corrupted_fields(tmp_path: Path, data: st.DataObject, which: str) -> None:
    base, regions = {"kdump": (KDUMP, KDUMP_REGIONS), "elf": (ELF, ELF_REGIONS),
                     "printk": (PRINTK_ELF, ELF_REGIONS)}[which]
    buf = bytearray(base)
    for _ in range(data.draw(st.integers(1, 6))):
        lo, hi = data.draw(st.sampled_from(regions))
        at = data.draw(st.integers(lo, min(hi, len(buf)) - 8))
        # whole 8-byte fields: small, negative, huge, or random
        v = data.draw(st.sampled_from([0, 1, -1, 2**31 - 1, 2**63 - 1, 2**40, 4095, 4097])
                      | st.integers(-(2**63), 2**63 - 1))
        struct.pack_into("<q", buf, at, v)
    exercise(_write(tmp_path, bytes(buf)))


def test_corrupted_log_structures(tmp_path: Path) -> None:
    """Corrupt the kernel's own ring pointers (in the dumped memory), not the dump's headers."""
    for field_off, value in [(0, 60), (24, 0), (32, 2**62), (48, 40), (8, 0xFFFFFFFFFFFFF000)]:
        m = synth.standard_machine("lockless")
        prb_pa = m.symbols["prb"] - synth.START_KERNEL_MAP + m.phys_base
        prb_va = struct.unpack("<Q", m.read_phys(prb_pa, 8))[0]
        pa = prb_va - synth.START_KERNEL_MAP + m.phys_base
        m.write_phys(pa + field_off, struct.pack("<Q", value))
        p = _write(tmp_path, synth.to_elf(m))
        try:
            log = dump.dmesg(p)
            assert isinstance(log, bytes)
        except DumpError as e:
            assert str(p) in str(e)
        f = dump.facts(p)  # facts survive a broken log, with a warning
        assert f.release == m.release


FLAT_HEADER = synth.to_flat(b"")[:4096]


@pytest.mark.timeout(300)
@FUZZ
@given(records=st.lists(st.tuples(st.integers(-(2**63), 2**63 - 1) | st.integers(-2, 1 << 20),
                                   st.integers(-(2**63), 2**63 - 1) | st.integers(-2, 5000)),
                        max_size=6),
       end=st.booleans())
def test_flat_records(tmp_path: Path, records: list[tuple[int, int]], end: bool) -> None:
    body = bytearray(FLAT_HEADER)
    for off, size in records:
        body += struct.pack(">qq", off, size) + bytes(max(0, min(size, 5000)))
    if end:
        body += struct.pack(">qq", -1, -1)
    p = _write(tmp_path, bytes(body))
    out = tmp_path / "out"
    try:
        dump.reassemble(p, out)
    except DumpError as e:
        assert str(p) in str(e)
    try:
        FlatSource(p).close()
    except DumpError as e:
        assert str(p) in str(e)
    exercise(p)


def test_flat_overlapping_records_later_wins(tmp_path: Path) -> None:
    body = bytearray(FLAT_HEADER)
    for off, data in [(0, b"A" * 100), (50, b"B" * 100), (10, b"C" * 5)]:
        body += struct.pack(">qq", off, len(data)) + data
    body += struct.pack(">qq", -1, -1)
    p = _write(tmp_path, bytes(body))
    want = b"A" * 10 + b"C" * 5 + b"A" * 35 + b"B" * 100
    src = FlatSource(p)
    assert src.pread(0, 150) == want and src.pread(12, 40) == want[12:52]
    src.close()
    dump.reassemble(p, tmp_path / "o")
    assert (tmp_path / "o").read_bytes() == want


def test_flat_errors_name_file_and_offset(tmp_path: Path) -> None:
    p = _write(tmp_path, FLAT_HEADER + struct.pack(">qq", 0, 100) + b"x" * 10)
    with pytest.raises(DumpTruncatedError) as ei:
        dump.reassemble(p, tmp_path / "o")
    assert ei.value.path == str(p) and ei.value.offset is not None
    p = _write(tmp_path, FLAT_HEADER + struct.pack(">qq", -5, 3))
    with pytest.raises(DumpFormatError, match="end marker"):
        dump.reassemble(io.BytesIO(p.read_bytes()), io.BytesIO())  # type: ignore[arg-type]


ZSTD_BOMB = __import__("zstandard").ZstdCompressor().compress(bytes(1 << 24))
LZO_BOMB = LZOCompressor().compress(bytes(1 << 24))  # ~66 KiB; lzallright alone would make all 16 MiB


def test_page_bombs() -> None:
    bomb = zlib.compress(bytes(64 << 20), 9)  # 64 MiB of zeros in ~64 KiB
    for codec, data in [("zlib", bomb), ("zlib", b"garbage"), ("lzo", b"\x00" * 50), ("lzo", LZO_BOMB),
                        ("lzo", LZO_BOMB[:4000]), ("lzo", LZO_BOMB + b"\0"),
                        ("snappy", b"\xff\xff\xff\xff\x0f"), ("zstd", ZSTD_BOMB)]:
        tracemalloc.start()
        with pytest.raises(DecompressError) as ei:
            decompress_page(codec, data, 4096, "bomb.vmcore", 1234)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert ei.value.offset == 1234 and ei.value.path == "bomb.vmcore"
        assert peak < 1 << 20, (codec, peak)  # the bombs expand to 16-64 MiB


# Pages whose lzo takes every instruction form: text, page tables, zeros (long-match lengths), runs.
LZO_PAGES = [LZOCompressor().compress(bytes(p)) for p in
             (*(M.mem[pfn] for pfn in sorted(M.mem)[:6]), bytes(4096), b"A" * 4096,
              bytes(2000) + b"xy" * 1048, bytes(range(256)) * 16)]
EDITS = st.lists(st.tuples(st.integers(0, 1 << 16), st.integers(0, 255)), max_size=3)


@FUZZ
@given(page=st.sampled_from(LZO_PAGES), edits=EDITS, cut=st.integers(0, 8))
def test_lzo_size_walk_is_lzallrights_length(page: bytes, edits: list[tuple[int, int]], cut: int) -> None:
    """The walk that bounds an lzo page before lzallright decodes it counts exactly what lzallright
    writes, on real and corrupted streams; a page of the wrong size is a DecompressError."""
    data = bytearray(page[:len(page) - cut])
    for at, value in edits:
        if data:
            data[at % len(data)] = value
    size = _lzo1x_size(bytes(data))
    try:
        out = LZOCompressor.decompress(bytes(data))  # unbounded: these expand to at most ~1 MiB
    except LZOError as e:
        if isinstance(e, InputNotConsumed):
            assert size == -1
        out = None
    if out is not None:
        assert size == len(out)
    if out is not None and len(out) == 4096:
        assert decompress_page("lzo", bytes(data), 4096, "p", 0) == out
    else:
        with pytest.raises(DecompressError):
            decompress_page("lzo", bytes(data), 4096, "p", 0)


def test_page_bomb_in_a_dump(tmp_path: Path) -> None:
    """A descriptor pointing at a zlib bomb: DecompressError for that page, the rest still reads."""
    data = bytearray(KDUMP)
    with dump.open_dump(_write(tmp_path, KDUMP)) as d:
        at = d.descs_offset + 24 * d._rank(0x301)
    bomb = zlib.compress(bytes(1 << 20), 9)  # ~1 KiB that expands to 1 MiB
    struct.pack_into("<qII", data, at, len(data), len(bomb), 0x1)
    data += bomb
    p = _write(tmp_path, bytes(data))
    with dump.open_dump(p) as d:
        with pytest.raises(DecompressError) as ei:
            d.read_page(0x301)
        assert ei.value.offset == len(KDUMP)
        assert d.read_page(0x302) == bytes(M.mem.get(0x302, bytes(4096)))


def test_wrapper_bomb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRASHHUB_DUMP_UNWRAP_LIMIT", str(1 << 20))
    p = tmp_path / "vmcore.gz"
    p.write_bytes(gzip.compress(KDUMP + bytes(4 << 20)))
    with pytest.raises(DecompressError) as ei:
        dump.open_dump(p)
    assert str(p) in str(ei.value)
    p.write_bytes(gzip.compress(KDUMP)[:-100])  # truncated stream
    monkeypatch.delenv("CRASHHUB_DUMP_UNWRAP_LIMIT")
    with pytest.raises(DumpError):
        dump.open_dump(p)


def test_huge_machine_bitmaps_stay_on_disk(tmp_path: Path) -> None:
    """A 4 TiB machine's kdump has 128 MiB bitmaps: opened and read without holding them in memory."""
    m = synth.standard_machine("lockless")
    kd = bytearray(synth.to_kdump(m, "zlib"))
    pfns = 1 << 30
    bs = 4096
    per = pfns // 8 // bs  # blocks per bitmap
    sub_blocks = struct.unpack_from("<i", kd, 432)[0]
    old_blocks = struct.unpack_from("<I", kd, 436)[0]
    bm_off = (1 + sub_blocks) * bs
    old_half = old_blocks * bs // 2
    bm1, bm2 = kd[bm_off:bm_off + old_half], kd[bm_off + old_half:bm_off + 2 * old_half]
    rest = kd[bm_off + 2 * old_half:]  # descriptors and pages: their offsets move by the new bitmap size
    shift = 2 * per * bs - 2 * old_half
    descs = bytearray(rest[:24 * sum(bin(b).count("1") for b in bm2)])
    for i in range(0, len(descs), 24):
        struct.pack_into("<q", descs, i, struct.unpack_from("<q", descs, i)[0] + shift)
    struct.pack_into("<I", kd, 436, 2 * per)
    struct.pack_into("<Q", kd, bs + 96, pfns)  # max_mapnr_64
    p = tmp_path / "huge"
    with open(p, "wb") as f:
        f.write(kd[:bm_off])
        f.write(bm1)
        f.seek(bm_off + per * bs)
        f.write(bm2)
        f.seek(bm_off + 2 * per * bs)
        f.write(descs + rest[len(descs):])
    tracemalloc.start()
    f2 = dump.facts(p)
    assert f2.max_pfn == pfns and f2.release == M.release and f2.log_layout == "lockless"
    with dump.open_dump(p) as d:
        assert d.read_page(0x301) == bytes(M.mem[0x301])
        with pytest.raises(ExcludedPageError):
            d.read_page(pfns - 1)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 16 << 20, peak  # the two bitmaps alone would be 256 MiB
