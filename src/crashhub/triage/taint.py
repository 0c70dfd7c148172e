"""Taint flags: the letters of ``Tainted: G    B   O      6.1.0`` and what each means.

Letters and meanings from Documentation/admin-guide/tainted-kernels.rst.  Since Linux 6.12
(commit 8eea4e744750 "panic: add taint flags to the 'Tainted:' line") a separate line
``Tainted: [O]=OOT_MODULE, [E]=UNSIGNED_MODULE`` lists the set flags by name.
"""

from __future__ import annotations

import re

from crashhub.model import Taint

TAINT_FLAGS: dict[str, str] = {
    "P": "proprietary module was loaded",
    "F": "module was force loaded",
    "S": "kernel running on an out of specification system",
    "R": "module was force unloaded",
    "M": "processor reported a Machine Check Exception (MCE)",
    "B": "bad page referenced or some unexpected page flags",
    "U": "taint requested by userspace application",
    "D": "kernel died recently, i.e. there was an OOPS or BUG",
    "A": "ACPI table overridden by user",
    "W": "kernel issued warning",
    "C": "staging driver was loaded",
    "I": "workaround for bug in platform firmware applied",
    "O": "externally-built (out-of-tree) module was loaded",
    "E": "unsigned module was loaded",
    "L": "soft lockup occurred",
    "K": "kernel has been live patched",
    "X": "auxiliary taint, defined for and used by distros",
    "T": "kernel was built with the struct randomization plugin",
    "N": "an in-kernel test has been run",
    "J": "userspace used a mutating debug operation in fwctl",
}

# "Tainted: G    B   O      " (fixed columns, G/space = not proprietary) or "Not tainted".
_TAINTED_RE = re.compile(r"\bTainted: ([A-Z ]+?)(?= +\d| *\(| *$| +-)")
_FLAGS_LINE_RE = re.compile(r"^\s*Tainted: ((?:\[[A-Z]\]=[A-Z_]+(?:, )?)+)")


def parse_taint(line: str) -> Taint | None:
    """The taint on a task line (``CPU: 1 PID: 5 Comm: x Tainted: G  O 6.1.0 #1``), or None."""
    if "Not tainted" in line:
        return Taint("")
    m = _FLAGS_LINE_RE.match(line)
    if m:
        letters = "".join(re.findall(r"\[([A-Z])\]", m.group(1)))
        return make_taint(letters)
    m = _TAINTED_RE.search(line)
    if m is None:
        return None
    letters = m.group(1).replace(" ", "").replace("G", "")
    return make_taint(letters)


def make_taint(letters: str) -> Taint:
    flags = tuple(f"{c}: {TAINT_FLAGS[c]}" for c in letters if c in TAINT_FLAGS)
    return Taint(letters, flags)
