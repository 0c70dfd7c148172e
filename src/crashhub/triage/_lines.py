"""Kernel log lines: decoding and the prefixes printk, consoles and syslog put in front of a message.

A kernel message may arrive wrapped in several layers, outermost first::

    Nov 26 05:00:00 host kernel: <4>[   55.967976][ T8377] WARNING: CPU: 1 PID: 8377 at ...
    `-- syslog/journal -------'   |  `-- timestamp -'`caller'
                                  `-- console level (<N>, as in /dev/kmsg or a raw serial capture)

Every layer is optional.  ``[  T123]``/``[  C1]`` caller ids come from CONFIG_PRINTK_CALLER
(Linux 5.1, commit 15ff2069cb7f "printk: Add caller information to printk() output") and let
us separate the lines of one task (or one CPU in interrupt context) from interleaved output.
``dmesg -T`` replaces the timestamp by ``[Thu Nov 26 05:00:00 2026]``.
"""

from __future__ import annotations

from typing import NamedTuple

from crashhub import _regex

# A printk line holds at most ~1 KiB (PRINTK_MESSAGE_MAX / LOG_LINE_MAX); a longer "line" is
# garbage or a binary blob, and cutting it keeps every regex below linear in the log size.
MAX_LINE = 2048

_PREFIX = _regex.compile(
    r"(?P<sys>(?:<\d{1,3}>)?(?:[A-Z][a-z]{2} +\d{1,2} \d\d:\d\d:\d\d|\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d\S*)"
    r" +\S+ +kernel(?:\[\d+\])?: ?)?"
    r"(?:<(?P<level>\d)>)?"
    r"(?:\[ *(?P<ts>\d+\.\d+)\]|\[(?P<human>[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4})\])?"
    r"(?:\[ *(?P<caller>[TC]\d+)\])?"
)


# A syslog/journal line of another program ("gnome-shell[1234]: WARNING: ..."): not the kernel's.
_OTHER_PROGRAM = _regex.compile(
    r"(?:<\d{1,3}>)?(?:[A-Z][a-z]{2} +\d{1,2} \d\d:\d\d:\d\d|\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d\S*)"
    r" +\S+ +(?!kernel(?:\[\d+\])?:)[^\s:\[]+(?:\[\d+\])?: "
)
# Plain dmesg's prefix: "[  12.345678] " or "[  12.345678][ T123] " (not "[ 1.2] [ T4]": see strip).
FAST_PREFIX = r"\[ *(\d+\.\d+)\](?:\[ *([TC]\d+)\])?(?! ?\[ *[TC]\d) ?"
_FAST = _regex.compile(FAST_PREFIX)
_MONOTONIC_HOST = _regex.compile(r"[\w.\-]+ kernel: ")
_LATE_STAMP = _regex.compile(r"\[ *\d+\.\d{6}\] ")
_SPACED_CALLER = _regex.compile(r" \[ *([TC]\d+)\]")  # "[ 1.23] [ T45] text": a space between


class Line(NamedTuple):
    """One log line: its number in the input, the message without prefixes, what the prefixes said.

    A NamedTuple rather than a frozen dataclass: one is made per line of every report, and a
    tuple is several times cheaper to build.
    """

    lineno: int  # 0-based number of the line in the log
    text: str
    timestamp: float | None = None
    caller: str | None = None  # "T123" (task) or "C1" (CPU, interrupt context)
    level: int | None = None
    stamped: bool = False  # the line had a printk timestamp (a kernel line, not console noise)
    foreign: bool = False  # a syslog line of another program


_new = tuple.__new__


def decode(data: bytes | str) -> str:
    """Text of a log in any encoding: UTF-8 where valid, U+FFFD elsewhere; NULs and CRs dropped."""
    text = data if isinstance(data, str) else data.decode("utf-8", "replace")
    if "\x00" in text:
        text = text.replace("\x00", "")
    if "\r" in text:
        # Serial consoles end lines with CRLF; a lone CR (progress output) is dropped too.
        text = text.replace("\r", "")
    return text


def strip(index: int, raw: str) -> Line:
    """Split one raw line into its prefixes and the message."""
    if len(raw) > MAX_LINE:
        raw = raw[:MAX_LINE]
    if raw.startswith("["):
        # The common case, plain dmesg: "[  12.345678] text" or "[  12.345678][ T123] text".
        f = _FAST.match(raw)
        if f is not None:
            end = f.end()
            if raw.find(" kernel: ", end, end + 72) >= 0:
                # journalctl -o short-monotonic: "[    6.715233] web01 kernel: text"
                k = _MONOTONIC_HOST.match(raw, end)
                if k is not None:
                    end = k.end()
            ts, caller = f.groups()
            # tuple.__new__, not Line(...): the NamedTuple's own __new__ is Python code, a fifth of
            # this function's time, and every line of every report comes through here.
            return _new(Line, (index, raw[end:], float(ts), caller, None, True, False))
    m = _PREFIX.match(raw)
    if (m is None or m.end() == 0) and raw[:1].isalnum() and _OTHER_PROGRAM.match(raw):
        return Line(index, "", foreign=True)
    if m is None or m.end() == 0:
        g = _LATE_STAMP.search(raw, 0, 64)
        if g is None:
            return Line(index, raw)
        # Garbage before the stamp ("--2012-06-28 06:[  120.833075] ..."): two writers on one line.
        raw = raw[g.start() :]
        m = _PREFIX.match(raw)
        if m is None:
            return Line(index, raw)
    rest = raw[m.end() :]
    ts = m.group("ts")
    stamped = ts is not None or m.group("human") is not None
    if stamped and m.group("caller") is None:
        # "[ 1.23] [ T45] text": some consoles put a space between the two brackets.
        m2 = _SPACED_CALLER.match(rest)
        caller = m2.group(1) if m2 else None
        if m2:
            rest = rest[m2.end() :]
    else:
        caller = m.group("caller")
    if rest.startswith(" ") and (stamped or caller is not None):
        # One separator space follows the stamp; the message's own indentation stays.
        rest = rest[1:]
    level = m.group("level")
    return Line(
        index,
        rest,
        timestamp=float(ts) if ts is not None else None,
        caller=caller,
        level=int(level) if level is not None else None,
        stamped=stamped or m.group("sys") is not None,
    )
