"""The kernel's vocabulary, in one place: function names, the frame skip list, taint flags, releases
and kdump's crash-directory layouts.

Pure (standard library only, no I/O): every other package (triage, classify, analyze, kb, dump,
ingest, the agent) asks this one what a kernel name, letter or release means, so the answers agree.
"""

from __future__ import annotations

from crashhub.kernel._functions import (
    SKIP,
    SKIP_GROUPS,
    STRIP_PREFIXES,
    base_name,
    compile_skip,
    strip_prefix,
)
from crashhub.kernel._taint import TAINT, TAINT_FLAGS, TAINT_LETTERS, TaintFlag

__all__ = [
    "SKIP",
    "SKIP_GROUPS",
    "STRIP_PREFIXES",
    "TAINT",
    "TAINT_FLAGS",
    "TAINT_LETTERS",
    "TaintFlag",
    "base_name",
    "compile_skip",
    "strip_prefix",
]
