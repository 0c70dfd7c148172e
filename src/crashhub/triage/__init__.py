"""Triage: kernel log text in, crash reports out (a pure core; ``parse_file`` is the only I/O).

>>> from crashhub.triage import parse
>>> [r.title for r in parse(log_bytes)]
['general protection fault in crashmod_init']
"""

from __future__ import annotations

import os

from crashhub._face import face
from crashhub.errors import LogError
from crashhub.triage._kinds import KINDS
from crashhub.triage._parse import parse

TYPE_CHECKING = False  # not typing's: importing typing is not free on the CLI's fast paths
if TYPE_CHECKING:
    from pathlib import Path
    from typing import BinaryIO

    from crashhub.model import CrashReport

MAX_LOG_BYTES = 1 << 30  # a kernel log ring is at most a few MiB; a GiB is surely not a log

__all__ = ["KINDS", "WatchdogEvents", "last_task_line", "parse", "parse_file", "watchdog_events"]


def parse_file(path: str | Path) -> list[CrashReport]:
    """Parse a log file; ``LogError`` naming the file when it is unreadable or not a text log."""
    p = os.fspath(path)  # not pathlib: with the urllib.parse it loads, ~4 ms of a CLI start
    try:
        with open(p, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if size > MAX_LOG_BYTES:
                raise LogError(f"too large for a kernel log ({size} bytes)", p)
            data = _read_at_most(fh, MAX_LOG_BYTES)
    except IsADirectoryError as e:
        raise LogError("is a directory, not a log file", p) from e
    except OSError as e:
        raise LogError(f"cannot read: {e.strerror or e}", p) from e
    if not looks_like_text(data):
        raise LogError("not a kernel log (binary data)", p)
    return parse(data)


def _read_at_most(fh: BinaryIO, limit: int) -> bytes:
    """Up to ``limit`` bytes, read by the MiB: ``read(limit)`` would allocate all of ``limit`` first
    (1 GiB for every log, however small)."""
    buf = bytearray()
    while len(buf) < limit and (chunk := fh.read(min(1 << 20, limit - len(buf)))):
        buf += chunk
    return bytes(buf)


# Control bytes a log does not hold: all below 32 but tab, newline, CR, ESC and NUL (counted apart), and DEL.
_CONTROL = bytes(b for b in range(32) if b not in (9, 10, 13, 27, 0)) + b"\x7f"


def looks_like_text(data: bytes) -> bool:
    """A log is text: in its first 64 KiB, control bytes other than tab/newline/CR/ESC are rare."""
    head = data[:65536]
    if not head:
        return True
    if head.startswith((b"\x7fELF", b"KDUMP   ", b"makedumpfile", b"\x1f\x8b", b"\xfd7zXZ", b"BZh")):
        return False
    bad = len(head) - len(head.translate(None, _CONTROL))
    nul = head.count(0)
    # Random binary data is ~45% bytes that are no UTF-8; a log, next to none (syzkaller 239's
    # corrupted comm: 14 in 881 bytes).  Control bytes alone (11% of random data) let one short blob
    # in five pass for text.
    invalid = head.decode("utf-8", "replace").count("\ufffd")
    # A few garbage bytes are a serial console's daily fare (a corrupted comm, line noise): a short
    # log keeps a fixed allowance; random binary data has about 11% such bytes.
    return bad <= len(head) // 100 + 16 and nul <= len(head) // 4 and invalid <= len(head) // 20 + 16


# The public face (as httpx does): the names other parts use, loaded on first use so that importing
# crashhub.triage stays cheap and free of import cycles; the modules behind it are private (_x).
if TYPE_CHECKING:
    from crashhub.triage._events import WatchdogEvents as WatchdogEvents
    from crashhub.triage._events import assertion_site as assertion_site
    from crashhub.triage._events import last_task_line as last_task_line
    from crashhub.triage._events import watchdog_events as watchdog_events
    from crashhub.triage._title import normalize as normalize
    from crashhub.triage._trigger import BANNER as BANNER
    from crashhub.triage._trigger import boot_banner as boot_banner
    from crashhub.triage._trigger import may_start_report as may_start_report

# The watchdog events are read by deep analysis, not by parse: `crashhub triage` does not load them.
_FACE: dict[str, str] = {
    "normalize": "crashhub.triage._title",
    "BANNER": "crashhub.triage._trigger",
    "boot_banner": "crashhub.triage._trigger",
    "may_start_report": "crashhub.triage._trigger",
    "WatchdogEvents": "crashhub.triage._events",
    "assertion_site": "crashhub.triage._events",
    "last_task_line": "crashhub.triage._events",
    "watchdog_events": "crashhub.triage._events",
}
__all__ += ["BANNER", "assertion_site", "boot_banner", "may_start_report", "normalize"]


__getattr__ = face(globals(), _FACE)
