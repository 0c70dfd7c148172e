"""The crash kinds: how each is triggered in the guest and what the lab expects to see.

A trigger is a shell command run by busybox ``sh`` inside a subshell that first prints its pid, so
the manifest knows the crashing task; ``/proc/crashmod`` is the lab's test module (crashmod/).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from crashhub.readiness import TRIGGERS


@dataclass(frozen=True)
class Kind:
    name: str
    trigger: str  # shell run as: sh -c 'echo LAB-TRIGGER pid=$$; <trigger>'
    description: str
    comm: str | None  # comm of the task that is current when the kernel panics (None: not known)
    crash_in_trigger: bool  # the panicking task is the trigger subshell (so its pid is known)
    guilty: str | None  # the function the crash is blamed on (top frame of the interesting stack)
    culprit: str | None  # the function really at fault, when the crash lands elsewhere
    log_patterns: tuple[str, ...]  # regexps that must all appear in vmcore-dmesg.txt (6.1 and 6.12)
    sysctls: dict[str, str] = field(default_factory=dict)  # /proc/sys or /sys path -> value
    needs_module: bool = True
    timeout_s: int = 240  # host-side limit for the whole boot (TCG)
    # The host injects an NMI (QMP inject-nmi) this many seconds after a console line matching
    # ``nmi_after`` (TCG has no PMU, so the guest's NMI watchdog never fires by itself).
    nmi_after: str | None = None
    nmi_delay_s: float = 2.0
    # Kernel parameters a fleet sets at boot for this kind (some have no sysctl: panic_on_taint,
    # crash_kexec_post_notifiers); appended to the crashing kernel's command line only.
    cmdline: str = ""
    # Functions blamed by the non-fatal reports the log holds before the crash (a log with two bugs).
    earlier: tuple[str, ...] = ()
    # The kernel families this kind is made on (`python -m lab all`, tests/lab). The kinds issue 16
    # asked for cover 6.1 and 6.12 only: CI makes every (kind, kernel) run on an empty cache.
    kernels: tuple[str, ...] = ("6.1", "6.12", "5.10")


def _mod(kind: str) -> str:
    return f"echo {kind} > /proc/crashmod"


_SPIN = "preempt_disable + cpu_relax loop in a kthread"
# How a fleet that kdumps on a hypervisor/BMC NMI gets every CPU's stack into the log (see "nmi").
_NMI_SYSCTLS = {"/proc/sys/kernel/unknown_nmi_panic": "1", "/proc/sys/kernel/panic_print": "64"}
_NMI_CMDLINE = "crash_kexec_post_notifiers"
_NEW_KERNELS = ("6.1", "6.12")
_HUNG_SYSCTLS = {"/proc/sys/kernel/hung_task_timeout_secs": "10", "/proc/sys/kernel/hung_task_panic": "1"}

KINDS: dict[str, Kind] = {k.name: k for k in [
    # sysrq, null and softlockup are triggered as crashhub's kernel check does (crashhub.readiness).
    Kind("sysrq", TRIGGERS["sysrq"].command, "SysRq-c (sysrq_handle_crash)",
         "sh", True, "sysrq_handle_crash", None,
         (r"sysrq: Trigger a crash", r"Kernel panic - not syncing: sysrq triggered crash"),
         needs_module=False),
    Kind("null", TRIGGERS["null"].command, "NULL pointer write at offset 0x20 in a module",
         "sh", True, "crashmod_null", None,
         (r"BUG: kernel NULL pointer dereference, address: 0000000000000020",
          r"RIP: 0010:crashmod_null\+0x")),
    Kind("bug", _mod("bug"), "BUG_ON() in a module",
         "sh", True, "crashmod_bug", None,
         (r"kernel BUG at crashmod/crashmod\.c:\d+!", r"RIP: 0010:crashmod_bug\+0x")),
    Kind("gpf", _mod("gpf"), "write through LIST_POISON1 (non-canonical address)",
         "sh", True, "crashmod_gpf", None,
         (r"general protection fault, probably for non-canonical address 0xdead0000000001",
          r"RIP: 0010:crashmod_gpf\+0x")),
    Kind("warn", _mod("warn"), "WARN() with panic_on_warn=1",
         "sh", True, "crashmod_warn", None,
         (r"WARNING: CPU: \d+ PID: \d+ at crashmod/crashmod\.c:\d+ crashmod_warn",
          r"Kernel panic - not syncing: (kernel: )?panic_on_warn set"),
         sysctls={"/proc/sys/kernel/panic_on_warn": "1"}),
    Kind("softlockup", TRIGGERS["softlockup"].command, f"soft lockup: {_SPIN}, softlockup_panic=1",
         "crashmod_spin", False, "crashmod_spin", None,
         (r"watchdog: BUG: soft lockup - CPU#\d+ stuck for \d+s! \[crashmod_spin:\d+\]",
          r"Kernel panic - not syncing: softlockup: hung tasks"),
         sysctls=dict(TRIGGERS["softlockup"].sysctls)),
    Kind("hung", _mod("hung"), "task blocked on a mutex it holds (self-deadlock), hung_task_panic=1",
         "khungtaskd", False, "crashmod_hung", None,
         (r"INFO: task sh:\d+ blocked for more than \d+ seconds\.",
          r"Kernel panic - not syncing: hung_task: blocked tasks"),
         sysctls={"/proc/sys/kernel/hung_task_timeout_secs": "10", "/proc/sys/kernel/hung_task_panic": "1"}),
    Kind("oom", "exec dd if=/dev/zero of=/dev/null bs=3000M count=1",
         "user memory hog (dd with a 3000 MiB buffer), vm.panic_on_oom=1",
         "dd", True, "out_of_memory", None,
         (r"invoked oom-killer",
          r"Kernel panic - not syncing: Out of memory: (system-wide )?panic_on_oom is enabled"),
         sysctls={"/proc/sys/vm/panic_on_oom": "1", "/proc/sys/vm/overcommit_memory": "1"},
         needs_module=False),
    Kind("rcu_stall", _mod("rcu_stall"), f"RCU stall: {_SPIN} inside rcu_read_lock, panic_on_rcu_stall=1",
         "crashmod_rcu", False, "crashmod_spin", None,
         # rcu_preempt with PREEMPT_DYNAMIC (Debian's 6.1 and 6.12); rcu_sched on non-preemptible kernels.
         # Self-detected: the spinner keeps its tick (irqs on) while the other CPU idles tickless
         # (NO_HZ), so the stalled CPU's own tick runs the stall check first; its RIP is the spinner.
         (r"rcu: INFO: rcu_(preempt|sched) self-detected stall on CPU", r"RIP: 0010:crashmod_spin\+0x",
          r"Kernel panic - not syncing: RCU Stall"),
         sysctls={"/proc/sys/kernel/soft_watchdog": "0", "/proc/sys/kernel/panic_on_rcu_stall": "1",
                  "/sys/module/rcupdate/parameters/rcu_cpu_stall_timeout": "5"}),
    Kind("stack_overflow", _mod("stack_overflow"), "unbounded recursion into the vmap stack guard page",
         "sh", True, "crashmod_recurse", None,
         # 6.1/6.12: "BUG: TASK stack guard page was hit at" then "stack guard page: 0000 [#1]" (the
         # double fault handler's die()); 5.10 says "BUG: stack guard page was hit at" then
         # "kernel stack overflow (double-fault): 0000 [#1]".
         (r"BUG: (TASK )?stack guard page was hit at",
          r"(stack guard page|kernel stack overflow \(double-fault\)): 0000 \[#1\]")),
    Kind("list_corruption", _mod("list_corruption"), "list_del() twice (CONFIG_DEBUG_LIST)",
         "sh", True, "__list_del_entry_valid", "crashmod_list_corruption",
         (r"list_del corruption", r"kernel BUG at lib/list_debug\.c:\d+!")),
    Kind("uaf", _mod("uaf"), "write to a freed kmalloc-192 object, then allocate (no KASAN)",
         "sh", True, None, "crashmod_uaf",
         (r"(general protection fault|BUG: unable to handle page fault)",)),
    # A hard lockup seen through an NMI. TCG has no PMU, so no NMI watchdog: the host injects the NMI a
    # fleet gets from its hypervisor or BMC, and unknown_nmi_panic=1 turns it into a kdump. QEMU raises
    # it on LINT1, which Linux unmasks on the boot CPU only: the writer is pinned to CPU 0 and waits
    # there (csd_lock_wait) for CPU 1, which spins with interrupts off. The panic is CPU 0's; the
    # culprit is on CPU 1, and only panic_print=0x40 (all-CPU backtraces) puts its stack in the log.
    # Since "panic: fix the panic_print NMI backtrace setting" (6.3, in 6.1 stable since March 2023)
    # that backtrace is taken before the other CPUs stop, but still after __crash_kexec(): with
    # kdump loaded it needs crash_kexec_post_notifiers (a boot parameter) to run at all.
    Kind("nmi", f"taskset -p 1 $$ >/dev/null; {_mod('nmi')}",
         "irqs-off spin on CPU 1, the writer on CPU 0 waits for its IPI, host NMI, unknown_nmi_panic=1, "
         "panic_print=0x40 with crash_kexec_post_notifiers",
         "sh", True, "smp_call_function_single", "crashmod_irqoff_spin",
         (r"Uhhuh\. NMI received for unknown reason [0-9a-f]+ on CPU 0\.",
          r"Kernel panic - not syncing: NMI: Not continuing",
          r"NMI backtrace for cpu 1", r"RIP: 0010:crashmod_irqoff_spin\+0x"),
         sysctls=_NMI_SYSCTLS, cmdline=_NMI_CMDLINE, nmi_after=r"crashmod: waiting for CPU 1",
         kernels=_NEW_KERNELS),
    # The same NMI and the same fleet settings with nothing wrong: both CPUs idle. A different bug
    # from "nmi" (an NMI from outside, not a stuck CPU), which the two logs must show.
    Kind("nmi_idle", "sleep 60", "host NMI while both CPUs idle, unknown_nmi_panic=1, "
         "panic_print=0x40 with crash_kexec_post_notifiers",
         "swapper/0", False, None, None,
         (r"Uhhuh\. NMI received for unknown reason [0-9a-f]+ on CPU 0\.",
          r"Kernel panic - not syncing: NMI: Not continuing",
          # CPU 1 idles: 6.1.192's nmi_cpu_backtrace() skips it ("idling at native_safe_halt");
          # 6.12.118 dumps the idle task's stack (RIP pv_native_safe_halt) instead (seen here).
          r"NMI backtrace for cpu 1 skipped: idling at|CPU: 1 (UID: 0 )?PID: 0 Comm: swapper/1 "),
         sysctls=_NMI_SYSCTLS, cmdline=_NMI_CMDLINE, needs_module=False,
         nmi_after=r"LAB-FACT panic-pid",
         kernels=_NEW_KERNELS),
    # panic_on_taint has no sysctl: a boot parameter (5.8+); 0x20 is TAINT_BAD_PAGE ('B').
    Kind("bad_page", _mod("bad_page"), "free a 64 KiB buffer whose head page is still mapped, "
         "panic_on_taint=0x20",
         "sh", True, "crashmod_bad_page", None,
         (r"BUG: Bad page state in process sh ", r"page dumped because: nonzero mapcount",
          r"Kernel panic - not syncing: panic_on_taint set"),
         cmdline="panic_on_taint=0x20",
         kernels=_NEW_KERNELS),
    # Two reports in one log: a real bug (sleeping under a spinlock) that does not stop the machine,
    # then a deliberate SysRq-c from the trigger shell. The writer runs in a subshell: the scheduler
    # resets the preempt count after its report, the spin_unlock() then underflows it, and that
    # subshell segfaults on its next user page fault (and reports again as it exits), as it would
    # on a fleet.
    Kind("atomic_sysrq", f"({_mod('atomic_sleep')}); sleep 1; echo c > /proc/sysrq-trigger",
         "msleep() under a spinlock in a module (scheduling while atomic), then SysRq-c",
         "sh", True, "sysrq_handle_crash", None,
         (r"BUG: scheduling while atomic: sh/\d+/0x00000002", r"crashmod_atomic_sleep\+0x",
          r"Kernel panic - not syncing: sysrq triggered crash"),
         earlier=("crashmod_atomic_sleep",),
         kernels=_NEW_KERNELS),
    # A WARN of the core kernel, not the module's: ida_free() of an id already freed. Its "at" path
    # is the kernel tree's, the caller is the module. Debian 6.1.192 and 6.12.118 both print it
    # relative ("at lib/idr.c:527": the kernel builds with -fmacro-prefix-map); a build-path
    # prefix (/build/reproducible-path/...) is allowed, not required.
    Kind("warn_core", _mod("ida_double_free"), "ida_free() twice on one id in a module, panic_on_warn=1",
         "sh", True, "ida_free", "crashmod_ida_double_free",
         (r"WARNING: CPU: \d+ PID: \d+ at (\S+/)?lib/idr\.c:\d+ ida_free\+0x",
          r"ida_free called for id=\d+ which is not allocated",
          r"Kernel panic - not syncing: (kernel: )?panic_on_warn set"),
         sysctls={"/proc/sys/kernel/panic_on_warn": "1"},
         kernels=_NEW_KERNELS),
    # Wait chains (issue 17): sleeping locks, hung_task_panic=1 as "hung". hung_chain: a kthread holds a
    # mutex across msleep() in a loop (each sleep ends in a context switch, so khungtaskd never reports
    # it); the writer blocks on that mutex and is the task reported. The bug is the holder's.
    Kind("hung_chain", _mod("hung_chain"),
         "kthread holds a mutex across msleep() loops, the writer blocks on it, hung_task_panic=1",
         "khungtaskd", False, "crashmod_hung_chain", "crashmod_hold_and_sleep",
         (r"INFO: task sh:\d+ blocked for more than \d+ seconds\.",
          r"Kernel panic - not syncing: hung_task: blocked tasks"),
         sysctls=_HUNG_SYSCTLS, kernels=_NEW_KERNELS),
    # abba: crashmod_a takes lock_a then lock_b, crashmod_b lock_b then lock_a; both hold their first
    # before either asks for its second. khungtaskd walks the task list in creation order, so it reports
    # crashmod_a first (guilty: its function); the fault is the cycle, of which crashmod_take_ba is the
    # other half.
    Kind("abba", _mod("abba"), "two kthreads take two mutexes in opposite orders (ABBA deadlock), "
         "hung_task_panic=1",
         "khungtaskd", False, "crashmod_take_ab", None,
         (r"INFO: task crashmod_a:\d+ blocked for more than \d+ seconds\.",
          r"INFO: task crashmod_b:\d+ blocked for more than \d+ seconds\.",
          r"Kernel panic - not syncing: hung_task: blocked tasks"),
         sysctls=_HUNG_SYSCTLS, kernels=_NEW_KERNELS),
    # A spinlock held forever on CPU 1 (with interrupts off, so CPU 1's own watchdog never runs),
    # wanted by the writer pinned to CPU 0: the soft lockup is CPU 0's, spinning in the qspinlock
    # slow path; the culprit is the holder, which only the dump shows (qspinlocks record no owner).
    Kind("spin_held", f"taskset -p 1 $$ >/dev/null; {_mod('spin_held')}",
         "a kthread on CPU 1 holds a module spinlock forever (spin_lock_irq), the writer on CPU 0 "
         "spin_locks it, softlockup_panic=1",
         "sh", True, "native_queued_spin_lock_slowpath", "crashmod_spin_holder",
         (r"watchdog: BUG: soft lockup - CPU#0 stuck for \d+s! \[sh:\d+\]",
          r"RIP: 0010:native_queued_spin_lock_slowpath\+0x",
          r"Kernel panic - not syncing: softlockup: hung tasks"),
         sysctls={"/proc/sys/kernel/watchdog_thresh": "5", "/proc/sys/kernel/softlockup_panic": "1"},
         kernels=_NEW_KERNELS),
    # A task asleep inside rcu_read_lock() (preemptible RCU: it waits on the rcu_node's blkd_tasks
    # list), holding up the grace period the module then asks for. Every CPU reports its quiescent
    # states; the stall names the task. CPU 1 goes offline first and the trigger shell then loops in
    # user space on CPU 0, so the stall check runs in the shell's tick and the panic is the shell's.
    # With CPU 1 online, 6.12.118 found the stall there in some runs, in the idle task (an idle CPU
    # still ticks for its pending RCU callbacks and the timers it expires for others).
    Kind("rcu_blocked", f"echo 0 > /sys/devices/system/cpu/cpu1/online; {_mod('rcu_blocked')}; "
         "while :; do :; done",
         "CPU 1 offline, a kthread sleeps (msleep) inside rcu_read_lock, a grace period is requested, "
         "the shell loops in user space, panic_on_rcu_stall=1",
         "sh", True, None, "crashmod_rcu_sleeper",
         (r"rcu: INFO: rcu_preempt detected stalls on CPUs/tasks",
          r"Tasks blocked on level-0 rcu_node \(CPUs 0-1\): P\d+",
          r"Kernel panic - not syncing: RCU Stall"),
         sysctls={"/proc/sys/kernel/panic_on_rcu_stall": "1",
                  "/sys/module/rcupdate/parameters/rcu_cpu_stall_timeout": "5"},
         # The sleep itself draws "Voluntary context switch within RCU read-side critical section!"
         # (a WARN_ONCE in rcu_note_context_switch, not fatal), seen on 6.1.192.
         earlier=("rcu_note_context_switch",),
         kernels=_NEW_KERNELS),
]}

def kind(name: str) -> Kind:
    try:
        return KINDS[name]
    except KeyError:
        raise ValueError(f"unknown crash kind {name!r}; known: {', '.join(KINDS)}") from None
