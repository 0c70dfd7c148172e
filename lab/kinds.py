"""The crash kinds: how each is triggered in the guest and what the lab expects to see.

A trigger is a shell command run by busybox ``sh`` inside a subshell that first prints its pid, so
the manifest knows the crashing task; ``/proc/crashmod`` is the lab's test module (crashmod/).
"""

from __future__ import annotations

from dataclasses import dataclass, field


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


def _mod(kind: str) -> str:
    return f"echo {kind} > /proc/crashmod"


_SPIN = "preempt_disable + cpu_relax loop in a kthread"

KINDS: dict[str, Kind] = {k.name: k for k in [
    Kind("sysrq", "echo c > /proc/sysrq-trigger", "SysRq-c (sysrq_handle_crash)",
         "sh", True, "sysrq_handle_crash", None,
         (r"sysrq: Trigger a crash", r"Kernel panic - not syncing: sysrq triggered crash"),
         needs_module=False),
    Kind("null", _mod("null"), "NULL pointer write at offset 0x20 in a module",
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
    Kind("softlockup", _mod("softlockup"), f"soft lockup: {_SPIN}, softlockup_panic=1",
         "crashmod_spin", False, "crashmod_spin", None,
         (r"watchdog: BUG: soft lockup - CPU#\d+ stuck for \d+s! \[crashmod_spin:\d+\]",
          r"Kernel panic - not syncing: softlockup: hung tasks"),
         sysctls={"/proc/sys/kernel/watchdog_thresh": "5", "/proc/sys/kernel/softlockup_panic": "1"}),
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
         (r"rcu: INFO: rcu_(preempt|sched) (self-detected stall|detected stalls?) on CPU",
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
]}

def kind(name: str) -> Kind:
    try:
        return KINDS[name]
    except KeyError:
        raise ValueError(f"unknown crash kind {name!r}; known: {', '.join(KINDS)}") from None
