"""Seekable byte sources and bounded decompression.

Every reader in :mod:`crashhub.dump` reads through a :class:`Source`: ``pread(offset, size)`` returns
exactly ``size`` bytes or raises :class:`DumpTruncatedError` naming the file and offset.  Nothing here
trusts a size taken from a dump: callers pass their own upper bound to :func:`check_size` and to the
decompressors, which stop (with :class:`DecompressError`) as soon as the output would pass it.
"""

from __future__ import annotations

import errno
import os

from crashhub.errors import (
    DecompressError,
    DumpError,
    DumpFormatError,
    DumpTooLargeError,
    DumpTruncatedError,
)

# typing costs as much to import as Python takes to start: `crashhub dump dmesg` must start fast,
# so type-only imports hide behind mypy's TYPE_CHECKING convention without importing typing.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path
    from typing import IO, Protocol

    class Source(Protocol):
        """A random-access view of a dump's bytes."""

        path: str
        size: int

        def pread(self, offset: int, size: int) -> bytes: ...

        def close(self) -> None: ...

# One read never asks for more than this from a dump, whatever its headers say.
MAX_READ = 256 << 20


def check_size(path: str, what: str, value: int, limit: int, offset: int | None = None) -> int:
    """Bound a count or size read from a dump; return it or raise a typed error."""
    if value < 0 or value > limit:
        raise DumpFormatError(f"{what} {value} out of range (0..{limit})", path, offset)
    return value


class FileSource:
    """A regular file read with ``os.pread`` (no shared file position, so readers can interleave)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = str(path)
        self._fd = os.open(self.path, os.O_RDONLY)
        self.size = os.fstat(self._fd).st_size

    def pread(self, offset: int, size: int) -> bytes:
        if offset < 0 or size < 0 or size > MAX_READ:
            raise DumpFormatError(f"bad read of {size} bytes", self.path, offset)
        if offset + size > self.size:
            raise DumpTruncatedError(f"file ends ({self.size} bytes) before {size} bytes here",
                                     self.path, offset)
        data = os.pread(self._fd, size, offset)
        if len(data) != size:
            raise DumpTruncatedError(f"short read ({len(data)} of {size} bytes)", self.path, offset)
        return data

    def fileno(self) -> int:
        return self._fd

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> FileSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class BytesSource:
    """An in-memory source (tests, small dumps)."""

    def __init__(self, data: bytes, path: str = "<bytes>") -> None:
        self.path = path
        self._data = data
        self.size = len(data)

    def pread(self, offset: int, size: int) -> bytes:
        if offset < 0 or size < 0:
            raise DumpFormatError(f"bad read of {size} bytes", self.path, offset)
        if offset + size > self.size:
            raise DumpTruncatedError(f"file ends ({self.size} bytes) before {size} bytes here",
                                     self.path, offset)
        return self._data[offset:offset + size]

    def close(self) -> None:
        pass


# --------------------------------------------------------------------------- page codecs


def _zlib(data: bytes, limit: int) -> bytes:
    import zlib  # noqa: PLC0415 (like every codec, on first use: an lzo dump never needs it)

    d = zlib.decompressobj()
    out = d.decompress(data, limit)
    if d.unconsumed_tail:
        raise DecompressError(f"zlib page expands past {limit} bytes")
    return out


def _lzo1x_size(data: bytes) -> int:
    """The length a raw LZO1X stream decompresses to, or -1 when it is cut short or has bytes after its
    end marker.  Walks the instructions without writing anything, so a stream that claims gigabytes
    costs no memory: lzallright 0.3.0 takes no output bound (its size hint is a first guess that it
    doubles until the output fits).  The encoding is liblzo's ``lzo1x_d.ch`` as lzokay (inside
    lzallright) decodes it; lzokay then checks what is not counted here (how far back a match reaches).
    """
    n = len(data)
    if n < 3:
        return -1
    first = data[0]
    if first >= 22:  # the first literal run, 4..238 bytes
        out = i = first - 17
        i += 1
        state = 4
    elif first >= 18:  # 0..3 literals
        out = state = first - 17
        i = state + 1
    else:
        out = i = state = 0
    while i < n:
        inst = data[i]
        if inst >= 64:  # M2: 3..8 bytes from <= 2 KiB back, one distance byte, then `state` literals
            state = inst & 3
            out += (inst >> 5) + 1 + state
            i += 2 + state
            continue
        i += 1
        if inst >= 16:  # M3 (32..63) and M4 (16..31): a length, an LE16 distance and `state` literals
            length, ext = (inst & 31, 31) if inst >= 32 else (inst & 7, 7)
            if length == 0:  # 255 per zero byte, then one more byte
                z = i
                while i < n and not data[i]:
                    i += 1
                if i >= n:
                    return -1
                length = (i - z) * 255 + ext + data[i]
                i += 1
            if i + 2 > n:
                return -1
            if inst < 32 and not inst & 8 and not (data[i] >> 2 | data[i + 1]):
                return out if i + 2 == n else -1  # M4 at distance 16384: the end marker
            state = data[i] & 3
            out += length + 2 + state
            i += 2 + state
        elif state == 0:  # M1 after no literals: a run of 4.. literals
            length = inst + 3
            if inst == 0:
                z = i
                while i < n and not data[i]:
                    i += 1
                if i >= n:
                    return -1
                length = (i - z) * 255 + 18 + data[i]
                i += 1
            out += length
            i += length
            state = 4
        else:  # M1 after literals: a 2-byte (after 1..3) or 3-byte (after 4+) match
            out += (2 if state < 4 else 3) + (inst & 3)
            state = inst & 3
            i += 1 + state
    return -1


# What lzokay's errors mean for a page the size walk above accepted.
_LZO_ERRORS = {"LookbehindOverrun": "a match reaches back before the page's start",
               "Error": "its end marker is malformed"}


def _lzo(data: bytes, limit: int) -> bytes:
    from lzallright import LZOCompressor, LZOError  # noqa: PLC0415 (like every codec, loaded on use)

    # makedumpfile stores raw lzo1x_1 (no header, no length): count the output before making it.
    size = _lzo1x_size(data)
    if size < 0:
        raise DecompressError("lzo page is cut short or has bytes after its end")
    if size > limit:
        raise DecompressError(f"lzo page expands to {size} bytes, bound {limit}")
    try:
        return LZOCompressor.decompress(data, size)
    except LZOError as e:
        why = str(e.args[0]).removeprefix("EResult.") if e.args else str(e)  # EResult has no .name
        raise DecompressError(f"lzo page is corrupt: {_LZO_ERRORS.get(why, why)}") from None


def _snappy(data: bytes, limit: int) -> bytes:
    import cramjam  # noqa: PLC0415 (loaded on use)

    # A raw snappy block starts with its uncompressed length as a varint: check it first so a
    # bomb is refused before any allocation.
    n = shift = 0
    for i, b in enumerate(data[:10]):
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            break
        if i == 9:
            raise DecompressError("bad snappy length")
    if n > limit:
        raise DecompressError(f"snappy page claims {n} bytes, bound {limit}")
    return bytes(cramjam.snappy.decompress_raw(data))


def _zstd(data: bytes, limit: int) -> bytes:
    import zstandard  # noqa: PLC0415 (loaded on use)

    try:
        # A frame that declares its size is checked before zstandard allocates it.
        declared = zstandard.frame_content_size(data)
        if declared > limit:
            raise DecompressError(f"zstd page claims {declared} bytes, bound {limit}")
        out: bytes = zstandard.ZstdDecompressor().decompress(data, max_output_size=limit)
    except zstandard.ZstdError as e:
        raise DecompressError(f"zstd: {e}") from None
    if len(out) > limit:
        raise DecompressError(f"zstd page expands past {limit} bytes")
    return out


PAGE_CODECS: dict[str, Callable[[bytes, int], bytes]] = {
    "zlib": _zlib, "lzo": _lzo, "snappy": _snappy, "zstd": _zstd,
}


def decompress_page(codec: str, data: bytes, page_size: int, path: str, offset: int) -> bytes:
    """Decompress one page; the result is exactly ``page_size`` bytes or a DecompressError."""
    try:
        out = PAGE_CODECS[codec](data, page_size)
    except DecompressError as e:
        raise DecompressError(e.message, path, offset) from None
    except ImportError as e:  # a dependency of crashhub's, so a broken install
        raise DecompressError(f"{codec} codec cannot be imported ({e.name}): reinstall crashhub",
                              path, offset) from None
    except Exception as e:  # codecs raise their own error types (zlib.error, cramjam's, ...)
        raise DecompressError(f"{codec}: {e}", path, offset) from None
    if len(out) != page_size:
        raise DecompressError(f"{codec} page gives {len(out)} bytes, expected {page_size}", path, offset)
    return out


# --------------------------------------------------------------------------- stream wrappers

# Magic → wrapper name.  Checked before the dump's own magic (detect.py).
WRAPPER_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x1f\x8b", "gzip"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"BZh", "bzip2"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"\x04\x22\x4d\x18", "lz4"),
)


def wrapper_of(head: bytes) -> str | None:
    for magic, name in WRAPPER_MAGIC:
        if head.startswith(magic):
            return name
    return None


def open_wrapped(path: str, wrapper: str) -> IO[bytes]:
    """A streaming reader of a wrapped file's decompressed bytes."""
    import bz2  # noqa: PLC0415 (wrappers are rare: keep them off the start-up path)
    import gzip  # noqa: PLC0415
    import lzma  # noqa: PLC0415

    if wrapper == "gzip":
        return gzip.open(path, "rb")  # type: ignore[return-value]
    if wrapper == "xz":
        return lzma.open(path, "rb")
    if wrapper == "bzip2":
        return bz2.open(path, "rb")
    if wrapper == "zstd":
        import zstandard  # noqa: PLC0415 (loaded on use)

        return zstandard.ZstdDecompressor().stream_reader(open(path, "rb"), closefd=True)
    if wrapper == "lz4":
        import lz4.frame  # noqa: PLC0415 (loaded on use)

        return lz4.frame.open(path, "rb")  # type: ignore[no-any-return]
    raise DumpFormatError(f"unknown wrapper {wrapper}", path)


def iter_chunks(f: IO[bytes], chunk: int = 1 << 20) -> Iterator[bytes]:
    while True:
        b = f.read(chunk)
        if not b:
            return
        yield b


class BoundedReader:
    """A decompressed stream that raises :class:`DumpTooLargeError` once more than ``limit`` bytes
    came out of it: the bound holds while the bytes stream, before they are written anywhere.

    ``bound`` names the limit in the error (e.g. the setting a hub operator would change).
    """

    def __init__(self, f: IO[bytes], limit: int, path: str, wrapper: str, bound: str | None = None) -> None:
        self._f = f
        self.limit = limit
        self.count = 0
        self.path = path
        self.name = f"{path} ({wrapper}-decompressed)"
        self._what = f"{wrapper} stream expands past {bound or f'{limit} bytes'}"

    def _took(self, n: int) -> None:
        self.count += n
        if self.count > self.limit:
            raise DumpTooLargeError(self._what, self.path, self.limit)

    def read(self, n: int = -1) -> bytes:
        # Never more than one byte past the bound in one read, so an unbounded read() cannot
        # materialise the bomb in memory before the check.
        want = self.limit - self.count + 1
        b = self._f.read(want if n < 0 else min(n, want))
        self._took(len(b))
        return b

    def readinto(self, buf: memoryview | bytearray) -> int:
        b = self.read(len(buf))
        buf[: len(b)] = b
        return len(b)

    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> BoundedReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_ZEROS = bytes(1 << 20)
_DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


def copy_sparse(src: IO[bytes] | BoundedReader, dest: str) -> int:
    """Copy a stream into ``dest`` leaving all-zero chunks as holes; returns the bytes copied.

    Dumps of idle machines are mostly zero pages, and so is a decompression bomb: neither then costs
    disk before the bound (in ``src``) refuses it.
    """
    size = 0
    with open(dest, "wb") as out:
        while b := src.read(len(_ZEROS)):
            if b == _ZEROS[: len(b)]:
                out.seek(len(b), os.SEEK_CUR)
            else:
                out.write(b)
            size += len(b)
        out.truncate(size)
    return size


def unwrap_to_file(path: str, wrapper: str, limit: int, directory: str | None = None, *,
                   dest: str | None = None, bound: str | None = None) -> Path:
    """Decompress a wrapped dump into a temporary file (or ``dest``), refusing to pass ``limit`` bytes.

    A random-access reader needs a seekable file; the stream is copied once, bounded and sparse, so
    a decompression bomb ends with DumpTooLargeError instead of a full disk.
    """
    import lzma  # noqa: PLC0415
    import tempfile  # noqa: PLC0415
    from pathlib import Path  # noqa: PLC0415

    if dest is None:
        fd, tmp = tempfile.mkstemp(prefix="crashhub-unwrap-", dir=directory)
        os.close(fd)
    else:
        tmp = dest
    r: BoundedReader | None = None
    try:
        with BoundedReader(open_wrapped(path, wrapper), limit, path, wrapper, bound) as r:
            copy_sparse(r, tmp)
    except DumpError:
        os.unlink(tmp)
        raise
    except (OSError, EOFError, lzma.LZMAError, ValueError) as e:
        os.unlink(tmp)
        if isinstance(e, OSError) and e.errno in _DISK_FULL:
            raise  # the disk, not the dump: the hub answers 507
        raise DecompressError(f"{wrapper} stream: {e}", path, r.count if r else 0) from None
    except Exception as e:  # zstandard / lz4 raise their own types
        os.unlink(tmp)
        raise DecompressError(f"{wrapper} stream: {e}", path, r.count if r else 0) from None
    return Path(tmp)
