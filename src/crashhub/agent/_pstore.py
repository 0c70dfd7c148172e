"""Crash logs the kernel kept in pstore (``/sys/fs/pstore``): read, decompress, join the parts of a dump.

What the kernel writes (fs/pstore/platform.c ``pstore_dump``, fs/pstore/inode.c ``pstore_mkfile``):

* On an oops or panic (and, with ``printk.always_kmsg_dump``, on other kmsg dumps) the kernel log's
  tail is written as one or more records, each holding ``"<Reason>#<count> Part<n>\\n"`` and then
  log lines in the syslog format of ``kmsg_dump_get_buffer(..., syslog=true, ...)`` (``<4>[  1.2] ...``).
  ``count`` numbers the dumps of one boot (it restarts at 1 on every boot): an oops that panics
  leaves two dumps, ``Oops#1`` and ``Panic#2``, sent here as one crash log; ``kmsg_dump_get_buffer``
  fills a buffer from the *end* of the log, so Part1 holds the newest lines and each later part the
  lines before those.  Parts end on whole lines.  ramoops keeps Part1 only (``ramoops_pstore_write``
  refuses ``part != 1``); EFI variables (~1 KiB each) and ERST take many parts.
* A record is the file ``dmesg-<backend>-<id>`` (``dmesg-ramoops-0``, ``dmesg-efi-<id>``,
  ``dmesg-erst-<id>``); its mtime is the record's time (``record->time``: when it was written).
  ramoops with ``ecc`` appends a notice (``ECC: No errors detected``) after the text: kept, it is
  the record's own word on its integrity (after a compressed stream it is not the text: dropped).
  Other types (``console-``, ``pmsg-``, ``ftrace-``, ``mce-``...) are not crash dumps: left alone.
* Compression: the header and the text are compressed together.  Linux 6.6+ uses raw deflate
  (zlib ``-MAX_WBITS``) only; 4.19-6.5 used the crypto API (``pstore.compress=``: ``deflate``, raw,
  the default, or lzo, lz4, lz4hc, 842, zstd); before 4.19 zlib with its header (or lzo/lz4 chosen at
  build time).  The booting kernel decompresses what it can; a record it could not is named
  ``...enc.z`` and holds the compressed bytes.  Here both deflate forms are read (``zlib``); zstd,
  lzo, lz4 and 842 are not in Python's standard library: such a record is reported and left alone.

Unlinking a file in pstorefs erases the record from its backend: :func:`remove` is called only
after the hub confirmed the crash (``agent/_ship.py``).
"""

from __future__ import annotations

import logging
import os
import re
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("crashhub.agent")

# Bounds on what a scan reads.  A ramoops record is its record_size (4 KiB to some 100 KiB); an
# EFI variable ~1 KiB; the kernel dumps kmsg_bytes (10 KiB by default) per event.
MAX_RECORD_BYTES = 1 << 20  # one file, and one record once decompressed
MAX_FILES = 512  # files looked at per scan (EFI: ~64 parts fill a 64 KiB store)
MAX_CRASH_BYTES = 4 << 20  # one crash's text: the oldest lines beyond it are dropped
# Parts of one dump are written within the same second or two; two dumps with the same count
# (two boots that each crashed once) are told apart by their time.
SAME_DUMP_SECONDS = 60.0

# The file names pstorefs gives dmesg records ("dmesg-%s-%llu%s" in inode.c), and the header
# pstore_dump writes in front of each part ("%s#%d Part%u\n").  Not kernel-log lines: pstore's own.
_DMESG_NAME = re.compile(r"^dmesg-(?P<backend>[a-z0-9_]{1,32})-(?P<id>\d{1,24})(?P<enc>\.enc\.z)?$")
_HEADER = re.compile(rb"^(?P<reason>[A-Za-z]{1,16})#(?P<count>\d{1,9}) Part(?P<part>\d{1,6})\n")
# kmsg_dump_reason_str(): the dumps that are crashes.  "Shutdown", "Restart", "Halt", "Poweroff"
# records (printk.always_kmsg_dump) are a clean stop's log: not shipped, not removed.
CRASH_REASONS = frozenset({"Oops", "Panic", "Emergency", "Unknown"})
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


@dataclass(frozen=True, slots=True)
class Record:
    """One dmesg record file, decompressed, its header read."""

    path: Path
    backend: str  # "ramoops", "efi", "erst", "efi_capsule", ...
    reason: str  # "Oops", "Panic", ... as the header says
    count: int  # the dump's number in its boot
    part: int  # 1 = the newest lines
    time: float  # the record's time (the file's mtime)
    body: bytes  # the log lines, the header taken off
    compressed: str | None = None  # how the file was compressed ("deflate", "zlib"), None when plain


@dataclass(frozen=True, slots=True)
class Dump:
    """One kmsg dump (one ``<Reason>#<count>``): its records, highest part (oldest lines) first."""

    records: tuple[Record, ...]

    @property
    def first(self) -> Record:
        """Part1: the newest lines, and the record written first."""
        return self.records[-1]

    @property
    def missing_parts(self) -> tuple[int, ...]:
        have = {r.part for r in self.records}
        return tuple(p for p in range(1, max(have) + 1) if p not in have)

    def lines(self) -> list[bytes]:
        """The dump's lines in log order, no part headers (parts end on whole lines)."""
        return b"".join(r.body if r.body.endswith(b"\n") or not r.body else r.body + b"\n"
                        for r in self.records).splitlines(keepends=True)


@dataclass(frozen=True, slots=True)
class PstoreCrash:
    """The dumps one boot left, oldest first: one crash log, as kdump's log of that boot would be.

    A panic after an oops is two dumps (``Oops#1``, then ``Panic#2``: pstore_dump numbers every
    dump of a boot); each is a tail of the same log, the later one ending later.  Sent as one text,
    they are one crash on the hub, as the boot's vmcore-dmesg.txt would be.
    """

    dumps: tuple[Dump, ...]

    @property
    def main(self) -> Record:
        """The last dump's Part1: the crash's time and key come from it, and it is removed last
        (:func:`remove`), so the key stays the same while any record of the crash is left."""
        return self.dumps[-1].first

    @property
    def records(self) -> tuple[Record, ...]:
        rs = [r for d in self.dumps for r in d.records]
        rs.remove(self.main)
        return (*rs, self.main)

    @property
    def time(self) -> float:
        return self.main.time

    @property
    def key(self) -> str:
        """The state file's key.  ramoops reuses ``dmesg-ramoops-0`` for the next crash once a
        record is removed: the time tells the two apart."""
        m = self.main
        return f"pstore:{m.backend}:{m.reason}#{m.count}@{int(self.time)}"

    @property
    def stamp(self) -> str:
        return time.strftime("%Y-%m-%d-%H:%M:%S", time.gmtime(self.time))

    @property
    def file_name(self) -> str:
        m = self.main
        return f"{self.stamp.replace(':', '')}-{m.backend}-{m.reason.lower()}-{m.count}.txt"

    def text(self) -> bytes:
        """The boot's dumps as one log (lines two dumps share once), at most MAX_CRASH_BYTES: the
        newest lines kept."""
        lines: list[bytes] = []
        for d in self.dumps:
            lines = _union(lines, d.lines())
        size, cut = 0, len(lines)
        while cut > 0 and size + len(lines[cut - 1]) <= MAX_CRASH_BYTES:
            cut -= 1
            size += len(lines[cut])
        return b"".join(lines[cut:])


def _union(older: list[bytes], newer: list[bytes]) -> list[bytes]:
    """Two tails of one log as one: ``newer`` (a later dump) goes on from where it meets ``older``.
    Lines carry printk timestamps, so a line found in both is the same line."""
    if not older or not newer:
        return older + newer
    try:
        i = len(older) - 1 - older[::-1].index(newer[0])
    except ValueError:
        return older + newer  # the later dump begins after the earlier one ends
    if newer[: len(older) - i] == older[i:]:
        return older[:i] + newer
    return older + newer


@dataclass(frozen=True, slots=True)
class Unreadable:
    path: Path
    why: str


@dataclass(slots=True)
class Scan:
    crashes: list[PstoreCrash] = field(default_factory=list)
    unreadable: list[Unreadable] = field(default_factory=list)
    other: list[Path] = field(default_factory=list)  # not dmesg, or a clean stop's dmesg: left alone


def decompress(data: bytes) -> tuple[bytes, str]:
    """A record's bytes, and the compression found ("deflate", "zlib").  ValueError naming what it
    is when Python's standard library cannot read it."""
    if data.startswith(_ZSTD_MAGIC):
        raise ValueError("zstd-compressed (pstore.compress=zstd, Linux 4.19-6.5): "
                         "not readable with Python's standard library")
    # zlib with its 2-byte header (pstore before 4.19: deflateInit2 with windowBits 12); else raw
    # deflate (the crypto API's "deflate", 4.19-6.5, and zlib -MAX_WBITS since 6.6).
    wrapped = (len(data) >= 2 and data[0] & 0x0F == 8 and data[0] >> 4 <= 7
               and (data[0] << 8 | data[1]) % 31 == 0)
    for wbits, name in ((15, "zlib"), (-15, "deflate")) if wrapped else ((-15, "deflate"),):
        d = zlib.decompressobj(wbits)
        try:
            out = d.decompress(data, MAX_RECORD_BYTES + 1)
        except zlib.error:
            continue
        if len(out) > MAX_RECORD_BYTES:
            raise ValueError(f"decompresses to more than {MAX_RECORD_BYTES} bytes")
        if d.eof:  # a whole stream; the bytes after it (ramoops' ECC notice) are not the text
            return out, name
    raise ValueError("neither deflate nor zlib: lzo, lz4, lz4hc or 842 (pstore.compress=, Linux "
                     "4.19-6.5; not readable with Python's standard library) or damaged")


def parse_record(path: Path, data: bytes, mtime: float) -> Record | Unreadable | None:
    """One file's record; None when the file is not a dmesg record (left alone)."""
    m = _DMESG_NAME.match(path.name)
    if m is None:
        return None
    compressed = None
    if m["enc"]:
        try:
            data, compressed = decompress(data)
        except ValueError as e:
            return Unreadable(path, str(e))
    h = _HEADER.match(data)
    if h is None:
        return Unreadable(path, "no pstore header ('<Reason>#<n> Part<n>') at its start")
    return Record(path=path, backend=m["backend"], reason=h["reason"].decode(), count=int(h["count"]),
                  part=int(h["part"]), time=mtime, body=data[h.end():], compressed=compressed)


def dumps(records: list[Record]) -> list[Dump]:
    """The dumps the records make: same backend, reason and count, written within SAME_DUMP_SECONDS,
    no part twice.  Oldest first."""
    by: dict[tuple[str, str, int], list[Record]] = {}
    for r in records:
        by.setdefault((r.backend, r.reason, r.count), []).append(r)
    out: list[Dump] = []
    for rs in by.values():
        rs.sort(key=lambda r: (r.time, r.part))
        cur: list[Record] = []
        for r in rs:
            if cur and (r.time - cur[0].time > SAME_DUMP_SECONDS or any(c.part == r.part for c in cur)):
                out.append(Dump(tuple(sorted(cur, key=lambda c: -c.part))))
                cur = []
            cur.append(r)
        if cur:
            out.append(Dump(tuple(sorted(cur, key=lambda c: -c.part))))
    out.sort(key=lambda d: (d.first.backend, d.first.time, d.first.count))
    return out


def group(records: list[Record]) -> list[PstoreCrash]:
    """One crash per boot and backend: the dump count restarts at 1 on every boot, so a count that
    does not go up starts another boot's crash.  Oldest first."""
    out: list[PstoreCrash] = []
    cur: list[Dump] = []
    for d in dumps(records):
        if cur and (d.first.backend != cur[-1].first.backend or d.first.count <= cur[-1].first.count):
            out.append(PstoreCrash(tuple(cur)))
            cur = []
        cur.append(d)
    if cur:
        out.append(PstoreCrash(tuple(cur)))
    out.sort(key=lambda c: (c.time, c.key))
    return out


def scan(directory: str) -> Scan:
    """Read the pstore directory (at most MAX_FILES files of MAX_RECORD_BYTES each)."""
    result = Scan()
    if not directory:
        return result
    try:
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
    except FileNotFoundError:
        return result  # pstore not mounted, or no backend: nothing kept
    except OSError as err:
        log.warning("cannot read pstore directory %s: %s", directory, err.strerror)
        return result
    if len(entries) > MAX_FILES:
        log.warning("%s: %d files, reading the first %d", directory, len(entries), MAX_FILES)
    records: list[Record] = []
    for e in entries[:MAX_FILES]:
        path = Path(e.path)
        if not e.is_file(follow_symlinks=False) or not _DMESG_NAME.match(e.name):
            result.other.append(path)
            continue
        try:
            mtime = e.stat(follow_symlinks=False).st_mtime
            with path.open("rb") as f:
                data = f.read(MAX_RECORD_BYTES + 1)
        except OSError as err:
            result.unreadable.append(Unreadable(path, f"cannot read: {err.strerror}"))
            continue
        if len(data) > MAX_RECORD_BYTES:
            result.unreadable.append(Unreadable(path, f"larger than {MAX_RECORD_BYTES} bytes"))
            continue
        rec = parse_record(path, data, mtime)
        if isinstance(rec, Unreadable):
            result.unreadable.append(rec)
        elif rec is not None and rec.reason not in CRASH_REASONS:
            result.other.append(path)
        elif rec is not None:
            records.append(rec)
    result.crashes = group(records)
    return result


def save(crash: PstoreCrash, directory: Path) -> Path:
    """The dump's text in a file of its own under ``directory`` (the agent's copy, kept as kdump's
    logs are; the upload reads it), written once, atomically."""
    path = directory / crash.file_name
    if path.exists():
        return path
    directory.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(crash.text())
    os.replace(tmp, path)
    return path


def remove(crash: PstoreCrash) -> int:
    """Erase the dump's records from the backend (unlink in pstorefs); the number removed.  A record
    already gone counts as removed; any other failure raises OSError naming the file.  Part1 goes
    last (``records`` are highest part first): it carries the dump's key."""
    for r in crash.records:
        r.path.unlink(missing_ok=True)
    return len(crash.records)
