"""The debuginfo store: kernel-debuginfo RPMs, -dbg debs, trees and bare vmlinux, by build-id.

``DebuginfoStore(root)`` imports, lists, removes and matches debuginfo to dumps;
``crashhub.debuginfo.debuginfod.router(store)`` serves it over the debuginfod protocol.
"""

from __future__ import annotations

from crashhub.debuginfo.archive import Limits
from crashhub.debuginfo.index import DebuginfoStore, Entry, Match, check_vmlinux

__all__ = ["DebuginfoStore", "Entry", "Limits", "Match", "check_vmlinux"]
