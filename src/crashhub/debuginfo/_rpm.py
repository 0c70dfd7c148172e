"""kernel-debuginfo RPMs without rpm2cpio: the header read here, the payload by libarchive.

RPM v4 layout (rpm ``docs/manual/format_v4.md``; all integers big-endian): a 96-byte lead
(magic ``ED AB EE DB``), the signature header padded to 8 bytes, the main header, then
the compressed cpio payload.  A header is ``8E AD E8 01 00000000``, ``u32 nindex``,
``u32 datalen``, 16-byte index entries ``{tag, type, offset, count}`` and the data.
Only the few tags naming the package are decoded; the payload is handed to libarchive
as a stream from the byte after the header, so a multi-GB payload never sits in memory
(zstd payloads, RPM 4.14+, included).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from crashhub.debuginfo._archive import Budget, CountingStream, Kept, Limits, read_stream
from crashhub.errors import DebuginfoError

LEAD_MAGIC = b"\xed\xab\xee\xdb"
HEADER_MAGIC = b"\x8e\xad\xe8\x01"
LEAD_SIZE = 96
MAX_INDEX = 1 << 16  # rpm itself allows at most 0xffff tags
MAX_DATA = 256 << 20  # rpm's HEADER_DATA_MAX

TAG_NAME, TAG_VERSION, TAG_RELEASE, TAG_ARCH = 1000, 1001, 1002, 1022
TAG_PAYLOADFORMAT, TAG_PAYLOADCOMPRESSOR = 1124, 1125
TYPE_STRING, TYPE_I18NSTRING = 6, 9


@dataclass(frozen=True, slots=True)
class RpmInfo:
    name: str
    version: str
    release: str
    arch: str
    payload_format: str
    payload_compressor: str
    payload_offset: int

    @property
    def nevra(self) -> str:
        return f"{self.name}-{self.version}-{self.release}.{self.arch}"

    @property
    def kernel_release(self) -> str:
        """What ``uname -r`` prints for this package's kernel, e.g. ``5.14.0-362.el9.x86_64``."""
        return f"{self.version}-{self.release}.{self.arch}"


def _read_exact(f: BinaryIO, n: int, src: str, what: str, offset: int) -> bytes:
    # By the MiB: f.read(n) allocates n bytes before it reads, and a 100-byte file may claim 256 MiB.
    data = bytearray()
    while len(data) < n and (chunk := f.read(min(1 << 20, n - len(data)))):
        data += chunk
    if len(data) != n:
        raise DebuginfoError(f"truncated RPM: the file ends inside the {what} "
                             f"({len(data)} of {n} bytes)", src, offset)
    return bytes(data)


def _read_header(f: BinaryIO, offset: int, src: str, what: str) -> tuple[dict[int, str], int]:
    """Parse one header structure at ``offset``; return its string tags and its end offset."""
    intro = _read_exact(f, 16, src, what, offset)
    if intro[:4] != HEADER_MAGIC:
        raise DebuginfoError(f"bad {what} magic {intro[:4].hex()} (not an RPM v3/v4 header)", src, offset)
    nindex, dlen = struct.unpack(">II", intro[8:16])
    if nindex > MAX_INDEX or dlen > MAX_DATA:
        raise DebuginfoError(f"{what} claims {nindex} tags and {dlen} data bytes (over the limits)",
                             src, offset)
    index = _read_exact(f, 16 * nindex, src, what, offset + 16)
    data = _read_exact(f, dlen, src, what, offset + 16 + 16 * nindex)
    tags: dict[int, str] = {}
    for i in range(nindex):
        tag, typ, off, _count = struct.unpack_from(">iIiI", index, 16 * i)
        if typ not in (TYPE_STRING, TYPE_I18NSTRING) or tag not in (
            TAG_NAME, TAG_VERSION, TAG_RELEASE, TAG_ARCH, TAG_PAYLOADFORMAT, TAG_PAYLOADCOMPRESSOR
        ):
            continue
        if not 0 <= off < dlen:
            raise DebuginfoError(f"{what} tag {tag} points at {off}, outside its {dlen} data bytes",
                                 src, offset)
        end = data.find(b"\0", off)
        if end < 0:
            raise DebuginfoError(f"{what} tag {tag} string is not terminated", src, offset)
        tags[tag] = data[off:end].decode("utf-8", "replace")
    return tags, offset + 16 + 16 * nindex + dlen


def read_info(f: BinaryIO, src: str) -> RpmInfo:
    """Read the lead, signature and header of an RPM open at offset 0; leave ``f`` at the payload."""
    lead = _read_exact(f, LEAD_SIZE, src, "lead", 0)
    if lead[:4] != LEAD_MAGIC:
        raise DebuginfoError("not an RPM (no lead magic ED AB EE DB)", src, 0)
    _sig, end = _read_header(f, LEAD_SIZE, src, "signature header")
    # The signature header is padded to a multiple of 8 bytes; the main header is not.
    pad = (8 - end % 8) % 8
    _read_exact(f, pad, src, "signature padding", end)
    tags, payload = _read_header(f, end + pad, src, "header")
    missing = [n for t, n in ((TAG_NAME, "NAME"), (TAG_VERSION, "VERSION"), (TAG_RELEASE, "RELEASE"))
               if t not in tags]
    if missing:
        raise DebuginfoError(f"RPM header lacks {', '.join(missing)}", src)
    fmt = tags.get(TAG_PAYLOADFORMAT, "cpio")
    if fmt != "cpio":
        raise DebuginfoError(f"RPM payload format {fmt!r} is not supported (only cpio)", src)
    return RpmInfo(tags[TAG_NAME], tags[TAG_VERSION], tags[TAG_RELEASE], tags.get(TAG_ARCH, "noarch"),
                   fmt, tags.get(TAG_PAYLOADCOMPRESSOR, "gzip"), payload)


def info(path: Path) -> RpmInfo:
    with path.open("rb") as f:
        return read_info(f, str(path))


def extract(path: Path, dest: Path, limits: Limits) -> tuple[RpmInfo, list[Kept]]:
    """Extract the vmlinux and module debug files of the RPM at ``path`` under ``dest``."""
    src = str(path)
    with path.open("rb") as f:
        meta = read_info(f, src)
        stream = CountingStream(f)
        kept = read_stream(stream, dest, Budget(limits, src, stream))
    if stream.count == 0:
        raise DebuginfoError("truncated RPM: no payload after the header", src, meta.payload_offset)
    return meta, kept
