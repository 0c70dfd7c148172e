"""Netconsole datagrams made from a kernel log, as drivers/net/netconsole.c sends them.

A test helper: each ``[seconds.micros] text`` line of a real log is one printk record; the text is
escaped as printk's ``msg_add_ext_text`` does (bytes below 0x20, from 0x7f, and the backslash as
``\\xNN``) and a record over 1000 bytes is cut in ``ncfrag`` fragments repeating the header, as
``send_ext_msg_udp`` (6.6: with the ``r`` release prefix) does.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

MAX_PRINT_CHUNK = 1000
_STAMP = re.compile(r"\[\s*(\d+)\.(\d{6})\] ?(.*)")


def escape(text: bytes) -> bytes:
    return b"".join(b"\\x%02x" % c if c < 0x20 or c >= 0x7F or c == 0x5C else bytes((c,)) for c in text)


def records(log: str) -> Iterator[tuple[int, str]]:
    """(timestamp in µs, text) of each record of a log: a stamped line, and the unstamped lines
    after it (vmcore-dmesg prints a message's own newlines as indented lines without a stamp)."""
    ts, text, width = None, "", 0
    for line in log.splitlines():
        m = _STAMP.fullmatch(line)
        if m is None and ts is not None:
            text += "\n" + (line[width:] if line[:width].isspace() else line.lstrip())
            continue
        if ts is not None:
            yield ts, text
        if m is None:
            continue
        ts, text, width = int(m[1]) * 1_000_000 + int(m[2]), m[3], m.start(3)
    if ts is not None:
        yield ts, text


def as_console(log: str) -> str:
    """The log as a console prints it: every line of a record behind the record's stamp."""
    out = []
    for ts, text in records(log):
        secs, us = divmod(ts, 1_000_000)
        stamp = f"[{secs:5d}.{us:06d}] "
        out += [stamp + line for line in text.split("\n")]
    return "\n".join(out) + "\n"


def extended(
    seq: int,
    ts_us: int,
    text: str,
    *,
    level: int = 6,
    release: str | None = None,
    dict_lines: tuple[str, ...] = (),
    caller: str | None = None,
    chunk: int = MAX_PRINT_CHUNK,
) -> list[bytes]:
    """The datagrams of one record (one, or its fragments)."""
    head = f"{level},{seq},{ts_us},-" + (f",caller={caller}" if caller else "")
    body = escape(text.encode()) + b"\n" + b"".join(b" " + d.encode() + b"\n" for d in dict_lines)
    pre = f"{release}," if release else ""
    whole = (pre + head + ";").encode() + body
    if len(whole) <= chunk:
        return [whole]
    out = []
    offset = 0
    while offset < len(body):
        h = f"{pre}{head},ncfrag={offset}/{len(body)};".encode()
        piece = body[offset : offset + chunk - len(h)]
        out.append(h + piece)
        offset += len(piece)
    return out


def log_datagrams(log: str, *, first_seq: int = 0, release: str | None = None) -> list[bytes]:
    """Every record of a log as extended datagrams, in order."""
    out: list[bytes] = []
    for i, (ts, text) in enumerate(records(log)):
        out += extended(first_seq + i, ts, text, release=release)
    return out


def plain_datagrams(log: str, size: int = MAX_PRINT_CHUNK) -> list[bytes]:
    """A log as plain netconsole sends it: the console text cut every ``size`` bytes."""
    data = log.encode()
    return [data[i : i + size] for i in range(0, len(data), size)]
