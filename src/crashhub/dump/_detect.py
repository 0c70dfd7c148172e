"""What a dump file is, by its magic (never its name), and opening the right reader for it.

Format names: ``elf``, ``qemu-elf``, ``kdump``, ``diskdump`` (old ``DISKDUMP`` signature), ``split-kdump``
(one part of ``makedumpfile --split``), ``flat-kdump``, ``flat-elf`` (``-F`` of either; QEMU's kdump-*
output is ``flat-kdump``).  A file wrapped in a stream compressor is ``<format>+<wrapper>``, e.g.
``kdump+gzip``; readers unwrap it into a bounded temporary file first.
"""

from __future__ import annotations

import errno
import os

from crashhub.dump._source import (
    BoundedReader,
    BytesSource,
    FileSource,
    open_wrapped,
    unwrap_to_file,
    wrapper_of,
)
from crashhub.errors import DecompressError, DumpError, DumpFormatError, DumpTruncatedError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path

    from crashhub.dump._base import DumpReader
    from crashhub.dump._source import Source

# Readers are imported where they are needed (noqa: PLC0415 below): one format's reader per run keeps
# `crashhub dump dmesg` close to Python's own start-up time.
ELF_MAGIC = b"\x7fELF"
FLAT_SIGNATURE = b"makedumpfile\0"  # flat.SIGNATURE, without importing flat.py for other formats
FLAT_HEADER = 4096
WRAPPED_PEEK = 1 << 20  # decompressed bytes read to name a wrapped dump's format
KDUMP_SIGS = (b"KDUMP   ", b"DISKDUMP")


def _payload_format(head: bytes, source: Source | None, path: str | None = None) -> str:
    if head[:4] == ELF_MAGIC:
        if source is not None:
            from crashhub.dump._elf import ElfDump  # noqa: PLC0415

            return ElfDump(source).format
        return "elf"
    if head[:8] in KDUMP_SIGS:
        if head[:8] == b"DISKDUMP":
            return "diskdump"
        from crashhub.dump._kdump import parse_header  # noqa: PLC0415

        if source is not None and parse_header(source)[0].split:
            return "split-kdump"
        return "kdump"
    raise DumpFormatError(f"unknown dump magic {head[:8]!r}", getattr(source, "path", None) or path, 0)


def _detect_source(path: str) -> tuple[str, Source]:
    """Open ``path`` (unwrapped) as a source and name its format; the caller closes the source."""
    with open(path, "rb") as f:
        head = f.read(64)
    if head.startswith(FLAT_SIGNATURE):
        from crashhub.dump._flat import FlatSource  # noqa: PLC0415

        fs = FlatSource(path, strict=False)
        try:
            return "flat-" + _payload_format(fs.pread(0, min(64, fs.size)), fs), fs
        except BaseException:
            fs.close()
            raise
    src = FileSource(path)
    try:
        return _payload_format(head, src), src
    except BaseException:
        src.close()
        raise


def _head(p: str) -> bytes:
    """The first 64 bytes of ``p``, where every magic crashhub knows is."""
    try:
        with open(p, "rb") as f:
            head = f.read(64)
    except OSError as e:
        raise DumpError(f"cannot read: {e.strerror}", p) from None
    if len(head) < 8:
        raise DumpTruncatedError(f"{len(head)} bytes is too short for a dump", p, 0)
    return head


def detect(path: str | os.PathLike[str]) -> str:
    """The format of the dump at ``path``; a DumpError when it is not a dump crashhub reads."""
    p = str(path)
    head = _head(p)
    wrapper = wrapper_of(head)
    if wrapper is not None:
        try:
            with open_wrapped(p, wrapper) as w:
                inner = w.read(WRAPPED_PEEK)
        except Exception as e:
            raise DecompressError(f"{wrapper} stream: {e}", p, 0) from None
        if inner.startswith(FLAT_SIGNATURE):
            # makedumpfile writes the dump's header first, as the record at offset 0: look for it
            # among the records in the first MiB of the stream.
            at = FLAT_HEADER
            while at + 16 + 8 <= len(inner):
                off, size = int.from_bytes(inner[at:at + 8], "big", signed=True), int.from_bytes(
                    inner[at + 8:at + 16], "big", signed=True)
                if off == 0:
                    return "flat-" + _payload_format(inner[at + 16:], None, p) + "+" + wrapper
                if off < 0 or size <= 0:
                    break
                at += 16 + size
            return "flat+" + wrapper
        return _payload_format(inner, None, p) + "+" + wrapper
    fmt, src = _detect_source(p)
    src.close()
    return fmt


class _Unwrapped:
    """Deletes the temporary file of an unwrapped dump when its reader closes."""

    def __init__(self, inner: Source, tmp: Path) -> None:
        self._inner = inner
        self._tmp = tmp
        self.path = inner.path
        self.size = inner.size

    def pread(self, offset: int, size: int) -> bytes:
        return self._inner.pread(offset, size)

    def close(self) -> None:
        self._inner.close()
        self._tmp.unlink(missing_ok=True)


def unwrap(p: str, wrapper: str, dest: str, limit: int, bound: str | None = None) -> bool:
    """Decompress ``p`` into ``dest``, at most ``limit`` decompressed bytes (DumpTooLargeError past it,
    ``bound`` naming the limit); a flat stream is reassembled on the way.  Both are written sparse.

    Returns whether the stream was flattened; on an error ``dest`` is removed."""
    try:
        with open_wrapped(p, wrapper) as w:
            head = w.read(WRAPPED_PEEK)
    except Exception as e:  # each codec raises its own types (BadGzipFile, LZMAError, ZstdError...)
        raise DecompressError(f"{wrapper} stream: {e}", p, 0) from None
    if not head.startswith(FLAT_SIGNATURE):
        if head[:8] == KDUMP_SIGS[0]:
            # A kdump header is checked before the whole stream is decompressed: a bomb behind a
            # bare magic is refused here, not after max_dump_bytes of work.
            from crashhub.dump._kdump import parse_header  # noqa: PLC0415

            # Not contextlib.suppress: `crashhub dump dmesg` must start without importing contextlib.
            try:  # noqa: SIM105
                parse_header(BytesSource(head, p))
            except DumpTruncatedError:
                pass  # a header past the first MiB: the readers check it after the copy
        unwrap_to_file(p, wrapper, limit, dest=dest, bound=bound)
        return False
    try:
        with BoundedReader(open_wrapped(p, wrapper), limit, p, wrapper, bound) as w:
            from crashhub.dump._flat import reassemble  # noqa: PLC0415

            reassemble(w, dest, name=w.name)  # type: ignore[arg-type]
    except DumpError:
        os.unlink(dest)
        raise
    except Exception as e:
        os.unlink(dest)
        if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
            raise  # the disk, not the dump
        raise DecompressError(f"{wrapper} stream: {e}", p) from None
    return True


def _unwrap(p: str, wrapper: str) -> tuple[Path, bool]:
    """Decompress into a temporary file (see :func:`unwrap`); returns it and whether it was flat."""
    import tempfile  # noqa: PLC0415 (wrapped dumps only)
    from pathlib import Path  # noqa: PLC0415

    from crashhub import config  # noqa: PLC0415 (config loads dataclasses and typing: dmesg must start fast)

    fd, tmp = tempfile.mkstemp(prefix="crashhub-unwrap-")
    os.close(fd)
    return Path(tmp), unwrap(p, wrapper, tmp, config.dump_unwrap_limit())


def open_dump(path: str | os.PathLike[str]) -> DumpReader:
    """Open a dump of any supported format for reading (a context manager; close it)."""
    p = str(path)
    head = _head(p)
    wrapper = wrapper_of(head)
    if wrapper is not None:
        tmp, was_flat = _unwrap(p, wrapper)
        try:
            fmt, inner = _detect_source(str(tmp))
        except DumpError as e:
            tmp.unlink(missing_ok=True)
            # Named after the file the user gave, not the temporary file it was unwrapped into.
            raise type(e)(e.message, p, e.offset) from None
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        src: Source = _Unwrapped(inner, tmp)
        src.path = p
        if hasattr(inner, "path"):
            inner.path = p  # errors name the file the user gave
    else:
        was_flat = False
        fmt, src = _detect_source(p)
    try:
        base = fmt.removeprefix("flat-")
        reader: DumpReader
        if base in ("elf", "qemu-elf"):
            from crashhub.dump._elf import ElfDump  # noqa: PLC0415

            reader = ElfDump(src)
        else:
            from crashhub.dump._kdump import KdumpDump  # noqa: PLC0415

            reader = KdumpDump(src)
    except BaseException:
        src.close()
        raise
    if fmt.startswith("flat-") or was_flat:
        reader.format = "flat-" + reader.format
    cut = getattr(src, "truncated_at", None)
    if cut is not None:
        reader.incomplete_reasons.append(f"the flattened stream ends in the middle (at offset {cut}): "
                                         "later records never arrived")
    reader.wrapper = wrapper
    return reader

