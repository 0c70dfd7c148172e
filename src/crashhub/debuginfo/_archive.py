"""Streamed, bounded extraction of the debug files in a package payload.

libarchive (``libarchive-c`` over Debian's libarchive13) reads the cpio or tar
payload and its gzip/bzip2/xz/zstd compression block by block; this module only
decides which entries to keep and where they go.  Every entry name is checked
(no absolute paths, no ``..``), and the bytes written are capped in total, per
file and relative to the compressed bytes read, so a decompression bomb stops
after ``ratio_floor`` bytes instead of filling the disk.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from crashhub.errors import DebuginfoError

BLOCK = 1 << 20


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on one import.  A real kernel-debuginfo RPM or -dbg deb expands 5-10x."""

    max_total: int = 64 << 30  # bytes kept from one package
    max_file: int = 16 << 30  # one vmlinux is ~0.6 GiB with DWARF
    max_ratio: float = 200.0  # expanded / compressed bytes, checked past ratio_floor
    ratio_floor: int = 256 << 20
    max_entries: int = 1_000_000


@dataclass(frozen=True, slots=True)
class Kept:
    rel: PurePosixPath  # the entry's name, normalised ("usr/lib/debug/boot/vmlinux-6.1...")
    path: Path  # where it was written
    kind: str  # "vmlinux" or "module"
    size: int


def keep_kind(name: PurePosixPath) -> str | None:
    """Which debug file an entry is ("vmlinux" / "module"), or None to skip it."""
    base = name.name
    if base in ("vmlinux", "vmlinux.debug") or (
        base.startswith("vmlinux-") and not base.endswith((".map", ".gz", ".xz", ".bz2", ".zst"))
    ):
        return "vmlinux"
    # RPM kernel-debuginfo ships separated "<mod>.ko.debug"; Debian's -dbg keeps unstripped "<mod>.ko".
    if base.endswith((".ko.debug", ".ko")):
        return "module"
    return None


def entry_name(entry: Any) -> str:
    """An entry's path as text.  libarchive hands back ``bytes`` for a name that is not valid UTF-8;
    surrogateescape keeps those bytes, so the name still round-trips to the file system."""
    raw = entry.pathname or ""
    return raw.decode("utf-8", "surrogateescape") if isinstance(raw, bytes) else str(raw)


def safe_name(raw: str, src: str) -> PurePosixPath:
    """The entry name made relative ("./usr/x" -> "usr/x"); absolute or ``..`` names are refused."""
    if "\0" in raw:
        raise DebuginfoError(f"entry name {raw!r} contains a NUL byte", src)
    if raw.startswith("/"):
        raise DebuginfoError(f"entry {raw!r} has an absolute path; refusing the whole package", src)
    parts = [p for p in PurePosixPath(raw).parts if p not in (".", "")]
    if ".." in parts or any("\\" in p for p in parts):
        raise DebuginfoError(f"entry {raw!r} climbs out of the package with '..'; refusing the whole package",
                             src)
    return PurePosixPath(*parts) if parts else PurePosixPath(".")


class CountingStream(io.RawIOBase):
    """A read-only view of ``length`` bytes of ``raw`` (or all of it) that counts what was read."""

    def __init__(self, raw: BinaryIO, length: int | None = None) -> None:
        self.raw = raw
        self.left = length
        self.count = 0
        self.error: OSError | None = None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readinto(self, b: Any) -> int:
        view = memoryview(b).cast("B")
        n = len(view)
        if self.left is not None:
            n = min(n, self.left)
        if n == 0:
            return 0
        try:
            data = self.raw.read(n)
        except OSError as e:  # never raise into libarchive's C callback (see BlockStream)
            self.error = e
            return 0
        view[:len(data)] = data
        self.count += len(data)
        if self.left is not None:
            self.left -= len(data)
        return len(data)


class BlockStream(io.RawIOBase):
    """A stream over an iterator of blocks (a libarchive entry's data), for a nested archive."""

    def __init__(self, blocks: Iterable[bytes]) -> None:
        self.it = iter(blocks)
        self.buf = b""
        self.count = 0
        self.error: Exception | None = None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readinto(self, b: Any) -> int:
        # Called from libarchive's C read callback: an exception must not escape (libarchive-c
        # would leave the buffer pointer unset and libarchive would read garbage), so a failure
        # of the outer archive (a truncated .deb) ends this stream and is re-raised afterwards.
        view = memoryview(b).cast("B")
        while not self.buf:
            if self.error is not None:
                return 0
            try:
                nxt = next(self.it, None)
            except Exception as e:
                self.error = e
                return 0
            if nxt is None:
                return 0
            self.buf = bytes(nxt)
        n = min(len(view), len(self.buf))
        view[:n] = self.buf[:n]
        self.buf = self.buf[n:]
        self.count += n
        return n


class Budget:
    """Running totals for one import, shared by nested readers."""

    def __init__(self, limits: Limits, src: str, compressed: CountingStream | BlockStream) -> None:
        self.limits = limits
        self.src = src
        self.compressed = compressed
        self.total = 0
        self.entries = 0

    def add(self, n: int, name: PurePosixPath, entry_bytes: int) -> None:
        self.total += n
        lim = self.limits
        if entry_bytes > lim.max_file:
            raise DebuginfoError(f"entry {name} expands past the per-file limit of {lim.max_file} bytes "
                                 "(decompression bomb?)", self.src)
        if self.total > lim.max_total:
            raise DebuginfoError(f"package expands past the limit of {lim.max_total} bytes "
                                 "(decompression bomb?)", self.src)
        read = max(self.compressed.count, 1)
        if self.total > lim.ratio_floor and self.total / read > lim.max_ratio:
            raise DebuginfoError(f"decompression bomb: {self.total} bytes out of {read} compressed bytes "
                                 f"(ratio over {lim.max_ratio:g}) at entry {name}", self.src)


def write_entry(entry: Any, out: Path, budget: Budget, name: PurePosixPath) -> int:
    """Write a libarchive entry's data to ``out`` block by block, within ``budget``; its size."""
    out.parent.mkdir(parents=True, exist_ok=True)
    size = 0
    with out.open("wb") as f:
        for block in entry.get_blocks(BLOCK):
            f.write(block)
            size += len(block)
            budget.add(len(block), name, size)
    return size


def extract(archive: Any, dest: Path, budget: Budget) -> list[Kept]:
    """Write the vmlinux and module debug files of a libarchive reader under ``dest``."""
    kept: list[Kept] = []
    try:
        for entry in archive:
            budget.entries += 1
            if budget.entries > budget.limits.max_entries:
                raise DebuginfoError(f"more than {budget.limits.max_entries} entries", budget.src)
            raw_name = entry_name(entry)
            name = safe_name(raw_name, budget.src)
            if not entry.isreg or entry.issym or entry.islnk:
                continue
            kind = keep_kind(name)
            if kind is None:
                continue
            out = dest / name
            kept.append(Kept(name, out, kind, write_entry(entry, out, budget, name)))
    except DebuginfoError:
        raise
    except Exception as e:  # libarchive.ArchiveError and friends: a truncated or corrupt payload
        if type(e).__name__ != "ArchiveError" and not isinstance(e, OSError):
            raise
        msg = getattr(e, "msg", None) or str(e)
        raise DebuginfoError(f"cannot read the archive: {msg} (truncated or corrupt?)", budget.src) from e
    return kept


def read_stream(stream: CountingStream | BlockStream, dest: Path, budget: Budget) -> list[Kept]:
    """Open ``stream`` with libarchive (any supported format and filter) and extract from it."""
    import libarchive  # noqa: PLC0415  (the optional 'analyze' extra)

    try:
        with libarchive.stream_reader(stream, block_size=BLOCK) as archive:
            kept = extract(archive, dest, budget)
    except DebuginfoError:
        raise
    except Exception as e:
        if type(e).__name__ != "ArchiveError":
            raise
        msg = getattr(e, "msg", None) or str(e)
        if stream.error is not None:
            msg = f"{stream.error} ({msg})"
        raise DebuginfoError(f"cannot read the archive: {msg} (truncated or corrupt?)", budget.src) from e
    if stream.error is not None:
        raise DebuginfoError(f"cannot read the archive: {stream.error} (truncated or corrupt?)", budget.src)
    return kept


def fsync_tree(root: Path) -> None:
    """Flush imported files before they are renamed into place, so a crash cannot leave zeros."""
    for dirpath, _dirs, files in os.walk(root):
        for fn in files:
            fd = os.open(os.path.join(dirpath, fn), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
