"""Single kernel-log lines as facts: hung tasks, lockups, RCU stalls, OOM kills, the task lines.

Triage's reports title and bucket these; the analysis checks need the numbers in them (which task,
for how long, on which CPU) to say where a dump's task and CPU stacks fit, and the dump reader the
last "CPU: N PID: P" line to find the panic CPU, so triage, the one reader of kernel-log text,
gives them here too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_HUNG = re.compile(r"INFO: task (\S+):(\d+) blocked for more than (\d+) seconds")
_SOFT = re.compile(r"soft lockup - CPU#(\d+) stuck for (\d+)s! \[(.+?):(\d+)\]")
_HARD = re.compile(r"(?:Watchdog detected hard LOCKUP on cpu|NMI watchdog: .*LOCKUP.* on cpu) (\d+)", re.I)
_RCU = re.compile(r"rcu: INFO: (\S+) (?:self-)?detected stalls? on CPUs?")
_OOM_INVOKED = re.compile(r"(\S+) invoked oom-killer: .*")
_OOM_KILLED = re.compile(r"Out of memory: Killed process (\d+) \((.+?)\).*")
_TASK_LINE = re.compile(rb"CPU: (\d+) (?:UID: \d+ )?PID: (\d+) Comm:")
_OOM_PANIC = re.compile(r"Kernel panic - not syncing: (?:System is deadlocked on memory|Out of memory.*)")


@dataclass(frozen=True, slots=True)
class HungTask:
    line: str  # the matched text, as printed
    comm: str
    pid: int
    seconds: int


@dataclass(frozen=True, slots=True)
class SoftLockup:
    line: str
    cpu: int
    seconds: int
    comm: str
    pid: int


@dataclass(frozen=True, slots=True)
class HardLockup:
    line: str
    cpu: int


@dataclass(frozen=True, slots=True)
class RcuStall:
    line: str
    flavour: str  # "rcu_sched", "rcu_preempt", ...


@dataclass(frozen=True, slots=True)
class WatchdogEvents:
    """Every such line of one log, in log order."""

    hung: tuple[HungTask, ...] = ()
    soft: tuple[SoftLockup, ...] = ()
    hard: tuple[HardLockup, ...] = ()
    rcu: tuple[RcuStall, ...] = ()
    oom_invoked: tuple[str, ...] = ()  # "dd invoked oom-killer: ..." lines
    oom_killed: tuple[str, ...] = ()  # "Out of memory: Killed process ..." lines
    oom_panic: str | None = None  # the panic_on_oom / deadlocked-on-memory panic line


def watchdog_events(log: str) -> WatchdogEvents:
    return WatchdogEvents(
        hung=tuple(
            HungTask(m.group(0), m.group(1), int(m.group(2)), int(m.group(3))) for m in _HUNG.finditer(log)
        ),
        soft=tuple(
            SoftLockup(m.group(0), int(m.group(1)), int(m.group(2)), m.group(3), int(m.group(4)))
            for m in _SOFT.finditer(log)
        ),
        hard=tuple(HardLockup(m.group(0), int(m.group(1))) for m in _HARD.finditer(log)),
        rcu=tuple(RcuStall(m.group(0), m.group(1)) for m in _RCU.finditer(log)),
        oom_invoked=tuple(m.group(0) for m in _OOM_INVOKED.finditer(log)),
        oom_killed=tuple(m.group(0) for m in _OOM_KILLED.finditer(log)),
        oom_panic=m.group(0) if (m := _OOM_PANIC.search(log)) else None,
    )


def last_task_line(log: bytes) -> tuple[int, int] | None:
    """(cpu, pid) of the log's last "CPU: N PID: P Comm:" line: the dump stack printed last."""
    m = None
    for m in _TASK_LINE.finditer(log):  # noqa: B007 (the last match is wanted)
        pass
    return (int(m.group(1)), int(m.group(2))) if m is not None else None


# "kernel BUG at mm/slub.c:412!" (every kernel since 2.6, with CONFIG_DEBUG_BUGVERBOSE) and
# "WARNING: CPU: 1 PID: 1 at fs/x.c:12 f+0x1/0x2" (since 4.x; older ones print "at fs/x.c:12 f()").
_ASSERT_AT_RE = re.compile(r"(?:kernel BUG at|WARNING:.*? at) (\S+?:\d+)")


def assertion_site(message: str) -> str | None:
    """The ``file:line`` a BUG()/WARN() report's first line names, or None."""
    m = _ASSERT_AT_RE.search(message)
    return m.group(1) if m else None
