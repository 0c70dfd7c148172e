"""Taint flags: the letters of ``Tainted: G    B   O      6.1.0`` and what each means.

The letters and their meanings are ``crashhub.kernel.TAINT`` (kernel/panic.c's table).  Since
Linux 6.12 (commit 8eea4e744750 "panic: add taint flags to the 'Tainted:' line") a separate line
``Tainted: [O]=OOT_MODULE, [E]=UNSIGNED_MODULE`` lists the set flags by name.
"""

from __future__ import annotations

from crashhub import _regex
from crashhub.kernel import TAINT
from crashhub.model import Taint

# "Tainted: G    B   O      " (fixed columns, G/space = not proprietary) or "Not tainted".
_TAINTED_RE = _regex.compile(r"\bTainted: ([A-Z ]+?)(?= +\d| *\(| *$| +-)")
_FLAGS_LINE_RE = _regex.compile(r"^\s*Tainted: ((?:\[[A-Z]\]=[A-Z_]+(?:, )?)+)")
_FLAG_LETTER_RE = _regex.compile(r"\[([A-Z])\]")


def parse_taint(line: str) -> Taint | None:
    """The taint on a task line (``CPU: 1 PID: 5 Comm: x Tainted: G  O 6.1.0 #1``), or None."""
    if "Not tainted" in line:
        return Taint("")
    m = _FLAGS_LINE_RE.match(line)
    if m:
        letters = "".join(_FLAG_LETTER_RE.findall(m.group(1)))
        return make_taint(letters)
    m = _TAINTED_RE.search(line)
    if m is None:
        return None
    letters = m.group(1).replace(" ", "").replace("G", "")
    return make_taint(letters)


def make_taint(letters: str) -> Taint:
    flags = tuple(f"{c}: {TAINT[c].meaning}" for c in letters if c in TAINT)
    return Taint(letters, flags)
