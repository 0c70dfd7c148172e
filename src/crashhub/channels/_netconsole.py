"""Netconsole datagrams to printk records (a pure core: bytes in, records out).

Two wire formats, both from ``drivers/net/netconsole.c``:

- plain (``netconsole=...``): the console's text as printk prints it (``[   12.345678] text\\n``),
  cut into datagrams of at most 1000 bytes (``MAX_PRINT_CHUNK``) wherever the cut falls, so a line
  may span datagrams; no sequence number, so nothing says what was lost.
- extended (``netconsole=+...``, Linux 4.2, "netconsole: implement extended console support"): one
  printk record a datagram, in /dev/kmsg's format::

      <level>,<seq>,<timestamp_us>,<flags>[,caller=T12];<text>\\n[ KEY=VALUE\\n...]

  ``caller=`` is there with CONFIG_PRINTK_CALLER (5.1).  The text's bytes below 0x20, from 0x7f on,
  and the backslash are escaped ``\\xNN`` (printk's ``msg_add_ext_text``), so a record is one line
  on the wire however many lines its text holds.  The `` KEY=VALUE`` lines after it are the
  record's dictionary (``SUBSYSTEM=``, ``DEVICE=``), then netconsole's userdata (configfs, 6.9)
  and sysdata (``cpu=``, ``taskname=``, ``release=``, ``msgid=``; 6.15 and later).
  With ``r`` (``netconsole=+r...``, 6.6) every datagram starts with ``<release>,``.  A record over
  1000 bytes goes in fragments, each with ``,ncfrag=<offset>/<total>`` before the ``;``: offset and
  total count the bytes after the ``;`` (text, dictionary, userdata), and every fragment repeats
  the header.

Every number read here is bounded; a datagram that is not what it claims is refused (counted by
the caller), never half-used.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import NamedTuple

from crashhub.errors import DatagramError

# A datagram is at most MAX_PRINT_CHUNK (1000) bytes; the header is the few fields before ';'.
MAX_DATAGRAM = 1000
# Largest record reassembled from fragments.  printk's record text is at most 1 KiB (2 KiB since
# 6.1's PRINTK_MESSAGE_MAX) and escaping may make it 4x longer; the dictionary and userdata
# (16 entries of 54 + 200 bytes, 6.9) add a few KiB.  Past this a "total" is a lie.
MAX_RECORD = 16 * 1024
MAX_PARTIALS = 8  # records being reassembled at once per sender; the oldest is dropped past it
MAX_CHUNKS = 64  # fragments of one record (netconsole's are ~900 bytes: 19 for the largest)
MAX_FIELDS = 64  # KEY=VALUE lines read from one record
_NUMBER = 20  # digits of a u64

_ESCAPE = re.compile(rb"\\x([0-9a-fA-F]{2})")
# [<release>,]<level>,<seq>,<timestamp_us>,<flags>[,<key>=<value>...];  one match a datagram: the
# receiver's hot path (a split and a check per field cost three times as much).
_HEADER = re.compile(
    rb"(?:([!-+\--:<-~]{1,64}),)?"  # the release: printable ASCII but ',', ';' and space
    rb"(\d{1,3}),(\d{1,20}),(\d{1,20}),([^,;\d])((?:,[^,;]{0,40}){0,4});"
)


class Record(NamedTuple):
    """One printk record of an extended stream.  A NamedTuple: one is made per datagram."""

    seq: int
    ts_us: int
    level: int
    caller: str | None
    release: str | None  # the `r` prefix
    text: str  # unescaped; several lines when the message held newlines
    fields: tuple[tuple[str, str], ...]  # dictionary, userdata and sysdata lines, in order


class Header(NamedTuple):
    seq: int
    ts_us: int
    level: int
    caller: str | None
    release: str | None
    frag: tuple[int, int] | None  # (offset, total) of an ncfrag fragment


def unescape(raw: bytes) -> str:
    """The text printk escaped: ``\\xNN`` back to its byte, then UTF-8 (invalid bytes replaced)."""
    if b"\\" in raw:
        raw = _ESCAPE.sub(lambda m: bytes((int(m[1], 16),)), raw)
    return raw.decode("utf-8", "replace")


def _digits(s: str) -> bool:
    return 0 < len(s) <= _NUMBER and s.isascii() and s.isdigit()


def parse_header(data: bytes) -> tuple[Header, bytes] | None:
    """The extended header and the bytes after its ``;``; None when ``data`` is no extended datagram
    (plain netconsole text).  ``DatagramError`` when it is one and breaks the format."""
    m = _HEADER.match(data)
    if m is None:
        return None  # plain text (a stamp "[ 1.2]" never matches: '[' and ' ' are no release)
    rel, level, seq, ts, _flags, extras = m.groups()
    caller, frag = None, None
    if extras:
        for extra in extras.decode("ascii", "replace").split(",")[1:]:
            key, _, value = extra.partition("=")
            if key == "ncfrag":
                frag = _frag(value)
            elif key == "caller" and 1 < len(value) <= 12 and value[0] in "TC" and value[1:].isdigit():
                caller = value
    release = rel.decode("ascii") if rel is not None else None
    return Header(int(seq), int(ts), int(level) & 7, caller, release, frag), data[m.end() :]


def _frag(value: str) -> tuple[int, int]:
    off, slash, total = value.partition("/")
    if not slash or not _digits(off) or not _digits(total):
        raise DatagramError(f"ncfrag={value[:40]!r}: not <offset>/<total>")
    o, t = int(off), int(total)
    if t > MAX_RECORD:
        raise DatagramError(f"ncfrag total {t} is larger than a record can be ({MAX_RECORD})")
    if o >= t:
        raise DatagramError(f"ncfrag offset {o} is past the total {t}")
    return o, t


def split_body(body: bytes) -> tuple[str, tuple[tuple[str, str], ...]]:
    """A record's body: its text (the first line, unescaped) and its `` KEY=VALUE`` lines."""
    nl = body.find(b"\n")
    if nl < 0:
        return unescape(body), ()
    text = unescape(body[:nl])
    rest = body[nl + 1 :]
    if not rest:
        return text, ()
    fields = []
    for line in rest.split(b"\n", MAX_FIELDS)[:MAX_FIELDS]:
        if line.startswith(b" ") and b"=" in line:
            k, _, v = line[1:].partition(b"=")
            fields.append((unescape(k), unescape(v)))
    return text, tuple(fields)


def record(h: Header, body: bytes) -> Record:
    text, fields = split_body(body)
    return Record(h.seq, h.ts_us, h.level, h.caller, h.release, text, fields)


@dataclass(slots=True)
class _Partial:
    total: int
    chunks: dict[int, bytes] = field(default_factory=dict)
    have: int = 0


class Reassembly:
    """The fragments of one sender's records, by sequence number, bounded in count and size."""

    def __init__(self, max_partials: int = MAX_PARTIALS) -> None:
        self.max_partials = max_partials
        self._partials: dict[int, _Partial] = {}
        self.dropped = 0  # records given up unfinished (evicted or refused)

    def add(self, seq: int, offset: int, total: int, chunk: bytes) -> bytes | None:
        """The whole body once its last fragment is in, else None.  ``DatagramError`` for a fragment that
        does not fit the record its first fragment announced (the record is dropped)."""
        p = self._partials.get(seq)
        if p is None:
            if len(self._partials) >= self.max_partials:
                del self._partials[next(iter(self._partials))]  # oldest first (dicts keep order)
                self.dropped += 1
            p = self._partials[seq] = _Partial(total)
        if p.total != total or offset + len(chunk) > total or len(p.chunks) >= MAX_CHUNKS:
            del self._partials[seq]
            self.dropped += 1
            raise DatagramError(
                f"fragment {offset}+{len(chunk)} of record {seq} does not fit its total {p.total}")
        if offset in p.chunks or not chunk:
            return None  # a duplicate datagram
        p.chunks[offset] = chunk
        p.have += len(chunk)
        if p.have < total:
            return None
        del self._partials[seq]
        body = b"".join(p.chunks[o] for o in sorted(p.chunks))
        if len(body) != total or not _tiles(p.chunks):
            self.dropped += 1
            raise DatagramError(f"fragments of record {seq} overlap")
        return body

    def forget_below(self, seq: int) -> None:
        """Drop records older than ``seq`` (the stream gave them up as lost)."""
        for s in [s for s in self._partials if s < seq]:
            del self._partials[s]
            self.dropped += 1

    def clear(self) -> None:
        self._partials.clear()


def _tiles(chunks: dict[int, bytes]) -> bool:
    at = 0
    for off in sorted(chunks):
        if off != at:
            return False
        at += len(chunks[off])
    return True


def lines_of(r: Record) -> str:
    """A record as dmesg prints it: every line of its text behind ``[seconds.micros]`` (and the
    ``[  T12]`` caller id that CONFIG_PRINTK_CALLER consoles print), lines joined by newlines."""
    secs, us = divmod(r.ts_us, 1_000_000)
    prefix = f"[{secs:5d}.{us:06d}][{r.caller:>6}] " if r.caller else f"[{secs:5d}.{us:06d}] "
    text = r.text.replace("\x00", "") if "\x00" in r.text else r.text
    if "\n" not in text:
        return prefix + text
    return "\n".join(prefix + line for line in text.split("\n"))
