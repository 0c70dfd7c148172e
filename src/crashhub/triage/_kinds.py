"""Crash kinds: the ids every report carries, what each means.

The first block are the ids the project's issue 2 defines; the second block are kinds the corpora
showed a need for (documented in docs/triage.md).  ``KINDS`` is the single source: the oops table
may only use ids listed here (tests/triage/test_oops_table.py checks it).
"""

from __future__ import annotations

KINDS: dict[str, str] = {
    "null_deref": "NULL pointer dereference in the kernel (BUG: kernel NULL pointer dereference)",
    "paging_request": "access to an unmapped kernel address (unable to handle page fault / paging request)",
    "gpf": "general protection fault (non-canonical address, segment fault)",
    "bug": "an assertion failed (kernel BUG at file:line, BUG_ON)",
    "invalid_opcode": "invalid opcode trap not caused by BUG()",
    "divide_error": "division by zero in the kernel",
    "double_fault": "double fault (usually a kernel stack overflow on old kernels)",
    "stack_overflow": "kernel stack overflow (stack guard page hit, corrupted stack end)",
    "stack_protector": "stack-protector canary smashed (Kernel stack is corrupted in: FUNC)",
    "warning": "WARN()/WARN_ON() fired",
    "soft_lockup": "a CPU ran kernel code without scheduling for too long (BUG: soft lockup)",
    "hard_lockup": "a CPU did not take timer interrupts (NMI watchdog: hard LOCKUP)",
    "hung_task": "a task in uninterruptible sleep for too long (INFO: task blocked for more than N seconds)",
    "rcu_stall": "RCU grace period stalled (INFO: rcu_sched detected stalls)",
    "atomic_sleep": "sleeping in atomic context (scheduling while atomic, sleeping function called from "
    "invalid context, this_cpu in preemptible code)",
    "bad_page": "page allocator found a page in a bad state (BUG: Bad page state/map, rss-counter)",
    "list_corruption": "linked-list debugging caught a corrupted list (list_add/list_del corruption)",
    "kasan": "Kernel Address Sanitizer report (use-after-free, out-of-bounds...)",
    "kfence": "KFENCE sampling memory-safety report",
    "ubsan": "Undefined Behaviour Sanitizer report",
    "kmsan": "Kernel Memory Sanitizer report (use of uninitialised memory, info leak)",
    "kcsan": "Kernel Concurrency Sanitizer report (data race)",
    "refcount": "reference count misuse (refcount_t underflow/overflow, netdev refcount leak)",
    "lockdep": "lock debugging report (possible deadlock, bad unlock balance, suspicious RCU usage)",
    "memory_leak": "kmemleak found an unreferenced object",
    "oom": "out of memory: the OOM killer ran, or panic_on_oom panicked",
    "mce": "machine check: a hardware error, not a software bug",
    "nmi": "unknown NMI, IOCK or PCI SERR NMI (hardware or firmware)",
    "sysrq": "deliberate crash through SysRq-c (echo c > /proc/sysrq-trigger)",
    "panic": "any other Kernel panic - not syncing:",
    "other": "an oops that fits no other kind",
    # --- added from the corpora ---
    "usercopy": "hardened usercopy caught a bad copy to or from user space (BUG: bad usercopy)",
    "slab_corruption": "SLUB debugging found a corrupted object (Poison overwritten, Object already free...)",
    "workqueue_lockup": "a workqueue pool made no progress (BUG: workqueue lockup)",
    "alloc_failure": "a memory allocation failed and the kernel printed why (page allocation failure)",
    "reboot": "the kernel rebooted unexpectedly (a boot banner in the middle of a console log)",
    "lockdep_limit": "lockdep ran out of a fixed-size table (BUG: MAX_LOCKDEP_KEYS too low!): a "
    "configuration limit, reported by whichever task took the next lock",
}
