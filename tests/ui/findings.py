"""Analyses with findings as the checks write them, stored on a crash the way the hub's analysis job
stores them (``AnalysisRecord(...).to_dict()`` through ``set_crash_analysis``).

The values are those of the lab's crashes (crashmod's functions, its pids and CPUs, the kernel's
addresses); ``HOSTILE`` is evidence as a hostile dump could hold it, for the escaping tests.
"""

from __future__ import annotations

from crashhub.analyze import Analysis, AnalysisRecord, Culprit, Diagnosis, Finding, StackFrame
from crashhub.store import Store

HARD_LOCKUP = Finding(
    "hard-lockup",
    "error",
    "hard lockup: CPU 1 ran crashmod_irqoff_spin() with interrupts off for over 10 s",
    # The detail the CPU checks give this claim (analyze/_diag_cpus.py).
    "A CPU ran with interrupts off when the NMI came: it took no interrupt, no IPI and no timer tick. "
    "(A short interrupts-off section caught by chance reads the same: the NMI watchdog's report or a "
    "second dump confirms it.)",
    evidence=(
        "CPU 1 RIP crashmod_irqoff_spin+0x1c/0x30 [crashmod] EFLAGS 0x46 (IF=0)",
        "csd 0xffff88803e82c9e0 func=do_sync_core dst=1 flags=0x1 (CSD_FLAG_LOCK)",
        "NMI watchdog: Watchdog detected hard LOCKUP on cpu 1",
    ),
    command="crash> bt -c 1",
    culprit=Culprit("crashmod_irqoff_spin", cpu=1, pid=123, comm="crashmod_irqoff"),
)
# The kept 6.1 "null" crash as the checks read it (its log: CPU 1, PID 148 sh, RIP crashmod_null+0xc,
# address 0x20).
NULL_DEREF = Finding(
    "null-deref",
    "critical",
    "NULL pointer dereference in crashmod_null(): obj->refcount written through obj = NULL (RAX 0)",
    # The detail the fault check gives: the oops line of the crash's log (analyze/_diag_fault.py).
    "The oops: BUG: kernel NULL pointer dereference, address: 0000000000000020",
    evidence=(
        "RIP crashmod_null+0xc/0x20 [crashmod]: movl $0x1,0x20(%rax)",
        "RAX 0x0000000000000000, fault address 0x0000000000000020",
        "crashmod_nullobj @ 0xffffffffc05fb2c0 = 0x0",
    ),
    command="crash> dis -l crashmod_null+0xc",
    culprit=Culprit("crashmod_null", cpu=1, pid=148, comm="sh"),
)
TAINTED = Finding(
    "tainted",
    "warning",
    "kernel tainted OE by the out-of-tree module crashmod, and the crashing stack runs through it",
    evidence=("tainted_mask 0x3000 (O E)", "module crashmod taints=OE at 0xffffffffc05f9000"),
    command=(
        "from drgn.helpers.linux.module import find_module\n"
        "m = find_module(prog, 'crashmod')\n"
        "print(hex(prog['tainted_mask']), m.taints)"
    ),
)
# Evidence a dump can hold verbatim (comm is 16 bytes a user chooses; strings in memory are any
# bytes): markup, a fence and a template expression that must all come out as text.
HOSTILE = Finding(
    "hard-lockup",
    "critical",
    'hard lockup on CPU 0 in <b>evil</b> "quoted" & more',
    evidence=("comm <img src=x onerror=alert(1)>", "```\nnot a fence", "{{ 7*7 }}"),
    command="crash> p '</code></pre><script>alert(1)</script>'\n```\nstill the command",
    culprit=Culprit("spin<script>", cpu=0, pid=66, comm="<svg onload=x>"),
)
# The null crash's stack (its log's RIP and Call Trace); file:line where crashmod.c says it.
STACK = (
    StackFrame("crashmod_null", module="crashmod", file="lab/crashmod/crashmod.c", line=48, offset=0xC),
    StackFrame("crashmod_write", module="crashmod", file="lab/crashmod/crashmod.c", line=265, offset=0x1CF),
    StackFrame("proc_reg_write", offset=0x56),
    StackFrame("vfs_write", offset=0xC7),
    StackFrame("ksys_write", offset=0x6B),
    StackFrame("do_syscall_64", offset=0x5D),
    StackFrame("entry_SYSCALL_64_after_hwframe", offset=0x6E),
)


def analysis(*findings: Finding) -> AnalysisRecord:
    res = Analysis(engine="drgn", stack=STACK, stack_source="unwind", diagnosis=Diagnosis(findings))
    return AnalysisRecord("done", result=res, started=1_764_000_000.0, seconds=1.2,
                          vmlinux="/srv/debuginfo/vmlinux")


def store_analysis(store: Store, crash_id: str, *findings: Finding) -> AnalysisRecord:
    rec = analysis(*findings)
    store.crashes.set_crash_analysis(crash_id, rec.to_dict())
    return rec
