"""Cheap tests for a stream of log lines (the hub's netconsole receiver): may a line begin a crash
report, is it a boot banner.  The same needles ``parse`` scans a log for, so a stream watched line by
line and a log parsed whole agree on where reports may start; ``parse`` alone says what they are.
"""

from __future__ import annotations

from crashhub.triage._fields import banner
from crashhub.triage._oops import SCAN_ANCHORS, find_oops

BANNER = "Linux version "


def may_start_report(text: str) -> bool:
    """Whether a line of ``text`` (one or more lines) holds an oops header ``parse`` would look at.

    A substring pass over the scan anchors first (most lines hold none), then the header table on
    the lines that do.  A yes is a candidate only: ``parse`` decides whether a report is there.
    A plain loop: faster than ``any()`` over a generator or one alternation regexp (per line, on the
    netconsole receiver's hot path)."""
    for anchor in SCAN_ANCHORS:
        if anchor in text:
            return any(find_oops(line) is not None for line in text.split("\n") if line)
    return False


def boot_banner(text: str) -> str | None:
    """The release a boot banner line names (``Linux version 6.1.0-57-cloud-amd64 (...) #1 ...``),
    or None when ``text`` is no banner."""
    if BANNER not in text:
        return None
    found = banner(text[text.find(BANNER):].split("\n", 1)[0][:1024])
    return found[0] if found is not None else None
