"""Message catalogs for the web UI and the reports: English (the source language) and Simplified Chinese.

A message is looked up by its English text (gettext's convention, without the .po/.mo toolchain: the
catalogs are Python dicts, so mypy and a test see every entry).  A message missing from a catalog
falls back to English rather than failing, and ``tests/ui/test_i18n.py`` checks that every message
the templates and reports use has a Chinese translation.

The language comes from a setting when one is given, else from the browser's ``Accept-Language``
(the fleet teams this is for often read Chinese first), else English.
"""

from __future__ import annotations

from collections.abc import Callable

from crashhub.i18n._catalog_zh import KIND_SUMMARY_ZH, ZH
from crashhub.i18n._findings import finding_text

LANGUAGES = ("en", "zh")
DEFAULT = "en"

# What each crash kind means, for the non-specialist summary at the top of a crash page.
KIND_SUMMARY_EN: dict[str, str] = {
    "null_deref": "The kernel used an empty (NULL) pointer and stopped the machine to protect data.",
    "paging_request": "The kernel touched memory that does not exist or is not mapped.",
    "gpf": "The CPU refused an invalid memory access made by the kernel (general protection fault).",
    "bug": "A consistency check inside the kernel failed (BUG), so it stopped.",
    "invalid_opcode": "The CPU met an invalid instruction in kernel code, usually a deliberate BUG trap.",
    "divide_error": "Kernel code divided by zero.",
    "double_fault": "The CPU faulted while handling another fault, often a kernel stack overflow.",
    "stack_overflow": "A kernel stack ran out of space.",
    "stack_protector": "The kernel detected its own stack being overwritten.",
    "warning": "The kernel printed a warning about an unexpected state (set to panic on warnings).",
    "soft_lockup": "A CPU kept running kernel code for too long without letting anything else run.",
    "hard_lockup": "A CPU stopped answering interrupts: it is stuck with interrupts off.",
    "hung_task": "A task waited too long in uninterruptible sleep (often storage, NFS or a lock).",
    "rcu_stall": "A CPU did not pass through a quiescent state in time (RCU stall): it is stuck.",
    "atomic_sleep": "Kernel code tried to sleep where sleeping is not allowed.",
    "bad_page": "The memory manager found a page in an impossible state.",
    "list_corruption": "A kernel linked list was found corrupted (memory corruption or a use after free).",
    "kasan": "The kernel's address sanitizer caught an invalid memory access.",
    "kfence": "KFENCE caught an invalid memory access.",
    "ubsan": "The undefined-behaviour sanitizer found undefined behaviour in kernel code.",
    "kmsan": "The memory sanitizer caught a use of uninitialised memory.",
    "kcsan": "The concurrency sanitizer caught a data race.",
    "refcount": "A reference count went wrong (overflow or use after free).",
    "lockdep": "The lock validator found a possible deadlock.",
    "memory_leak": "The kernel's leak detector found unreferenced memory.",
    "oom": "The machine ran out of memory and was set to panic rather than kill a task.",
    "mce": "The hardware reported an error (machine check): look at the hardware first.",
    "nmi": "A non-maskable interrupt (often a watchdog or a hardware signal) stopped the machine.",
    "sysrq": "Someone triggered the crash on purpose (SysRq): this is not a bug by itself.",
    "panic": "The kernel panicked.",
    "other": "The kernel crashed in a way crashhub does not classify further.",
    "usercopy": "The kernel caught a copy to or from user space that would overrun an object.",
    "slab_corruption": "The slab allocator found one of its objects corrupted.",
    "workqueue_lockup": "A kernel work queue stopped making progress.",
    "alloc_failure": "A kernel memory allocation failed.",
    "reboot": "The machine was rebooted by the kernel.",
    "lockdep_limit": "The lock checker (lockdep) ran out of room and switched itself off.",
}

_CATALOGS: dict[str, dict[str, str]] = {"en": {}, "zh": ZH}
_KINDS: dict[str, dict[str, str]] = {"en": KIND_SUMMARY_EN, "zh": KIND_SUMMARY_ZH}


def negotiate(accept_language: str | None, setting: str | None = None) -> str:
    """The language to answer in: an explicit setting, else the best ``Accept-Language`` entry."""
    if setting:
        s = setting.strip().lower()[:2]
        if s in LANGUAGES:
            return s
    best, best_q = DEFAULT, -1.0
    for i, part in enumerate((accept_language or "").split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                q = float(params[2:])
            except ValueError:
                q = 0.0
        lang = tag.strip().lower()[:2]
        # Earlier entries win ties (browsers list in preference order).
        if lang in LANGUAGES and q > best_q and q > 0:
            best, best_q = lang, q - i * 1e-6
    return best


def gettext(lang: str) -> Callable[[str], str]:
    """A ``_(message)`` function for ``lang`` (English for an unknown language or message)."""
    cat = _CATALOGS.get(lang, {})

    def _(message: str) -> str:
        return cat.get(message, message)

    return _


def kind_summary(kind: str | None, lang: str) -> str:
    table = _KINDS.get(lang, KIND_SUMMARY_EN)
    k = kind or "other"
    return table.get(k) or KIND_SUMMARY_EN.get(k) or KIND_SUMMARY_EN["other"]


def catalog(lang: str) -> dict[str, str]:
    return dict(_CATALOGS.get(lang, {}))


__all__ = ["DEFAULT", "KIND_SUMMARY_EN", "LANGUAGES", "catalog", "finding_text", "gettext", "kind_summary",
           "negotiate"]
