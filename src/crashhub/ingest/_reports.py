"""Stored reports back into models, and the content identity of a crash.

The store keeps the primary :class:`CrashReport` as JSON (``CrashReport.to_dict()``); re-applying the
knowledge base later needs the model back (:func:`report_from_dict`).
"""

from __future__ import annotations

import hashlib
import re

from crashhub.model import CrashReport, JsonObject

IDENTITY_VERSION = "crash-id:2026-11-26"
_CALLER = re.compile(r"^(\[\s*\d+\.\d+\])\s*\[\s*[TC]\d+\]")  # CONFIG_PRINTK_CALLER's "[T123]" / "[C1]"
_STAMP = re.compile(r"^\[\s*(\d+\.\d+)\]")
_LEVEL = re.compile(r"^<\d{1,2}>")
IDENTITY_TAIL = 200  # lines hashed when triage finds no report


def report_from_dict(d: JsonObject) -> CrashReport:
    """The stored report as a model again (``CrashReport.from_dict``: every field round-trips)."""
    return CrashReport.from_dict(d)


def normalise_line(line: str) -> str:
    """One log line as every copy of the same log shows it (level prefix, caller id, padding dropped)."""
    s = _LEVEL.sub("", line.rstrip("\r\n").strip())
    s = _CALLER.sub(r"\1", s)
    s = _STAMP.sub(lambda m: f"[{m.group(1)}]", s)
    return " ".join(s.split())


def identity(log: str, report: CrashReport | None, release: str | None) -> str:
    """What makes a crash the same crash whatever file or layout it came in.

    The primary report's lines *with* their printk timestamps: the same bug on another boot differs
    in its timestamps (and, with KASLR, its addresses), while a ``vmcore-dmesg.txt``, a Debian
    ``dmesg.<stamp>`` and the log read back out of the dump (flat or not) of one crash agree line for
    line.  The kernel release is part of the key; host and crash time are compared by the caller
    where both sides know them (a log-only upload knows neither reliably).
    """
    lines = log.splitlines()
    if report is not None and 0 <= report.start_line <= report.end_line < len(lines):
        region = lines[report.start_line : report.end_line + 1]
    else:
        region = lines[-IDENTITY_TAIL:]
    norm = [n for n in (normalise_line(x) for x in region) if n]
    h = hashlib.sha256()
    h.update(f"{IDENTITY_VERSION}\n{release or ''}\n".encode())
    h.update("\n".join(norm).encode("utf-8", "replace"))
    return h.hexdigest()
