"""THE oops table: every kernel crash format crashhub knows, as data.

Shaped after syzkaller's pkg/report (linux.go): a line holding an oops *header* (``BUG:``,
``WARNING:``, ``Kernel panic``...) starts a report; the header's *formats* are tried in order and
the first whose ``title`` regexp matches the header line (and whose ``report`` regexp, if any,
matches the report text) names it.  A title template takes ``{1}``, ``{2}``... from the regexp's
groups and ``{frame}``/``{frame2}`` from the stack, found as the ``Stack`` spec says:

* ``RIP``: the first line naming the faulting function (``RIP:``, ``IP:``, ``EIP:``, ``NIP``,
  arm64 ``pc :``, arm ``PC is at``, s390 ``Krnl PSW``);
* ``CALL_TRACE``: the next ``Call Trace:``/``Call trace:``/``Backtrace:`` line;
* ``FRAMES``: the frames that follow, until the next stack section;
* any other string: a regexp whose group 1 is a function.

The guilty frame is the first collected function that the global skip list (``classify``'s
``SKIP``) and the format's own ``skip`` do not match; ``extractor`` names a special rule
(``stall``: the frame before a dispatch anchor, ``hang``: the waited-for function, ``cpus``: the
busy CPU's function in an unknown NMI's CPU dumps).  ``{in_frame}`` is `` in FRAME`` when a frame
was found and nothing otherwise (a report that may rightly name none).
Placeholders ``{{PC}}``, ``{{FUNC}}``, ``{{SRC}}``, ``{{TASK}}`` are expanded by ``expand``.
``tests/triage/test_oops_table.py`` checks that no title regexp is shadowed by an earlier one.
"""

from __future__ import annotations

from crashhub.triage._formats import (
    ANY_REPORT,
    CALL_TRACE,
    CALL_TRACE_RE,
    FAULT_INJECTION_RE,
    FRAMES,
    PLACEHOLDERS,
    RIP,
    RIP_RE,
    STACK_START_RE,
    Format,
    Oops,
    Stack,
    expand,
)

__all__ = [
    "ANY_REPORT",
    "CALL_TRACE",
    "CALL_TRACE_RE",
    "FAULT_INJECTION_RE",
    "FRAMES",
    "HEADERS",
    "OOPSES",
    "PLACEHOLDERS",
    "RIP",
    "RIP_RE",
    "SCAN_ANCHORS",
    "STACK_START_RE",
    "Format",
    "Oops",
    "Stack",
    "expand",
    "find_oops",
]


def _calltrace(skip: tuple[str, ...] = (), extractor: str | None = None) -> Stack:
    return Stack((CALL_TRACE, FRAMES), skip=skip, extractor=extractor)


def _rip(skip: tuple[str, ...] = (), extractor: str | None = None) -> Stack:
    return Stack((RIP, CALL_TRACE, FRAMES), skip=skip, extractor=extractor)


def _warning(*skip: str) -> Stack:
    # Since Linux 4.16 (commit 9a93848fe787 "x86/debug: Implement __WARN() using UD0") a WARNING
    # traps and the stack worth reading starts at the RIP line; before, it was a plain dump_stack.
    return Stack(
        (f"(?:{RIP_RE.pattern}|--- interrupt: [0-9]+ at {{{{FUNC}}}})", FRAMES),
        parts2=(CALL_TRACE, FRAMES),
        skip=skip,
    )


# The sleep primitives an atomic-context sleep goes through: the bug is their caller, which slept
# holding a spinlock or with preemption off (Debian 6.1: "schedule_timeout, msleep, crashmod_...").
_SLEEPS = ("^msleep", "^usleep_range", "^ssleep$", "^fsleep$", "^schedule_hrtimeout")
# A stall report dumps the RCU grace-period kthread's stack when it is starved (since 4.x), and since
# 5.9 the stack of the CPU where it last ran: neither is a stalled CPU's (syzkaller 718, 719: "All
# QSes seen", no CPU stalled).  A stalled CPU's "NMI backtrace" may follow the first.
_RCU_GP_DUMPS = (
    (r"RCU grace-period kthread stack dump:", r"^rcu: |NMI backtrace for cpu|Sending NMI"),
    (r"Stack dump where RCU GP kthread last ran:", r"^rcu: "),
)
# Rust's panic machinery between the panicking function and BUG(): the handler, core::panicking's
# panic_fmt/panic_const_*_overflow/panic_bounds_check/unwrap_failed, the BUG() helper.
_RUST = ("rust_begin_unwind", "^core::panicking::", "^core::(?:option|result)::unwrap_failed",
         "^rust_helper_BUG$", "^__rustc::")
_SYZ_LOCKDEP = ("process_one_work", "flush_workqueue", "drain_workqueue", "destroy_workqueue")
_BAD_ACCESS = "BUG: unable to handle kernel"

# fmt: off
OOPSES: tuple[Oops, ...] = (
    Oops("BUG:", (
            Format("BUG: KASAN:", "KASAN: {1} {3} in {frame}", "kasan",
                report=r"BUG: KASAN: ([a-z\-]+) in {{FUNC}}(?:.*\n)+?"
                       r".*(Read|Write) (?:of size|at addr) (?:[0-9a-f]+)",
                stack=Stack((r"BUG: KASAN: (?:[a-z\-]+) in {{FUNC}}", CALL_TRACE, FRAMES),
                    skip=("kernel_fault", "tag_check", "mem_abort", "^el1_", "^el1h_"),),),
            Format("BUG: KASAN:", "KASAN: invalid-free in {frame}", "kasan",
                report=r"BUG: KASAN: (?:double-free or invalid-free|double-free|invalid-free) in {{FUNC}}",
                stack=Stack((
                        r"BUG: KASAN: (?:double-free or invalid-free|double-free|invalid-free) in {{FUNC}}",
                        CALL_TRACE, FRAMES,), skip=("slab_", "kfree", "vunmap", "vfree"),),),
            Format(r"BUG: KASAN: ([a-z\-]+) on address(?:.*\n)+?.*(Read|Write) of size ([0-9]+)",
                "KASAN: {1} {2}", "kasan",),
            Format(r"BUG: KASAN: (.*)", "KASAN: {1}", "kasan", corrupted=True),
            Format(r"BUG: KMSAN: kernel-usb-infoleak", "KMSAN: kernel-usb-infoleak in {frame}", "kmsan",
                report=r"BUG: KMSAN: kernel-usb-infoleak in {{FUNC}}", no_stack=True, stack=Stack(
                    (FRAMES, r"(Local variable .* created at:|Uninit was created at:)", FRAMES), skip=(
                        "alloc_skb", "usb_submit_urb", "usb_start_wait_urb", "usb_bulk_msg",
                        "usb_interrupt_msg", "usb_control_msg",),),),
            Format(r"BUG: KMSAN:", "KMSAN: {1} in {frame}", "kmsan",
                report=r"BUG: KMSAN: ([a-z\-]+) in {{FUNC}}", no_stack=True, stack=Stack(
                    (FRAMES, r"(Local variable .* created at:|Uninit was created at:)", FRAMES), skip=(
                        "alloc_skb", "netlink_ack", "netlink_rcv_skb", "_encrypt$",
                        "^(?:crypto|cipher|drbg|rng)_",),),),
            Format(r"BUG: KCSAN:", "KCSAN: {1}", "kcsan", report=r"BUG: KCSAN: (.*)", no_stack=True),
            Format(r"BUG: KFENCE: (use-after-free|out-of-bounds) (read|write) in {{FUNC}}",
                "KFENCE: {1} {2} in {frame}", "kfence",
                stack=Stack((r"BUG: KFENCE: (?:[a-z\- ]+) in {{FUNC}}", FRAMES)),),
            Format(r"BUG: KFENCE: invalid free in {{FUNC}}", "KFENCE: invalid free in {frame}", "kfence",
                no_stack=True, stack=Stack((r"BUG: KFENCE: (?:[a-z\- ]+) in {{FUNC}}", FRAMES)),),
            Format(r"BUG: KFENCE: invalid (read|write) in {{FUNC}}", "KFENCE: invalid {1} in {frame}",
                "kfence", stack=Stack((r"BUG: KFENCE: (?:[a-z\- ]+) in {{FUNC}}", FRAMES)),),
            Format(r"BUG: KFENCE: memory corruption in {{FUNC}}", "KFENCE: memory corruption in {frame}",
                "kfence", no_stack=True, stack=Stack((r"BUG: KFENCE: (?:[a-z\- ]+) in {{FUNC}}", FRAMES)),),
            Format(r"BUG: (?:unable to handle kernel paging request|unable to handle page fault for address"
                r"|Unable to handle kernel data access|Unable to handle kernel instruction fetch)",
                "BUG: unable to handle kernel paging request in {frame}", "paging_request", stack=_rip(),
                fatal=True,),
            Format(r"BUG: (?:unable to handle kernel NULL pointer dereference|kernel NULL pointer dereference"
                r"|Kernel NULL pointer dereference)",
                "BUG: unable to handle kernel NULL pointer dereference in {frame}", "null_deref",
                stack=_rip(), fatal=True,),
            Format(r"BUG: (?:unable to handle kernel|Unable to handle kernel)", _BAD_ACCESS, "paging_request",
                corrupted=True, fatal=True,),
            Format(
                r"BUG: (spinlock|rwlock) (lockup suspected|already unlocked|recursion|cpu recursion|bad magic"
                r"|wrong owner|wrong CPU|trylock failure on UP)", "BUG: {1} {2} in {frame}", "lockdep",
                stack=_calltrace(skip=("spin_", "_lock", "_unlock")),),
            Format(r"BUG: soft lockup", "BUG: soft lockup in {frame}", "soft_lockup",
                stack=_rip(extractor="stall"),),
            Format(r"BUG: .*still has locks held!", "BUG: still has locks held in {1}", "lockdep",
                report=r"BUG: .*still has locks held!(?:.*\n)+?.*{{PC}} +{{FUNC}}",),
            Format(r"BUG: scheduling while atomic", "BUG: scheduling while atomic in {frame}", "atomic_sleep",
                stack=_calltrace(skip=("schedule", *_SLEEPS)),),
            Format(r"BUG: lock held when returning to user space",
                "BUG: lock held when returning to user space in {1}", "lockdep", no_stack=True,
                report=r"BUG: lock held when returning to user space(?:.*\n)+?"
                       r".*leaving the kernel with locks "
                r"still held(?:.*\n)+?.*at: (?:{{PC}} +)?{{FUNC}}",),
            Format(r"BUG: bad unlock balance detected!", "BUG: bad unlock balance in {frame}", "lockdep",
                stack=Stack((r"{{PC}} +{{FUNC}}", CALL_TRACE, FRAMES)),),
            # Lockdep's fixed-size tables are full (a CONFIG_LOCKDEP_*_BITS limit): whichever task
            # took the next lock reports it, so the stack names no bug (syzkaller titles it alone).
            Format(r"BUG: (MAX_STACK_TRACE_ENTRIES|MAX_LOCKDEP_(?:KEYS|ENTRIES|CHAINS|CHAIN_HLOCKS))"
                r" too low!", "BUG: {1} too low!", "lockdep_limit", no_stack=True),
            Format(r"BUG: held lock freed!", "BUG: held lock freed in {1}", "lockdep",
                report=r"BUG: held lock freed!(?:.*\n)+?.*{{PC}} +{{FUNC}}",),
            Format(r"BUG: Bad rss-counter state", "BUG: Bad rss-counter state", "bad_page", no_stack=True),
            Format(r"BUG: non-zero nr_ptes on freeing mm", "BUG: non-zero nr_ptes on freeing mm", "bad_page",
                no_stack=True,),
            Format(r"BUG: non-zero nr_pmds on freeing mm", "BUG: non-zero nr_pmds on freeing mm", "bad_page",
                no_stack=True,),
            Format(r"BUG: Dentry .* still in use", "BUG: Dentry still in use in {1}", "bug",
                report=r"BUG: Dentry .* still in use \([0-9]+\) \[(unmount) of ([^\]]+)\]",),
            # With page_owner (syzkaller's kernels) the allocation stack names the page's owner;
            # without it (distribution kernels) the caller of the page-freeing frames that found
            # the bad state ("bad_page.cold, __free_pages_ok, crashmod_bad_page" on Debian 6.1).
            Format(r"BUG: Bad page (state|cache)", "BUG: Bad page {1} in {frame}", "bad_page", stack=Stack(
                    (r"page last allocated", FRAMES), parts2=(CALL_TRACE, FRAMES),
                    skip=("(free|put|get|update|release)_page", "free_unref", "^_*folio",
                        "truncate_inode_pages", "page_frag_free", "alloc", "vmap", "page_owner", "^bad_page$",
                        "^free_pcp_prepare$", "^free_tail_page", "^_*free_one_page$", "^check_new_page",),),),
            Format(r"BUG: Bad page map", "BUG: Bad page map", "bad_page"),
            Format(r"BUG: workqueue lockup", "BUG: workqueue lockup", "workqueue_lockup", no_stack=True),
            Format(r"BUG: sleeping function called from invalid context at (.*)",
                "BUG: sleeping function called from invalid context in {frame}", "atomic_sleep",
                stack=_calltrace(skip=_SLEEPS),),
            Format(r"BUG: using ([a-z_]+)\(\) in preemptible",
                "BUG: using {1}() in preemptible code in {frame}", "atomic_sleep", stack=_calltrace(
                    skip=("dump_stack", "preemption", "preempt", "debug_", "processor_id", "this_cpu")),),
            Format(r"BUG: workqueue leaked lock or atomic", "BUG: workqueue leaked lock or atomic in {1}",
                "atomic_sleep", no_stack=True,
                report=r"BUG: workqueue leaked lock or atomic(?:.*\n)+?.*last function: ([a-zA-Z0-9_]+)\n",),
            Format(r"BUG: memory leak", "memory leak in {frame}", "memory_leak", stack=Stack(
                    (r"backtrace(?: \(crc [0-9a-fA-F]*\))?:", FRAMES), skip=("kmemleak", "mmap", "kmem",
                        "slab", "alloc", "create_object", "idr_get", "list_lru_init", "kasprintf",
                        "kvasprintf", "pcpu_create", "strdup", "strndup", "memdup",),),),
            Format(r"BUG: .*stack guard page was hit at", "BUG: stack guard page was hit in {frame}",
                "stack_overflow", stack=_rip(extractor="overflow"), fatal=True,),
            Format(r"BUG: Invalid wait context", "WARNING: locking bug in {frame}", "lockdep",
                stack=_calltrace(skip=("lock_sock", "release_sock")),),
            Format(r"BUG: [^ ]+ \([^)]*\): (?:Poison overwritten|Redzone overwritten|Freepointer corrupt|"
                r"Padding overwritten|Object padding overwritten|Objects remaining)",
                "BUG: slab corruption in {frame}", "slab_corruption", stack=_calltrace(),),
            Format(r"^\s*BUG:[ \t]*$", "BUG: corrupted", "bug", corrupted=True),),
        suppress=("ODEBUG:", "Boot_DEBUG:", "xlog_status:", "DEBUG:", "BUG: no syscalls can create resource"),
    ),
    Oops("WARNING:", (
            # Before Linux 4.x the hard-lockup detector reported through WARN() in kernel/watchdog.c.
            Format(r"WARNING: .*kernel/watchdog\.c", "hard lockup in {frame}", "hard_lockup", stack=Stack(
                    (CALL_TRACE, FRAMES), skip=("watchdog", "perf_", "intel_pmu", "nmi"), extractor="stall"),
            ),
            Format(r"WARNING: .*lib/debugobjects\.c.* (?:debug_print|debug_check|at)",
                "WARNING: ODEBUG bug in {frame}", "warning", stack=_warning("debug_", "rcu", "hrtimer_",
                    "timer_", "work_", "percpu_", "vunmap", "vfree", "__free_", "debug_check", "kobject_",),),
            Format(r"WARNING: .*mm/usercopy\.c.* (?:usercopy_warn|at)", "WARNING: bad usercopy in {frame}",
                "usercopy", stack=_warning("usercopy", "__check"),),
            Format(r"WARNING: .*lib/kobject\.c.* (?:kobject_|at)", "WARNING: kobject bug in {frame}",
                "warning", stack=_warning("kobject_"),),
            Format(r"WARNING: .*fs/proc/generic\.c.* (?:proc_register|at)",
                "WARNING: proc registration bug in {frame}", "warning", stack=_warning("proc_"),),
            Format(r"WARNING: .*lib/refcount\.c.* (?:refcount_|at)", "WARNING: refcount bug in {frame}",
                "refcount", stack=_warning("refcount", "kobject_"),),
            Format(r"WARNING: .*lib/list_debug\.c.* (?:__list_|at)", "BUG: corrupted list in {frame}",
                "list_corruption", stack=_warning("^__list_", "^list_"),),
            Format(r"WARNING: .*kernel/locking/lockdep\.c.*lock_", "WARNING: locking bug in {frame}",
                "lockdep", stack=_warning("lock_sock", "release_sock"),),
            Format(r"WARNING: .*still has locks held!", "WARNING: still has locks held in {1}", "lockdep",
                report=r"WARNING: .*still has locks held!(?:.*\n)+?.*at: {{FUNC}}",),
            Format(r"WARNING: Nested lock was not taken", "WARNING: nested lock was not taken in {frame}",
                "lockdep", stack=_warning(),),
            Format(r"WARNING: lock held when returning to user space",
                "WARNING: lock held when returning to user space in {1}", "lockdep", no_stack=True,
                report=r"WARNING: lock held when returning to user space(?:.*\n)+?"
                       r".*leaving the kernel with locks "
                r"still held(?:.*\n)+?.*at: (?:{{PC}} +)?{{FUNC}}",),
            Format(r"WARNING: .*mm/.*\.c.* k?.?malloc", "WARNING: kmalloc bug in {frame}", "warning",
                stack=_warning("kmalloc", "krealloc", "slab", "kmem"),),
            Format(r"WARNING: .*mm/vmalloc.c.*__vmalloc_node", "WARNING: zero-size vmalloc in {frame}",
                "warning", stack=_warning(),),
            Format(r"WARNING: .* usb_submit_urb", "WARNING in {frame}/usb_submit_urb", "warning",
                stack=_warning("usb_submit_urb", "usb_start_wait_urb", "usb_bulk_msg", "usb_interrupt_msg",
                    "usb_control_msg",),),
            Format(r"WARNING: {{SRC}} at 0x\d+, CPU#\d+", "WARNING in {frame}", "warning", stack=_warning()),
            Format(r"WARNING: .* at {{SRC}} {{FUNC}}", "WARNING in {frame}", "warning", stack=_warning()),
            Format(r"WARNING: {{SRC}} at {{FUNC}}", "WARNING in {frame}", "warning", stack=_warning()),
            # The caller unsymbolized ("at lib/idr.c:527 0xffffffffc0a01234", a module without
            # symbols): the stack names the function; the path never makes the title.
            Format(r"WARNING: CPU: [0-9]+ PID: [0-9]+ at {{SRC}}", "WARNING in {frame}", "warning",
                stack=_warning()),
            Format(r"WARNING: \[.*\] {{SRC}} at {{FUNC}}.*", "WARNING in {frame}", "warning", stack=_warning()
            ),
            Format(r"WARNING: possible circular locking dependency detected", "possible deadlock in {frame}",
                "lockdep",
                report=r"WARNING: possible circular locking dependency detected(?:.*\n)+?.*is trying "
                r"to acquire lock", stack=Stack(
                    (r"at: (?:{{PC}} +)?{{FUNC}}", r"at: (?:{{PC}} +)?{{FUNC}}", FRAMES), skip=_SYZ_LOCKDEP),
            ),
            Format(r"WARNING: possible irq lock inversion dependency detected", "possible deadlock in {1}",
                "lockdep",
                report=r"WARNING: possible irq lock inversion dependency detected(?:.*\n)+?"
                       r".*just changed the "
                r"state of lock(?:.*\n)+?.*at: (?:{{PC}} +)?{{FUNC}}",),
            Format(r"WARNING: .*-safe -> .*-unsafe lock order detected", "possible deadlock in {frame}",
                "lockdep", stack=Stack((r"which became (?:.*) at:", FRAMES)),),
            Format(r"WARNING: possible recursive locking detected", "possible deadlock in {1}", "lockdep",
                report=r"WARNING: possible recursive locking detected(?:.*\n)+?.*is trying to acquire lock"
                r"(?:.*\n)+?.*at: (?:{{PC}} +)?{{FUNC}}",),
            Format(r"WARNING: inconsistent lock state", "inconsistent lock state in {frame}", "lockdep",
                report=r"WARNING: inconsistent lock state(?:.*\n)+?.*takes(?:.*\n)+?"
                       r".*at: (?:{{PC}} +)?{{FUNC}}",
                stack=_calltrace(),),
            Format(r"WARNING: suspicious RCU usage", "WARNING: suspicious RCU usage in {frame}", "lockdep",
                report=r"WARNING: suspicious RCU usage(?:.*\n)+?.*?{{SRC}}",
                stack=_calltrace(skip=("rcu", "kmem", "slab")),),
            Format(r"WARNING: kernel stack regs at [0-9a-f]+ in [^ ]* has bad '([^']+)' value",
                "WARNING: kernel stack regs has bad '{1}' value", "warning", no_stack=True,),
            Format(r"WARNING: kernel stack frame pointer at [0-9a-f]+ in [^ ]* has bad value",
                "WARNING: kernel stack frame pointer has bad value", "warning", no_stack=True,),
            Format(r"WARNING: bad unlock balance detected!", "WARNING: bad unlock balance in {frame}",
                "lockdep", stack=Stack((r"{{PC}} +{{FUNC}}", CALL_TRACE, FRAMES)),),
            Format(r"WARNING: held lock freed!", "WARNING: held lock freed in {1}", "lockdep",
                report=r"WARNING: held lock freed!(?:.*\n)+?.*at:(?: {{PC}})? +{{FUNC}}",),
            Format(r"WARNING: kernel stack regs .* has bad 'bp' value",
                "WARNING: kernel stack regs has bad value", "warning", no_stack=True,),
            Format(r"WARNING: kernel stack frame pointer .* has bad value",
                "WARNING: kernel stack regs has bad value", "warning", no_stack=True,),
            # RHEL 6 (2.6.32): "WARNING: at net/core/dev.c:1234 func+0x1/0x2() (Not tainted)".
            Format(r"WARNING: at {{SRC}} {{FUNC}}", "WARNING in {frame}", "warning", stack=_warning()),
            Format(r"^\s*WARNING:[ \t]*$", "WARNING: corrupted", "warning", corrupted=True),), suppress=(
            "WARNING: /etc/ssh/moduli does not exist, using fixed modulus",
            "WARNING: workqueue cpumask: online intersect > possible intersect",
            "WARNING: [Tt]he mand mount option",
            r"WARNING: Unsupported flag value\(s\) of 0x%x in DT_FLAGS_1",
            "WARNING: Unprivileged eBPF is enabled with eIBRS",
            r"WARNING: fbcon: Driver '(.*)' missed to adjust virtual screen size",
            r"WARNING: See https.* for mitigation options.", r"WARNING: kernel not compiled with CPU_SRSO",
            r"EXT4-[Ff][Ss](?: \(.*\))?:",
            r"(?i:warning: .* uses (deprecated v2 capabilities|wireless extensions))",
            r"XFS \(\w+\): WARNING",
            # Firmware and boot loader chatter on serial consoles, not kernel warnings.
            r"^WARNING: Caches not enabled",),),
    Oops("INFO:", (
            Format(r"INFO: possible circular locking dependency detected", "possible deadlock in {1}",
                "lockdep",
                report=r"INFO: possible circular locking dependency detected \](?:.*\n)+?"
                       r".*is trying to acquire "
                r"lock(?:.*\n)+?.*at: {{PC}} +{{FUNC}}",),
            Format(r"INFO: possible irq lock inversion dependency detected", "possible deadlock in {1}",
                "lockdep",
                report=r"INFO: possible irq lock inversion dependency detected \](?:.*\n)+?"
                       r".*just changed the "
                r"state of lock(?:.*\n)+?.*at: {{PC}} +{{FUNC}}",),
            Format(r"INFO: SOFTIRQ-safe -> SOFTIRQ-unsafe lock order detected", "possible deadlock in {1}",
                "lockdep",
                report=r"INFO: SOFTIRQ-safe -> SOFTIRQ-unsafe lock order detected \](?:.*\n)+?.*is "
                r"trying to acquire(?:.*\n)+?.*at: {{PC}} +{{FUNC}}",),
            Format(r"INFO: possible recursive locking detected", "possible deadlock in {1}", "lockdep",
                report=r"INFO: possible recursive locking detected \](?:.*\n)+?.*is trying to acquire lock"
                r"(?:.*\n)+?.*at: {{PC}} +{{FUNC}}",),
            Format(r"INFO: inconsistent lock state", "inconsistent lock state in {1}", "lockdep",
                report=r"INFO: inconsistent lock state \](?:.*\n)+?.*takes(?:.*\n)+?.*at: {{PC}} +{{FUNC}}",),
            Format(r"INFO: rcu_(?:preempt|sched|bh|tasks) (?:self-)?detected(?: expedited)? stall",
                "INFO: rcu detected stall in {frame}", "rcu_stall", stack=Stack(
                    ("apic_timer_interrupt", RIP, FRAMES),
                    parts2=("(?:apic_timer_interrupt|Exception stack|el1h_64_irq)", FRAMES),
                # 5.x+ x86 (seen on 6.12): the stalled function is on the RIP line, the task
                # stack below it has no timer-interrupt frame.
                parts3=(RIP, CALL_TRACE, FRAMES),
                    skip=("apic_timer_interrupt", "rcu"), extractor="stall", ignore=_RCU_GP_DUMPS),),
            Format(r"INFO: trying to register non-static key",
                "INFO: trying to register non-static key in {frame}", "lockdep",
                stack=_calltrace(skip=("stack", "lock", "IRQ")),),
            Format(r"INFO: suspicious RCU usage", "INFO: suspicious RCU usage in {frame}", "lockdep",
                report=r"INFO: suspicious RCU usage(?:.*\n)+?.*?{{SRC}}",
                stack=_calltrace(skip=("rcu", "kmem", "slab")),),
            Format(r"INFO: task {{TASK}} blocked (?:in I/O wait )?for more than [0-9]+ seconds",
                "INFO: task hung in {frame}", "hung_task", stack=_calltrace(extractor="hang"),),
            Format(r"INFO: task {{TASK}} can't die for more than .* seconds",
                "INFO: task can't die in {frame}", "hung_task", stack=_calltrace(skip=("schedule",)),),
            Format(r"INFO: (Freed|Allocated) in (.*)", "INFO: {1} in {2}", "other", corrupted=True),
            Format(r"^\s*INFO:[ \t]*$", "INFO: corrupted", "other", corrupted=True),), suppress=(
            "INFO: lockdep is turned off", "INFO: Stall ended before state dump start", "INFO: NMI handler",
            "INFO: recovery required on readonly filesystem", "(handler|interrupt).*took too long",
            "INFO: sys_.* is not present in /proc/kallsyms", "INFO: no syscalls can create resource",
            "rmt_storage:INFO:", "_INFO:",),),
    # rcu stalls since 4.18 print "rcu: INFO: rcu_sched self-detected stall" (caught above through
    # "INFO:"); 5.x+ hung task and RCU "detected stalls on CPUs/tasks" lines too.
    Oops("Unable to handle kernel", (
            Format(r"Unable to handle kernel (NULL pointer dereference)",
                "BUG: unable to handle kernel {1} in {frame}", "null_deref", stack=_rip(), fatal=True,),
            Format(r"Unable to handle kernel (paging request|access to user memory)",
                "BUG: unable to handle kernel {1} in {frame}", "paging_request", stack=_rip(), fatal=True,),
            # s390: "Unable to handle kernel pointer dereference in virtual kernel address space"
            Format(r"Unable to handle kernel pointer dereference",
                "BUG: unable to handle kernel paging request in {frame}", "paging_request", stack=_rip(),
                fatal=True,),
            Format(r"Unable to handle kernel", _BAD_ACCESS, "paging_request", corrupted=True, fatal=True),),),
    Oops("general protection fault", (
            Format(r"general protection fault.*:", "general protection fault in {frame}", "gpf", stack=_rip(),
                fatal=True,),), suppress=(r"general protection fault .* error:\d+ in ",),),
    Oops("stack segment: ",
        (Format(r"stack segment: ", "stack segment fault in {frame}", "gpf", stack=_rip(), fatal=True),),),
    Oops("Kernel panic", (
            Format(r"Kernel panic - not syncing: stack-protector:", "kernel panic: stack is corrupted in {1}",
                "stack_protector", fatal=True, no_stack=True,
                report=r"Kernel panic - not syncing: stack-protector: Kernel stack is corrupted in: {{FUNC}}",
            ),
            Format(r"Kernel panic - not syncing: stack-protector:",
                "kernel panic: stack is corrupted in {frame}", "stack_protector", fatal=True,
                report=r"Kernel panic - not syncing: stack-protector: "
                       r"Kernel stack is corrupted in: [a-f0-9]+",
                stack=_calltrace(skip=("stack_chk",)),),
            Format(r"Kernel panic - not syncing: corrupted stack end",
                "kernel panic: corrupted stack end in {frame}", "stack_overflow", fatal=True,
                report=r"Kernel panic - not syncing: corrupted stack end detected inside scheduler",
                stack=_calltrace(skip=("schedule", "retint_kernel"), extractor="stall"),),
            Format(r"Kernel panic - not syncing: kernel stack overflow", "kernel stack overflow in {frame}",
                "stack_overflow", fatal=True, stack=_calltrace(skip=("bad_stack",), extractor="overflow"),),
            Format(r"Kernel panic - not syncing: Attempted to kill init!",
                "kernel panic: Attempted to kill init!", "panic", fatal=True,),
            Format(r"Kernel panic - not syncing: Couldn't open N_TTY ldisc for [^ ]+ --- error -[0-9]+",
                "kernel panic: Couldn't open N_TTY ldisc", "panic", fatal=True,),
            Format(r"Kernel panic - not syncing: Fatal exception", "kernel panic: Fatal exception", "panic",
                corrupted=True, fatal=True, consequence=True,),
            # panic_on_warn: WARN() and every sanitizer report that calls check_panic_on_warn()
            # (KASAN, KFENCE, KMSAN, KCSAN, UBSAN since 6.2; WARN only before).
            Format(r"Kernel panic - not syncing: .*panic_on_warn set", "kernel panic: panic_on_warn set",
                "warning", corrupted=True, fatal=True, consequence=True, caused_by=ANY_REPORT,),
            Format(r"Kernel panic - not syncing: panic_on_taint set", "kernel panic: panic_on_taint set",
                "panic", corrupted=True, fatal=True, consequence=True, caused_by=ANY_REPORT,),
            Format(r"Kernel panic - not syncing: hung_task: blocked tasks",
                "kernel panic: hung_task: blocked tasks", "hung_task", corrupted=True, fatal=True,
                consequence=True, caused_by=("hung_task",),),
            Format(r"Kernel panic - not syncing: softlockup: hung tasks",
                "kernel panic: softlockup: hung tasks", "soft_lockup", corrupted=True, fatal=True,
                consequence=True, caused_by=("soft_lockup",),),
            # panic_on_rcu_stall (kernel/rcu/tree_stall.h: panic("RCU Stall\n")).
            Format(r"Kernel panic - not syncing: RCU Stall", "kernel panic: RCU Stall", "rcu_stall",
                corrupted=True, fatal=True, consequence=True, caused_by=("rcu_stall",),),
            Format(r"Kernel panic - not syncing: (?:Hard LOCKUP|Watchdog detected hard LOCKUP.*)",
                "kernel panic: hard LOCKUP", "hard_lockup", fatal=True, consequence=True,
                caused_by=("hard_lockup",),),
            # These panics carry a stack only to name the guilty frame (the title does not use it).
            Format(r"Kernel panic - not syncing: (?:sysrq triggered crash|SysRq : Trigger a crash)",
                "kernel panic: sysrq triggered crash", "sysrq", fatal=True, stack=_calltrace(), no_stack=True,
            ),
            # The OOM panic's guilty frame is out_of_memory itself: the allocation that hit the limit
            # is a victim of memory pressure, not the bug.
            Format(r"Kernel panic - not syncing: (Out of memory.*)", "kernel panic: {1}", "oom", fatal=True,
                stack=_calltrace(), no_stack=True,),
            Format(r"Kernel panic - not syncing: (.*(?:[Mm]achine [Cc]heck|MCE).*)", "kernel panic: {1}",
                "mce", fatal=True,),
            Format(r"Kernel panic - not syncing: (NMI.*|.*[Uu]nknown NMI.*|.*IOCK.*|.*SERR.*)",
                "kernel panic: {1}", "nmi", fatal=True, consequence=True,),
            Format(r"Kernel panic - not syncing: (.*)", "kernel panic: {1}", "panic", fatal=True,
                stack=_calltrace(), no_stack=True,),),),
    Oops("PANIC: double fault", (
            Format(r"PANIC: double fault", "PANIC: double fault in {frame}", "double_fault",
                stack=Stack((RIP,)), fatal=True,),), joins=True,),
    Oops("kernel BUG", (
            Format(r"kernel BUG at (?:\S*/)?mm/usercopy\.c", "BUG: bad usercopy in {frame}", "usercopy",
                stack=_calltrace(skip=("usercopy", "__check")), fatal=True,),
            Format(r"kernel BUG at (?:\S*/)?lib/list_debug\.c", "BUG: corrupted list in {frame}",
                "list_corruption", stack=_calltrace(), fatal=True,),
            Format(
                r"kernel BUG at (.*)", "kernel BUG in {frame}", "bug", stack=_rip(skip=("^skb_",)), fatal=True
            ),),),
    Oops("Kernel BUG", (Format(r"Kernel BUG (.*)", "kernel BUG {1}", "bug", fatal=True),)),
    Oops("BUG kmalloc-",
        (Format(r"BUG kmalloc-.*: Object already free", "BUG: Object already free", "slab_corruption"),),),
    Oops("divide error:", (
            Format(
                r"divide error: ", "divide error in {frame}", "divide_error", stack=Stack((RIP,)), fatal=True
            ),), joins=True,),
    Oops("divide_error:", (
            Format(
                r"divide_error: ", "divide error in {frame}", "divide_error", stack=Stack((RIP,)), fatal=True
            ),), joins=True,),
    Oops("invalid opcode:", (
            Format(r"invalid opcode: ", "invalid opcode in {frame}", "invalid_opcode", stack=Stack((RIP,)),
                fatal=True,),), joins=True,),
    Oops("int3:", (Format(r"int3: ", "int3 in {frame}", "bug", stack=_rip(), fatal=True),), joins=True),
    Oops("UBSAN:", (
            Format(r"UBSAN:", "UBSAN: undefined-behaviour in {frame}", "ubsan",
                report=r"UBSAN: Undefined behaviour in", stack=_calltrace(skip=("ubsan", "overflow")),),
            Format(r"UBSAN: array-index-out-of-bounds in", "UBSAN: array-index-out-of-bounds in {frame}",
                "ubsan", stack=_calltrace(skip=("ubsan", "overflow")),),
            Format(r"UBSAN:", "UBSAN: {1} in {frame}", "ubsan", report=r"UBSAN: (.*?) in",
                stack=_calltrace(skip=("ubsan", "overflow")),),),),
    # Rust code's panic!() (overflow checks, unwrap() on None, slice bounds) goes to the kernel
    # crate's handler: "rust_kernel: panicked at FILE:LINE:COL:" and the message on the next line
    # (Rust 1.73+; before, "panicked at 'MESSAGE', FILE:LINE:COL"), then BUG() in rust_helper_BUG,
    # whose "kernel BUG at rust/helpers/bug.c:7!" report joins this one.  The panicking function
    # is the first frame under the panic machinery (names demangled: crashhub.kernel.demangle).
    Oops("rust_kernel: panicked at", (
            Format(r"rust_kernel: panicked at '(.*)', ", "{1} in {frame}", "bug", stack=_calltrace(_RUST)),
            Format(r"rust_kernel: panicked at ", "{1} in {frame}", "bug", report=r"panicked at [^\n]*\n(.+)",
                stack=_calltrace(_RUST),),), prelude=True,),
    Oops("Booting the kernel.",
        (Format(r"^Booting the kernel", "unexpected kernel reboot", "reboot", no_stack=True),),
        suppress=("Parsing ELF|Decompressing Linux|Unknown parameter '",), unstamped=True,),
    Oops("unregister_netdevice: waiting for", (
            Format(r"unregister_netdevice: waiting for (?:.*) to become free",
                "unregister_netdevice: waiting for DEV to become free", "refcount", no_stack=True,),),
        interleaves=True,),
    Oops("VFS: Close: file count is 0", (
            Format(r"VFS: Close: file count is 0", "VFS: Close: file count is zero (use-after-free)", "bug",
                no_stack=True,),),),
    Oops("VFS: Busy inodes after unmount", (
            Format(r"VFS: Busy inodes after unmount", "VFS: Busy inodes after unmount (use-after-free)",
                "bug", no_stack=True,),),),
    Oops("Internal error:", (
            # arm/arm64 die(): "Internal error: Oops: 96000045 [#1] PREEMPT SMP",
            # "Internal error: Oops - BUG: 00000000f2000800 [#1]" after "kernel BUG at".
            Format(r"Internal error:", "Internal error in {frame}", "other", stack=_rip(), fatal=True),),
        joins=True,),
    Oops("Unhandled fault:", (
            Format(
                r"Unhandled fault:", "Unhandled fault in {frame}", "paging_request", stack=_rip(), fatal=True
            ),),),
    Oops("Alignment trap:", (Format(r"Alignment trap:", "Alignment trap in {frame}", "other", stack=_rip()),)
    ),
    # --- not in syzkaller's table: what production fleets print --------------------------------
    Oops("invoked oom-killer:", (
            Format(r"(\S+) invoked oom-killer:", "out of memory in {frame}", "oom",
                stack=_calltrace(skip=("oom", "out_of_memory", "^__alloc", "alloc_pages", "page_alloc")),),),
        interleaves=True,),
    Oops("Watchdog detected hard LOCKUP", (
            Format(r"Watchdog detected hard LOCKUP on cpu", "hard lockup in {frame}", "hard_lockup",
                stack=_rip(extractor="stall"),),), joins=True,),
    Oops("page allocation failure:", (
            Format(r"page allocation failure: order:(\d+)", "page allocation failure in {frame}",
                "alloc_failure",
                stack=_calltrace(skip=("warn_alloc", "__alloc", "alloc_pages", "page_alloc", "slowpath")),
                ),),),
    # Not a crash: the all-CPU backtrace a lockup or panic asks for.  Listed (and always suppressed)
    # so that its lines, which contain the "NMI" scan anchor, never end the report they belong to.
    Oops("NMI backtrace for cpu", (), suppress=(".",)),
    # The CPUs' dumps say whether the NMI came to a hung machine (a CPU busy with IRQs off, or
    # waiting for one) or to an idle one: two bugs, two buckets (cpus.py).
    Oops("Uhhuh. NMI received", (
            Format(r"Uhhuh\. NMI received for unknown reason", "NMI: unknown reason{in_frame}", "nmi",
                no_stack=True, stack=Stack((), extractor="cpus"),),),),
    Oops("NMI: IOCK error", (Format(r"NMI: IOCK error", "NMI: IOCK error", "nmi", no_stack=True),)),
    Oops("NMI: PCI system error",
        (Format(r"NMI: PCI system error", "NMI: PCI system error (SERR)", "nmi", no_stack=True),),),
    Oops("Machine Check Exception",
        (Format(r"Machine Check Exception", "machine check exception", "mce", no_stack=True, fatal=True),),),
    Oops("Machine check events logged",
        (Format(r"Machine check events logged", "machine check events logged", "mce", no_stack=True),),),
    Oops("list_add corruption", (
            Format(r"list_add corruption", "BUG: corrupted list in {frame}", "list_corruption",
                stack=_warning("^__list_", "^list_"),),), prelude=True, joins=True,),
    Oops("list_del corruption", (
            Format(r"list_del corruption", "BUG: corrupted list in {frame}", "list_corruption",
                stack=_warning("^__list_", "^list_"),),), prelude=True, joins=True,),
    # The die() line; on its own (ppc, s390, old x86) it opens a report, after another header it joins.
    Oops("Oops:", (
            Format(r"Oops: (?:Kernel access of bad area|Exception in kernel mode)", "Oops in {frame}",
                "paging_request", stack=_rip(), fatal=True,),
            Format(r"Oops: (?:[0-9a-f]{4}\b|.*\[#\d+\])", "Oops in {frame}", "other", stack=_rip(), fatal=True
            ),), joins=True,),
)
# fmt: on

HEADERS: tuple[str, ...] = tuple(o.header for o in OOPSES)
# Substrings searched in the raw log to find header lines: every header contains one (a test
# checks it).  Fewer, longer needles make the scan of a large log several times faster.
SCAN_ANCHORS: tuple[str, ...] = (
    "BUG",
    "WARNING:",
    "INFO:",
    "Unable to handle kernel",
    "general protection fault",
    "stack segment: ",
    "Kernel panic",
    "PANIC: double fault",
    "divide",
    "invalid opcode:",
    "int3:",
    "UBSAN:",
    "Booting the kernel.",
    "unregister_netdevice: waiting for",
    "VFS: ",
    "Internal error:",
    "Unhandled fault:",
    "Alignment trap:",
    "invoked oom-killer:",
    "Watchdog detected hard LOCKUP",
    "NMI",
    "Machine ",
    "corruption",
    "Oops:",
    "page allocation failure:",
    "rust_kernel: panicked",
)


def find_oops(line: str) -> Oops | None:
    """The oops group whose header is on ``line`` (the earliest in the table), unless suppressed."""
    for oops in OOPSES:
        if oops.header in line:
            if oops.suppress_re is not None and oops.suppress_re.search(line):
                return None
            return oops
    return None
