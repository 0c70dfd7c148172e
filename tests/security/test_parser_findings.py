"""What the parser fuzzing found, one test each (they failed before the fix)."""

from __future__ import annotations

import gzip
import os
import struct
import tracemalloc
from pathlib import Path

import pytest
from tests.security.targets import LIMITS, OOPS, _ar, _deb_seed, _rpm_header, _rpm_seed, _tar

from crashhub import dump, triage
from crashhub.debuginfo import _deb as deb
from crashhub.debuginfo import _elf as elf
from crashhub.debuginfo import _rpm as rpm
from crashhub.debuginfo import _sourcetar as sourcetar
from crashhub.errors import DebuginfoError, DecompressError, DumpFormatError

LATIN1 = "latin-1"


def test_deb_member_names_that_are_not_utf8(tmp_path: Path) -> None:
    """libarchive returns such a name as bytes: it was a TypeError out of deb.extract, now a file kept
    under the same bytes."""
    data = _tar({"./usr/lib/debug/lib/modules/9.9.9/caf\xe9.ko": b"module"}, "w:xz", LATIN1)
    control = _tar({"./control": b"Package: p\nVersion: 1\nArchitecture: amd64\n"}, "w:gz", LATIN1)
    p = tmp_path / "x.deb"
    p.write_bytes(_ar({"debian-binary": b"2.0\n", "control.tar.gz": control, "data.tar.xz": data}))
    meta, kept = deb.extract(p, tmp_path / "out", LIMITS)
    assert meta is not None and meta.package == "p"
    assert [k.kind for k in kept] == ["module"]
    assert kept[0].path.read_bytes() == b"module"
    assert os.listdir(bytes(tmp_path / "out" / "usr/lib/debug/lib/modules/9.9.9")) == [b"caf\xe9.ko"]
    # the outer ar member's own name, not UTF-8 either
    raw = bytearray(_deb_seed())
    at = raw.index(b"control.tar.gz")
    raw[at:at + 14] = b"control\xff.tar.g"
    p.write_bytes(bytes(raw))
    deb.extract(p, tmp_path / "out2", LIMITS)


def test_source_tar_names_that_are_not_utf8(tmp_path: Path) -> None:
    p = tmp_path / "linux.tar.gz"
    files = {"linux-9.9/mm/sl\xe4b.c": b"int x;\n", "linux-9.9/Makefile": b"V=1\n"}
    p.write_bytes(_tar(files, "w:gz", LATIN1))
    assert sourcetar.extract_sources(p, tmp_path / "src", LIMITS) == 2


def test_rpm_header_claiming_256_mib_allocates_nothing_of_it(tmp_path: Path) -> None:
    seed = bytearray(_rpm_seed())
    main = seed.index(_rpm_header([(rpm.TAG_NAME, b"kernel-debuginfo")])[:8], 100)
    struct.pack_into(">I", seed, main + 12, rpm.MAX_DATA)  # the main header's data length
    p = tmp_path / "small.rpm"
    p.write_bytes(bytes(seed))
    tracemalloc.start()
    try:
        with pytest.raises(DebuginfoError, match="truncated RPM"):
            rpm.info(p)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20, peak  # was 256 MiB: read(n) allocates n before it finds the end of file


def test_reading_a_small_log_does_not_allocate_the_log_cap(tmp_path: Path) -> None:
    p = tmp_path / "dmesg.txt"
    p.write_text(OOPS)
    tracemalloc.start()
    try:
        reports = triage.parse_file(p)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert reports and peak < 32 << 20, peak  # was 1 GiB (MAX_LOG_BYTES) for every log


# Each wrapper's magic followed by bytes that are no stream of it.
BROKEN_STREAMS = {
    "gzip": b"\x1f\x8b\x08\x00" + bytes(6) + b"\xff" * 64,
    "xz": b"\xfd7zXZ\x00" + b"\xff" * 64,
    "bzip2": b"BZh9" + b"\xff" * 64,
    "zstd": b"\x28\xb5\x2f\xfd" + b"\xff" * 64,
    "lz4": b"\x04\x22\x4d\x18" + b"\xff" * 64,
}


@pytest.mark.parametrize("wrapper", sorted(BROKEN_STREAMS))
def test_broken_wrapper_streams_are_decompress_errors(tmp_path: Path, wrapper: str) -> None:
    """Opening a wrapped dump leaked the codec's own exception (OSError, LZMAError, ZstdError,
    RuntimeError...): ``crashhub dump`` printed a traceback."""
    p = tmp_path / "vmcore.wrapped"
    p.write_bytes(BROKEN_STREAMS[wrapper])
    for fn in (dump.facts, dump.open_dump):
        with pytest.raises(DecompressError) as ei:
            fn(p)
        assert ei.value.path == str(p)


@pytest.mark.parametrize("wrapper", ["gzip", "zstd"])
def test_wrapped_non_dump_errors_name_the_given_file(tmp_path: Path, wrapper: str) -> None:
    """They named the temporary file the stream was unwrapped into, or no file at all."""
    import zstandard  # noqa: PLC0415

    data = b"not a dump at all, just text\n" * 10
    p = tmp_path / "vmcore.wrapped"
    p.write_bytes(gzip.compress(data) if wrapper == "gzip" else zstandard.ZstdCompressor().compress(data))
    for fn in (dump.detect, dump.facts):
        with pytest.raises(DumpFormatError) as ei:
            fn(p)
        assert ei.value.path == str(p), str(ei.value)


def _elf_with_rodata_at(offset: int) -> bytes:
    """A minimal ELF64 file: a null section, .shstrtab, and .rodata claiming ``offset``."""
    names = b"\0.shstrtab\0.rodata\0"
    shoff = 64 + len(names)
    hdr = bytearray(64)
    hdr[:16] = b"\x7fELF\x02\x01\x01" + bytes(9)
    struct.pack_into("<HHIQQQIHHHHHH", hdr, 16, 2, 62, 1, 0, 0, shoff, 0, 64, 0, 0, 64, 3, 1)

    def sh(name: int, stype: int, off: int, size: int) -> bytes:
        return struct.pack("<IIQQQQIIQQ", name, stype, 0, 0, off, size, 0, 0, 1, 0)

    return bytes(hdr) + names + sh(0, 0, 0, 0) + sh(1, 3, 64, len(names)) + sh(11, 1, offset, 4096)


@pytest.mark.parametrize("offset", [2**63 + 5, 2**64 - 1, 1 << 40])
def test_elf_rodata_past_the_end_has_no_release(tmp_path: Path, offset: int) -> None:
    """kernel_release seeked to .rodata's offset before checking it: OSError/OverflowError."""
    p = tmp_path / "vmlinux"
    p.write_bytes(_elf_with_rodata_at(offset))
    info = elf.read_elf(p)
    assert info.section(".rodata") is not None
    assert elf.kernel_release(p, info) is None
