"""Readers for the public corpus (../shared/corpus): each yields (case name, log bytes, expected answer).

Shared by bench/triage_eval.py and tests/triage; the corpus is read in place, never copied.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


def corpus_dir() -> Path | None:
    """``$CRASHHUB_CORPUS`` when set (and then only it), else ``../shared/corpus`` beside the checkout
    or one level further up (a CI clone)."""
    env = os.environ.get("CRASHHUB_CORPUS")
    for c in [Path(env)] if env else [
        REPO.parent / "shared" / "corpus",
        REPO.parent.parent / "shared" / "corpus",
    ]:
        if c.is_dir():
            return c
    return None


def syzkaller_log(path: Path) -> bytes:
    """The console log of a syzkaller report case: after the header block, before a REPORT: section."""
    data = path.read_bytes().replace(b"\r", b"")
    _, _, log = data.partition(b"\n\n")
    cut = log.find(b"\n\nREPORT:\n")
    return log[: cut + 1] if cut >= 0 else log


def syzkaller_cases(corpus: Path) -> Iterator[tuple[str, bytes, dict[str, Any]]]:
    root = corpus / "syzkaller" / "linux" / "report"
    for line in (corpus / "syzkaller" / "expected.jsonl").read_text().splitlines():
        row = json.loads(line)
        yield row["name"], syzkaller_log(root / row["name"]), row


_FRAME_RE = re.compile(r".* in ((?:<[a-zA-Z0-9_: ]+>)?[a-zA-Z0-9_:]+)")


def title_frame(title: str) -> str | None:
    """syzkaller's Report.Frame: the token after the last " in " of a title."""
    m = _FRAME_RE.match(title)
    return m.group(1) if m else None


# Title prefix (syzkaller's wording) -> our kind.  Longest prefix wins.
TITLE_KINDS: dict[str, str] = {
    "KASAN:": "kasan",
    "KMSAN:": "kmsan",
    "KCSAN:": "kcsan",
    "KFENCE:": "kfence",
    "UBSAN:": "ubsan",
    "BUG: unable to handle kernel NULL pointer dereference": "null_deref",
    "BUG: unable to handle kernel paging request": "paging_request",
    "BUG: unable to handle kernel": "paging_request",
    "general protection fault": "gpf",
    "stack segment fault": "gpf",
    "WARNING: refcount bug": "refcount",
    "WARNING: locking bug": "lockdep",
    "WARNING: suspicious RCU usage": "lockdep",
    "WARNING: bad unlock balance": "lockdep",
    "WARNING: held lock freed": "lockdep",
    "WARNING: nested lock": "lockdep",
    "WARNING: still has locks held": "lockdep",
    "WARNING: lock held when returning": "lockdep",
    "WARNING: bad usercopy": "usercopy",
    "WARNING": "warning",
    "WARNING: possible": "lockdep",
    "WARNING: inconsistent lock state": "lockdep",
    "WARNING: kmalloc bug": "warning",
    "possible deadlock": "lockdep",
    "inconsistent lock state": "lockdep",
    "BUG: bad unlock balance": "lockdep",
    "BUG: held lock freed": "lockdep",
    "BUG: still has locks held": "lockdep",
    "BUG: lock held when returning": "lockdep",
    "BUG: spinlock": "lockdep",
    "BUG: rwlock": "lockdep",
    "INFO: trying to register non-static key": "lockdep",
    "INFO: suspicious RCU usage": "lockdep",
    "INFO: task hung": "hung_task",
    "INFO: task can't die": "hung_task",
    "INFO: rcu detected stall": "rcu_stall",
    "BUG: soft lockup": "soft_lockup",
    "BUG: workqueue lockup": "workqueue_lockup",
    "kernel BUG": "bug",
    "BUG: corrupted list": "list_corruption",
    "BUG: bad usercopy": "usercopy",
    "memory leak": "memory_leak",
    "BUG: sleeping function": "atomic_sleep",
    "BUG: scheduling while atomic": "atomic_sleep",
    "BUG: using": "atomic_sleep",
    "BUG: workqueue leaked lock": "atomic_sleep",
    "BUG: Bad page": "bad_page",
    "BUG: Bad rss-counter": "bad_page",
    "BUG: non-zero nr_": "bad_page",
    "divide error": "divide_error",
    "invalid opcode": "invalid_opcode",
    "kernel panic: stack is corrupted": "stack_protector",
    "BUG: stack guard page": "stack_overflow",
    "kernel stack overflow": "stack_overflow",
    "kernel panic: corrupted stack end": "stack_overflow",
    "PANIC: double fault": "double_fault",
    "kernel panic: panic_on_warn": "warning",
    "kernel panic: hung_task": "hung_task",
    "kernel panic:": "panic",
    "BUG: Object already free": "slab_corruption",
    "unexpected kernel reboot": "reboot",
    "unregister_netdevice: waiting for": "refcount",
    "Internal error": "other",
    "int3": "bug",
    "Unhandled fault": "paging_request",
    "Alignment trap": "other",
}


def title_kind(title: str) -> str | None:
    best = None
    for prefix, kind in TITLE_KINDS.items():
        if title.startswith(prefix) and (best is None or len(prefix) > len(best[0])):
            best = (prefix, kind)
    return best[1] if best else None


def title_class(title: str) -> str:
    """The class a title belongs to, for per-class tables: its kind, else its head (before " in ")."""
    kind = title_kind(title)
    if kind:
        return kind
    head = title.split(" in ", 1)[0]
    return re.sub(r"[0-9]+", "N", head)[:40]


# satyr's taint flag names (lib/normalize... koops.c) -> kernel letters.
SATYR_TAINTS: dict[str, str] = {
    "module_proprietary": "P",
    "forced_module": "F",
    "smp_unsafe": "S",
    "forced_removal": "R",
    "mce": "M",
    "page_release": "B",
    "userspace": "U",
    "died_recently": "D",
    "acpi_overridden": "A",
    "warning": "W",
    "staging_driver": "C",
    "firmware_workaround": "I",
    "module_out_of_tree": "O",
    "unsigned_module": "E",
    "soft_lockup": "L",
    "live_patched": "K",
}

# KernelCI logspec error types and SQUAD check names -> the kinds that satisfy them.
CRASH_KINDS = {
    "null_deref",
    "paging_request",
    "gpf",
    "bug",
    "invalid_opcode",
    "divide_error",
    "double_fault",
    "stack_overflow",
    "stack_protector",
    "list_corruption",
    "usercopy",
    "slab_corruption",
    "other",
    "bad_page",
    "atomic_sleep",
    "workqueue_lockup",
    "soft_lockup",
    "hard_lockup",
    "hung_task",
    "rcu_stall",
    "lockdep",
    "refcount",
    "memory_leak",
}
LOGSPEC_KINDS: dict[str, set[str]] = {
    "linux.kernel.panic": {"panic", "sysrq", "oom", "mce", "nmi", "stack_protector"},
    "linux.kernel.bug": CRASH_KINDS,
    "linux.kernel.warning": {"warning", "refcount", "lockdep", "list_corruption"},
    "linux.kernel.ubsan": {"ubsan"},
    "linux.kernel.kasan": {"kasan"},
}
_DIE_KINDS = {
    "null_deref",
    "paging_request",
    "gpf",
    "bug",
    "invalid_opcode",
    "divide_error",
    "double_fault",
    "stack_overflow",
    "list_corruption",
    "usercopy",
    "other",
}
SQUAD_KINDS: dict[str, set[str]] = {
    "check-kernel-oops": _DIE_KINDS,
    "check-kernel-panic": {"panic", "sysrq", "oom", "mce", "nmi", "stack_protector"},
    "check-kernel-exception": {"warning", "bug", "invalid_opcode", "refcount", "list_corruption"},
    "check-kernel-warning": {"warning", "lockdep", "refcount"},
    "check-kernel-kasan": {"kasan"},
    "check-kernel-kfence": {"kfence"},
    "check-kernel-bug": _DIE_KINDS | {"lockdep", "atomic_sleep", "soft_lockup", "bad_page"},
    "check-kernel-invalid-opcode": {"invalid_opcode", "bug"},
    "check-kernel-fault": {"paging_request", "null_deref", "gpf", "other"},
}


def squad_check(test_name: str) -> str:
    for k in sorted(SQUAD_KINDS, key=len, reverse=True):
        if test_name == k or test_name.startswith(k + "-"):
            return k
    return test_name


def abrt_right(path: Path) -> tuple[int, list[str]]:
    """(number of oopses, their Version: lines) from an abrt-dump-oops .right file."""
    text = path.read_text(errors="replace")
    m = re.search(r"Found oopses: (\d+)", text)
    versions = [v.strip() for v in re.findall(r"^Version: ?(.*)$", text, re.M)]
    return (int(m.group(1)) if m else 0), versions
