"""Kernel function names: clone suffixes, syscall-entry prefixes, and the frames never guilty.

**Base names.**  GCC and clang emit copies of one function under suffixed ELF symbols: GCC's
interprocedural clones ``.isra.N`` (scalar replacement), ``.constprop.N`` (constant propagation),
``.part.N`` (partial inlining) and ``.cold`` (hot/cold splitting, GCC 8+), LTO's ``.lto_priv.N``,
clang ThinLTO's ``.llvm.<hash>`` promoted locals, objtool/ld's ``.localalias`` and a bare ``.N`` on
static locals; suffixes combine (``foo.isra.0.cold``, ``foo.constprop.0.isra.0``).  ``base_name``
folds all of them to ``foo``: the log, crash (ELF symbols) and drgn (DWARF subprograms) then agree.

**Skip list.**  A crash's *guilty frame* is the first frame of its stack that is not plumbing.
Each pattern is a regular expression searched (not anchored unless it says ``^``/``$``) in the
function's base name.
The list follows syzkaller's pkg/report (linux.go ``skipPatterns``), whose choices were tuned on
hundreds of thousands of real reports; the groups below say why each family is skipped.
Changing it, or the base-name rule, changes bucket keys: bump ``crashhub.classify.ALGORITHM``
(``sig:2026-12`` is the algorithm this list belongs to; append a ``RECIPES`` line) when you do.
"""

from __future__ import annotations

import functools
import re

from crashhub import _regex

# Everything from the first clone suffix on goes (the suffixes chain), or a static local's ".N".
SUFFIX_RE = _regex.compile(r"\.(?:isra|constprop|part|cold|lto_priv|llvm|localalias)(?:\.\d+)*.*$|\.\d+$")


def base_name(function: str) -> str:
    """``foo.isra.0``/``.constprop.3``/``.part.1``/``.cold``/``.llvm.123``/``.localalias`` -> ``foo``."""
    return SUFFIX_RE.sub("", function) if "." in function else function


SKIP_GROUPS: dict[str, tuple[str, ...]] = {
    # Sanitizers report from inside their own runtime.
    "sanitizers": (
        "__sanitizer",
        "__asan",
        "kasan",
        "hwasan",
        "__msan",
        "kmsan",
        "kcsan_setup_watchpoint",
        "check_memory_region",
        "check_heap_object",
        "check_object",
        "read_word_at_a_time",
        "(read|write)_once_.*nocheck",
        "print_address_description",
        "print_report",
        "print_usage_bug",
        "__fortify_report",
        "__phys_addr",
    ),
    # Reporting, trap and panic machinery: where the report was printed, not where the bug is.
    "reporting": (
        "panic",
        "invalid_op",
        "report_bug",
        "fixup_bug",
        "do_error",
        "_trap$|do_trap",
        "show_stack",
        "dump_stack",
        "walk_stack",
        "dump_backtrace",
        "warn_slowpath",
        "warn_alloc",
        "warn_bogus",
        "__warn",
        "print_tainted",
        "^get_taint$",
        "program_check_exception",
        "program_check_common",
        "stack_trace_consume_entry",
        "arch_stack_walk",
        "stack_trace_save",
        "hex_dump_to_buffer",
        "print_hex_dump",
        "assertfail",
        "perf_trace",
    ),
    # Allocators and page-cache getters: a victim of the caller's bad size or flags.
    "allocators": (
        "alloc_page",
        "k?v?(?:m|z|c)alloc",
        "krealloc",
        "kmem_cache",
        "allocate_slab",
        "__alloc_frozen_pages_noprof",
        "folio_(?:alloc|unlock)",
        "filemap_alloc_folio",
        "__filemap_get_folio",
        "find_or_create_page",
        "do_read_cache_folio",
        "read_cache_page",
        "pagecache_get_page",
        "grab_cache_page_write_begin",
        "slab_",
        "^kv?free$",
        "kfree_skb",
        "memdup",
        "ida_free",
    ),
    # Debug objects and lockdep: they detect, the caller misuses.
    "debugging": (
        "debug_object",
        "timer_is_static_object",
        "work_is_static_object",
        "print_unlock",
        "imbalance_bug",
        "lockdep",
        "lock_acquire",
        "lock_release",
        "lock_class",
        "mark_lock",
        "(reacquire|mark)_held_locks",
        "(trace|lockdep)_(hard|soft)irq",
        "seqprop_assert",
    ),
    # Lock primitives, atomics, bit operations, reference counts.
    "locking": (
        "bh_enable",
        "bh_disable",
        "raw_spin_rq",
        "spin_lock",
        "spin_trylock",
        "spin_unlock",
        "read_lock",
        "read_trylock",
        "write_lock",
        "write_trylock",
        "read_unlock",
        "write_unlock",
        "^down$",
        "down_read",
        "down_write",
        "down_read_trylock",
        "down_write_trylock",
        "down_trylock",
        "up_read",
        "up_write",
        "^mutex_",
        "^__mutex_",
        "^rt_mutex_",
        "owner_on_cpu",
        "osq_lock",
        "osq_unlock",
        "atomic(64)?_(dec|inc|read|set|or|xor|and|add|sub|fetch|xchg|cmpxchg|try)",
        "(set|clear|change|test)_bit",
        "__wake_up",
        "^refcount_",
        "^kref_",
        "ref_tracker",
        "^complete$",
        "wait_for_completion",
        "finish_wait",
        "^(un)?lock_page",
        "lock_timer_base",
    ),
    # String, memory and user-copy helpers: they fault on the pointer their caller passed.
    "helpers": (
        "memcpy",
        "memcmp",
        "memset",
        "memchr",
        "memmove",
        "strcmp",
        "strncmp",
        "strcpy",
        "strlcpy",
        "strncpy",
        "strscpy",
        "strlen",
        "strstr",
        "strnstr",
        "strnlen",
        "strchr",
        "strdup",
        "strndup",
        "copy_to_user",
        "copy_from_user",
        "copy_to_iter",
        "copy_from_iter",
        "copy_page_to_iter",
        "copy_page_from_iter",
        "copy_folio_to_iter",
        "^copyin$",
        "^copyout$",
        "put_user",
        "get_user",
        "might_fault",
        "might_sleep",
        "__might_fault",
        "__might_resched",
        "list_add",
        "list_del",
        "list_replace",
        "list_move",
        "list_splice",
        "^rb_",
        "^__rb_",
        "_indirect_thunk_",
        "string",
        "pointer",
        "snprintf",
        "scnprintf",
        "kasprintf",
        "kvasprintf",
        "printk",
        "va_format",
        "dev_info",
        "dev_notice",
        "dev_warn",
        "dev_err",
        "dev_alert",
        "dev_crit",
        "dev_emerg",
        "^crc\\d+",
        "crc_itu_t",
        "readb$",
        "readw$",
        "readl$",
        "readq$",
        "writeb$",
        "writew$",
        "writel$",
        "writeq$",
        "logic_in",
        "logic_out",
        "xas_(?:start|load|find)",
        "^klist_",
        "rhashtable_lookup",
        "extract_(user|iter)_to_sg",
    ),
    # Work queues, timers and device-model teardown: they run or tear down someone else's code.
    "dispatch": (
        "del_timer",
        "flush_work",
        "__cancel_work_timer",
        "cancel_work_sync",
        "try_to_grab_pending",
        "flush_workqueue",
        "drain_workqueue",
        "destroy_workqueue",
        "queue_work",
        "insert_work",
        "__queue_delayed_work",
        "queue_delayed_work_on",
        "kthread_stop",
        "__timer_delete_sync",
        "sk_stop_timer_sync",
        "__mod_timer",
        "cleanup_srcu_struct",
        "kobject_",
        "add_uevent_var",
        "get_device_parent",
        "device_add",
        "device_del",
        "device_unregister",
        "device_destroy",
        "device_release",
        "devres_release_all",
        "hwrng_unregister",
        "i2c_del_adapter",
        "__unregister_client",
        "device_for_each_child",
        "rollback_registered",
        "unregister_netdev",
        "sysfs_remove",
        "device_remove_file",
        "tty_unregister_device",
        "dummy_urb_enqueue",
        "usb_kill_urb",
        "usb_kill_anchored_urbs",
        "usb_control_msg",
        "usb_hcd_submit_urb",
        "usb_submit_urb",
        "^put_device$",
        "^iput$",
        "^iput_final$",
        "^ihold$",
        "fast_dput",
        "dput",
        "drop_nlink",
        "mark_buffer_dirty",
        "find_lock_entries",
        "truncate_inode_pages_range",
    ),
    # arm64 fault entry: the exception path before the faulting function.
    "arm64_entry": (
        "do_(kernel|translation)_fault",
        "do_mem_abort",
        "el1_abort",
        "el1h_64_sync(?:_handler)?",
    ),
}

SKIP: tuple[str, ...] = tuple(p for group in SKIP_GROUPS.values() for p in group)

# Syscall entry prefixes differ by architecture and kernel version (SyS_ before 4.17, __x64_sys_
# since 4.17, __se_sys_/__do_sys_ wrappers since 4.17, __arm64_sys_ on arm64): strip them so the
# same syscall has one name.
STRIP_PREFIXES: tuple[str, ...] = (
    "SYSC_",
    "SyS_",
    "sys_",
    "__x64_",
    "__ia32_",
    "__arm64_",
    "____sys_",
    "___sys_",
    "__sys_",
    "__se_",
    "__se_sys_",
    "__do_sys_",
    "compat_SYSC_",
    "compat_SyS_",
    "ksys_",
)


@functools.lru_cache(maxsize=64)
def compile_skip(extra: tuple[str, ...] = ()) -> re.Pattern[str]:
    """One pattern for the skip list plus ``extra`` (a report format's own plumbing); compiled once
    per process (the list's ~250 patterns take ~3 ms to compile)."""
    return _regex.compile("|".join(SKIP + extra))


@functools.lru_cache(maxsize=16384)
def skipped(name: str) -> bool:
    """Does the skip list name this function?  Cached: one search costs microseconds, and the same
    few thousand names (dump_stack, do_syscall_64...) come back in every report."""
    if "\n" in name:
        return compile_skip().search(name) is not None  # "$" matches before a final newline too
    exact, prefixes, suffixes, rest = _skip_split()
    if name in exact or name.startswith(prefixes) or name.endswith(suffixes):
        return True
    return rest.search(name) is not None


@functools.cache
def _skip_split() -> tuple[frozenset[str], tuple[str, ...], tuple[str, ...], re.Pattern[str]]:
    """What ``compile_skip()`` finds, asked yes or no, in four parts: the names "^name$" patterns
    give, the prefixes of "^text", the suffixes of "text$", and one regexp of the other patterns,
    where those that are plain text form a trie.  The regexp engine tries every alternative at every
    position of a name: ~10 us a name for the whole list as one alternation, ~1 us this way."""
    exact: set[str] = set()
    prefixes: list[str] = []
    suffixes: list[str] = []
    plain: list[str] = []
    others: list[str] = []
    for p in SKIP:
        start, end = p.startswith("^"), p.endswith("$")
        text = p[1 if start else 0 : len(p) - 1 if end else len(p)]
        if _META.intersection(text):
            others.append(p)
        elif start and end:
            exact.add(text)
        else:
            (prefixes if start else suffixes if end else plain).append(text)
    rest = _regex.compile("|".join([_trie(plain), *others]))
    return frozenset(exact), tuple(prefixes), tuple(suffixes), rest


_META = frozenset(".^$*+?{}[]\\|()")


def _trie(words: list[str]) -> str:
    """A regexp found where any of ``words`` is (not which one): shared prefixes written once."""
    if "" in words:
        return ""  # a word ends here: what would follow it changes no answer
    by_first: dict[str, list[str]] = {}
    for w in words:
        by_first.setdefault(w[0], []).append(w[1:])
    alternatives = [re.escape(c) + _trie(rest) for c, rest in sorted(by_first.items())]
    return alternatives[0] if len(alternatives) == 1 else "(?:" + "|".join(alternatives) + ")"


@functools.lru_cache(maxsize=16384)
def strip_prefix(function: str) -> str:
    """The shortest name left after removing one syscall-entry prefix.  Cached: fifteen prefix
    tests a call, for the same few thousand names in every report's frames and signature."""
    best = function
    for p in STRIP_PREFIXES:
        if function.startswith(p) and len(function) - len(p) < len(best):
            best = function[len(p) :]
    return best
