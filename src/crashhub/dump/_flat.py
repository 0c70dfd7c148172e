"""The flattened format (``makedumpfile -F``): a dump written as a stream of (offset, size, data) records.

Layout (makedumpfile ``makedumpfile.h`` 1454–1478, ``rearrange_dumpdata``): a 4096-byte header
(``"makedumpfile"``, int64 type = 1, int64 version = 1, zero padded), then records ``{int64 offset;
int64 buf_size}`` + data, all big-endian, in write order; the end marker is offset = size = -1.
``makedumpfile -R`` stops at the first record with offset < 0 or size <= 0 and fails unless it is the
exact end marker; gaps are never written, so its output is sparse.  :func:`reassemble` does the same,
and :class:`FlatSource` reads a flat file in place through an index of its records.
"""

from __future__ import annotations

import bisect
import errno
import io
import os
import stat
import struct

from crashhub.dump._source import MAX_READ
from crashhub.errors import DumpFormatError, DumpTruncatedError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import IO, BinaryIO

    Progress = Callable[[int], None]

SIGNATURE = b"makedumpfile\0"
HEADER_SIZE = 4096
TYPE_FLAT_HEADER = 1
END_FLAG = -1
RECORD = struct.Struct(">qq")
INDEX = struct.Struct("=qqqq")  # one in-place index entry, native order (see FlatSource._build)
# A reassembled dump larger than this (1 PiB) is a corrupt offset, not a machine.
MAX_OFFSET = 1 << 50
# 2 Mi records: 48 MiB of index plus ~100 MiB while sorting it.  makedumpfile writes 64 KiB cache
# records, so that is a ~128 GiB flat file; a file with more is reassembled rather than read in place,
# to keep within the memory bound.
MAX_RECORDS = 1 << 21

def check_header(head: bytes, path: str) -> None:
    if len(head) < 32:
        raise DumpTruncatedError("flattened header is cut short", path, 0)
    if head[:13] != SIGNATURE:
        raise DumpFormatError("not a flattened dump (no 'makedumpfile' signature)", path, 0)
    ftype = struct.unpack_from(">q", head, 16)[0]
    if ftype != TYPE_FLAT_HEADER:
        raise DumpFormatError(f"flattened header type {ftype}, expected 1", path, 16)


def _check_record(off: int, size: int, path: str, at: int) -> bool:
    """True for a data record, False for the end marker; raises on anything else."""
    if off >= 0 and size > 0:
        if off > MAX_OFFSET or size > MAX_OFFSET or off + size > MAX_OFFSET:
            raise DumpFormatError(f"flattened record offset {off:#x} size {size:#x} out of range", path, at)
        return True
    if off == END_FLAG and size == END_FLAG:
        return False
    raise DumpFormatError(f"bad flattened record (offset {off}, size {size}); expected the -1/-1 end marker",
                          path, at)


class FlatSource:
    """A flat file seen as the dump it encodes, without rewriting it.

    The index holds, per record, its output offset, size and position in the flat file (24 bytes a
    record), sorted by output offset; where records overlap the later write wins, as with ``-R``.

    A stream cut short (a copy still running, a capture that died) raises DumpTruncatedError when
    ``strict``; otherwise the records up to the cut are kept and ``truncated_at`` says where it ends:
    the dump is then incomplete, as the file ``-R`` would have rebuilt before failing.
    """

    def __init__(self, path: str | os.PathLike[str], progress: Progress | None = None,
                 strict: bool = True) -> None:
        self.path = str(path)
        self.truncated_at: int | None = None
        self._fd = os.open(self.path, os.O_RDONLY)
        try:
            self._build(progress, strict)
        except BaseException:
            os.close(self._fd)
            raise

    def _build(self, progress: Progress | None, strict: bool) -> None:
        fd = self._fd
        fsize = os.fstat(fd).st_size
        check_header(os.pread(fd, HEADER_SIZE, 0), self.path)
        if fsize < HEADER_SIZE:
            raise DumpTruncatedError("flattened header is cut short", self.path, 0)
        # One 16-byte pread per record: the data between headers is never read here.  (An mmap
        # window was tried: no faster, and fault-around maps 64 KiB per header, inflating the RSS.
        # Reading 2-4 KiB at a header, to find the next one in the same read, was slower too: a
        # pread costs 0.3 us here, the per-record Python work three times that.)
        # A 4 GiB dump written with 64 KiB caches has ~130 000 records: ~0.5 s.
        # The index is packed native int64s (output offset, size, flat position, write number), 32
        # bytes a record, read through memoryview.cast: as compact as array("q"), without importing
        # array (which loads collections, >1 ms of `crashhub dump dmesg` on a flat file).
        idx = bytearray()
        pack = INDEX.pack
        pread, unpack, hsize = os.pread, RECORD.unpack, RECORD.size
        pos = HEADER_SIZE
        end_seen = False
        next_report = 1 << 26
        n = 0
        while True:
            hdr = pread(fd, hsize, pos)
            if len(hdr) < hsize:
                if strict:
                    raise DumpTruncatedError("flattened file ends without its end marker", self.path, pos)
                self.truncated_at = pos
                break
            off, size = unpack(hdr)
            if not (0 <= off <= MAX_OFFSET and 0 < size <= MAX_OFFSET) and not _check_record(
                    off, size, self.path, pos):
                end_seen = True
                break
            data_pos = pos + hsize
            if data_pos + size > fsize:
                if strict:
                    raise DumpTruncatedError(f"flattened record of {size} bytes runs past the end of the "
                                             "file", self.path, pos)
                self.truncated_at = pos
                size = fsize - data_pos  # keep what arrived of the last record
            idx += pack(off, size, data_pos, n)
            n += 1
            pos = data_pos + size
            if pos >= next_report:
                if n > MAX_RECORDS:
                    raise DumpFormatError(f"more than {MAX_RECORDS} flattened records: too many to index in "
                                          "place, reassemble the file instead", self.path, pos)
                if progress is not None:
                    progress(pos)
                next_report = pos + (1 << 26)
        if n > MAX_RECORDS:
            raise DumpFormatError(f"more than {MAX_RECORDS} flattened records: too many to index in place, "
                                  "reassemble the file instead", self.path, pos)
        assert end_seen or self.truncated_at is not None
        self.flat_size = fsize
        self.end = pos + RECORD.size
        outs = memoryview(idx).cast("q")[0::4]
        # Sorted by output offset; write order stays in the 4th column: where records overlap, the
        # later write wins (as with -R).  makedumpfile writes mostly in offset order, so this is
        # usually a check that finds nothing to move (Timsort is linear on sorted input).
        order = sorted(range(n), key=outs.__getitem__)
        if any(map(int.__ne__, order, range(n))):
            w = INDEX.size
            raw = bytes(idx)
            idx = bytearray(b"".join([raw[w * i:w * i + w] for i in order]))
        cols = memoryview(idx).cast("q")
        self._off, self._size, self._pos, self._seq = cols[0::4], cols[1::4], cols[2::4], cols[3::4]
        self.records = n
        # Longest record: a read at x must look back this far for records that cover x.
        self._maxlen = max(self._size) if n else 0
        ends = list(map(int.__add__, self._off, self._size))
        self.size = max(ends, default=0)
        self.overlap = any(map(int.__gt__, ends[:-1], self._off[1:]))

    def pread(self, offset: int, size: int) -> bytes:
        if offset < 0 or size < 0 or size > MAX_READ:
            raise DumpFormatError(f"bad read of {size} bytes", self.path, offset)
        if offset + size > self.size:
            raise DumpTruncatedError(f"reassembled dump ends ({self.size} bytes) before {size} bytes here",
                                     self.path, offset)
        end = offset + size
        lo = bisect.bisect_left(self._off, offset - self._maxlen)
        hi = bisect.bisect_left(self._off, end)
        if not self.overlap:
            # Common case: one or two records, sorted and disjoint; gaps are zeros (sparse in -R output).
            parts = []
            cur = offset
            for i in range(lo, hi):
                o, s = self._off[i], self._size[i]
                if o + s <= cur:
                    continue
                if o > cur:
                    parts.append(bytes(o - cur))
                    cur = o
                n = min(end, o + s) - cur
                parts.append(os.pread(self._fd, n, self._pos[i] + (cur - o)))
                cur += n
            if cur < end:
                parts.append(bytes(end - cur))
            data = b"".join(parts)
        else:
            buf = bytearray(size)
            hits = sorted((i for i in range(lo, hi) if self._off[i] + self._size[i] > offset),
                          key=self._seq.__getitem__)
            for i in hits:  # in write order, so later records overwrite earlier ones
                o, s = self._off[i], self._size[i]
                a, b = max(o, offset), min(o + s, end)
                buf[a - offset:b - offset] = os.pread(self._fd, b - a, self._pos[i] + (a - o))
            data = bytes(buf)
        if len(data) != size:
            raise DumpTruncatedError("short read of a flattened record", self.path, offset)
        return data

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def _read_exact(f: IO[bytes], n: int, path: str, at: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        b = f.read(n - len(buf))
        if not b:
            raise DumpTruncatedError(f"flattened stream ends {n - len(buf)} bytes early", path, at + len(buf))
        buf += b
    return bytes(buf)


def _name(f: object, default: str) -> str:
    n = getattr(f, "name", None)
    return n if isinstance(n, str) else default


def _regular_fd(f: object) -> int | None:
    """The fd of a regular file we may pread/copy_file_range on, else None (pipes, BytesIO)."""
    # Only plain file objects: a GzipFile/LZMAFile's fileno() is the *compressed* file's.
    if not isinstance(f, (io.FileIO, io.BufferedReader, io.BufferedWriter, io.BufferedRandom)):
        return None
    try:
        fd = f.fileno()
    except (OSError, io.UnsupportedOperation):
        return None
    return fd if isinstance(fd, int) and stat.S_ISREG(os.fstat(fd).st_mode) else None


def reassemble(src: str | os.PathLike[str] | BinaryIO, dst: str | os.PathLike[str] | BinaryIO,
               progress: Progress | None = None, name: str | None = None) -> None:
    """Rebuild the dump a flat file encodes (``makedumpfile -R``): streaming, gaps left sparse.

    ``src`` may be a path or a binary file object (a pipe works: records are read in order);
    ``dst`` a path or a writable binary file object.  A bad or truncated stream raises a DumpError
    naming the stream and offset; whatever was written stays (as with -R).
    """
    own: list[IO[bytes]] = []
    try:
        if isinstance(src, (str, os.PathLike)):
            fin: IO[bytes] = open(src, "rb", buffering=0)  # noqa: SIM115
            own.append(fin)
        else:
            fin = src
        if isinstance(dst, (str, os.PathLike)):
            fout: IO[bytes] = open(dst, "wb")  # noqa: SIM115
            own.append(fout)
        else:
            fout = dst
        _reassemble(fin, fout, name or _name(fin, "<stdin>"), progress)
    finally:
        for f in reversed(own):
            f.close()


def _reassemble(fin: IO[bytes], fout: IO[bytes], path: str, progress: Progress | None) -> None:
    in_fd = _regular_fd(fin)
    out_fd = _regular_fd(fout)
    if out_fd is not None:
        fout.flush()
    check_header(_read_exact(fin, HEADER_SIZE, path, 0), path)
    # With both ends regular files the kernel copies (copy_file_range, no data through Python; -R
    # itself reads and writes 4 KiB at a time).  We then track the input position ourselves.
    fast = in_fd is not None and out_fd is not None and hasattr(os, "copy_file_range")
    pos = fin.tell() if fast else HEADER_SIZE
    view = memoryview(bytearray(1 << 20))
    next_report = 0
    while True:
        if fast:
            assert in_fd is not None
            hdr = os.pread(in_fd, RECORD.size, pos)
            if len(hdr) < RECORD.size:
                raise DumpTruncatedError("flattened stream ends without its end marker", path, pos)
        else:
            hdr = _read_exact(fin, RECORD.size, path, pos)
        off, size = RECORD.unpack(hdr)
        if not _check_record(off, size, path, pos):
            break
        try:
            done = 0
            if fast:
                assert in_fd is not None and out_fd is not None
                done = _copy_kernel(in_fd, out_fd, pos + RECORD.size, off, size, path=path, at=pos)
                if done < size:
                    # The kernel cannot copy between these files (EXDEV across file systems before
                    # Linux 5.3, some FUSE/NFS mounts): go on through user space from here.
                    fast = False
                    fin.seek(pos + RECORD.size + done)
            if not fast:
                _copy_user(fin, fout, out_fd, view, off=off + done, size=size - done, path=path, at=pos)
        except OSError as e:
            if e.errno in (errno.EFBIG, errno.EINVAL, errno.EOVERFLOW):
                # An offset the output file cannot hold: a corrupt record, not a full disk.
                raise DumpFormatError(f"record offset {off:#x} is too large for the output ({e.strerror})",
                                      path, pos) from None
            raise
        pos += RECORD.size + size
        if progress is not None and pos >= next_report:
            progress(pos)
            next_report = pos + (8 << 20)
    if fast:
        fin.seek(pos + RECORD.size)
    if out_fd is None:
        fout.flush()


_NO_KERNEL_COPY = (errno.EXDEV, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL, errno.EBADF)


def _copy_kernel(in_fd: int, out_fd: int, src: int, dst: int, size: int, *, path: str, at: int) -> int:
    """copy_file_range a record; returns the bytes copied (less than ``size`` if the kernel refuses)."""
    left = size
    while left:
        try:
            n = os.copy_file_range(in_fd, out_fd, left, src, dst)
        except OSError as e:
            if e.errno in _NO_KERNEL_COPY:
                return size - left
            raise
        if n <= 0:
            raise DumpTruncatedError(f"flattened record of {size} bytes runs past the end", path, at)
        left -= n
        src += n
        dst += n
    return size


def _copy_user(fin: IO[bytes], fout: IO[bytes], out_fd: int | None, view: memoryview, *, off: int,
               size: int, path: str, at: int) -> None:
    if out_fd is None:
        fout.seek(off)
    left = size
    while left:
        got = fin.readinto(view[:min(left, len(view))])  # type: ignore[attr-defined]
        if not got:
            raise DumpTruncatedError(f"flattened record of {size} bytes runs past the end", path, at)
        if out_fd is not None:
            os.pwrite(out_fd, view[:got], off)
        else:
            fout.write(view[:got])
        left -= got
        off += got
