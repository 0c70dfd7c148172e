"""CPU-centric diagnoses: hard lockups and stuck IPIs, soft lockups on a held spinlock, RCU stalls.

Pure: the drgn engine's ``cpu_waits`` section (written by ``_probe_cpus``) is parsed into the frozen
dataclasses below, and :func:`check_cpus` turns it, with the log's watchdog events, into findings
that name the culprit (function, CPU, task).  Where the dump lacks the readings, the log-based
findings of ``_checks.check_lockups`` are kept as they are: never worse than the log.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from crashhub.analyze._model import Analysis, Culprit, Finding, Json, _opt_int, _opt_str
from crashhub.triage import WatchdogEvents

SECTION = "cpu_waits"
PREEMPT_MASK = 0xFF  # the preempt-disable depth in preempt_count (softirq, hardirq and NMI above it)
RCU_SEQ_STATE_MASK = 0x3  # kernel/rcu/rcu.h: the low bits of gp_seq say a grace period is running
NMI_FRAMES = frozenset(("exc_nmi", "asm_exc_nmi", "unknown_nmi_error", "nmi_panic"))
JIFFIES_WRAP = 1 << 64


def _ints(v: Json) -> tuple[int, ...]:
    return tuple(int(x) for x in v or () if isinstance(x, int))


def _strs(v: Json) -> tuple[str, ...]:
    return tuple(str(x) if x is not None else "?" for x in v or ())


def _opt_bool(v: Json) -> bool | None:
    return v if isinstance(v, bool) else None


@dataclass(frozen=True, slots=True)
class CpuState:
    """One online CPU at the dump: its current task and the context it was stopped in."""

    cpu: int
    pid: int | None = None
    comm: str | None = None
    frames: tuple[str, ...] = ()
    context: int | None = None  # index in ``frames`` of the interrupted context
    function: str | None = None  # the (non-inlined) function holding the context's pc
    pc: int | None = None
    rflags: int | None = None
    irqs_off: bool | None = None
    preempt_count: int | None = None
    watchdog_touch_ts: int | None = None
    panicking: bool = False

    @property
    def idle(self) -> bool:
        return self.pid == 0

    @property
    def preempt_off(self) -> bool | None:
        """Preemption disabled in the stopped context.  panic() (6.1, 6.12) adds one
        preempt_disable_notrace() of its own on the panicking CPU, which is not the context's."""
        if self.preempt_count is None:
            return None
        return (self.preempt_count & PREEMPT_MASK) > (1 if self.panicking else 0)

    def who(self) -> str:
        return f"pid {self.pid} {self.comm}"

    def chain(self, n: int = 4) -> str:
        start = self.context or 0
        return " <- ".join(self.frames[start:start + n]) or "?"

    def flags(self) -> str:
        """Registers and count as evidence: RIP, EFLAGS with its IF bit, preempt_count."""
        out = [f"CPU {self.cpu} ({self.who()}): "]
        if self.pc is not None:
            out.append(f"RIP {self.pc:#x} {self.function}")
        if self.rflags is not None:
            out.append(f", EFLAGS {self.rflags:#x} (IF={0 if self.irqs_off else 1})")
        if self.preempt_count is not None:
            out.append(f", preempt_count {self.preempt_count:#x}")
        return "".join(out) + f"; stack {self.chain()}"

    @classmethod
    def parse(cls, d: Json, panic_cpu: int | None = None) -> CpuState:
        return cls(cpu=int(d.get("cpu") or 0), panicking=d.get("cpu") == panic_cpu,
                   pid=_opt_int(d.get("pid")), comm=_opt_str(d.get("comm")),
                   frames=_strs(d.get("frames")), context=_opt_int(d.get("context")),
                   function=_opt_str(d.get("function")), pc=_opt_int(d.get("pc")),
                   rflags=_opt_int(d.get("rflags")), irqs_off=_opt_bool(d.get("irqs_off")),
                   preempt_count=_opt_int(d.get("preempt_count")),
                   watchdog_touch_ts=_opt_int(d.get("watchdog_touch_ts")))


@dataclass(frozen=True, slots=True)
class CsdWait:
    """A CPU waiting in csd_lock_wait for another CPU to run its IPI function."""

    cpu: int
    frame: str
    callers: tuple[str, ...] = ()
    csd: int | None = None
    csd_from: str | None = None
    flags: int | None = None
    locked: bool | None = None
    func: str | None = None
    target: int | None = None
    target_from: str | None = None

    @classmethod
    def parse(cls, d: Json) -> CsdWait:
        return cls(cpu=int(d.get("cpu") or 0), frame=str(d.get("frame") or "csd_lock_wait"),
                   callers=_strs(d.get("callers")), csd=_opt_int(d.get("csd")),
                   csd_from=_opt_str(d.get("csd_from")), flags=_opt_int(d.get("flags")),
                   locked=_opt_bool(d.get("locked")), func=_opt_str(d.get("func")),
                   target=_opt_int(d.get("target")), target_from=_opt_str(d.get("target_from")))


@dataclass(frozen=True, slots=True)
class SpinWait:
    """A CPU in the qspinlock slow path, and the lock it wants as read from the dump."""

    cpu: int
    frame: str
    caller: str | None = None
    lock: int | None = None
    symbol: str | None = None
    identified: str | None = None
    value: int | None = None
    locked: int | None = None
    pending: int | None = None
    tail_cpu: int | None = None

    def name(self) -> str:
        what = self.symbol or self.identified or "a lock"
        return f"{what} ({self.lock:#x})" if self.lock is not None else "a lock drgn could not read"

    @classmethod
    def parse(cls, d: Json) -> SpinWait:
        return cls(cpu=int(d.get("cpu") or 0), frame=str(d.get("frame") or "?"),
                   caller=_opt_str(d.get("caller")), lock=_opt_int(d.get("lock")),
                   symbol=_opt_str(d.get("symbol")), identified=_opt_str(d.get("identified")),
                   value=_opt_int(d.get("value")), locked=_opt_int(d.get("locked")),
                   pending=_opt_int(d.get("pending")), tail_cpu=_opt_int(d.get("tail_cpu")))


@dataclass(frozen=True, slots=True)
class RcuReader:
    """A task on an rcu_node's blkd_tasks list: preempted or asleep inside an RCU reader."""

    pid: int | None
    comm: str | None
    state: str | None = None
    cpu: int | None = None
    frames: tuple[str, ...] = ()
    sleeps_in: str | None = None
    blocks_gp: bool = False
    blocks_exp: bool = False

    @classmethod
    def parse(cls, d: Json) -> RcuReader:
        return cls(pid=_opt_int(d.get("pid")), comm=_opt_str(d.get("comm")), state=_opt_str(d.get("state")),
                   cpu=_opt_int(d.get("cpu")), frames=_strs(d.get("frames")),
                   sleeps_in=_opt_str(d.get("sleeps_in")), blocks_gp=bool(d.get("blocks_gp")),
                   blocks_exp=bool(d.get("blocks_exp")))


@dataclass(frozen=True, slots=True)
class RcuNode:
    index: int
    qsmask: int = 0
    grplo: int = 0
    grphi: int = 0
    blocked: tuple[RcuReader, ...] = ()

    @classmethod
    def parse(cls, d: Json) -> RcuNode:
        return cls(index=int(d.get("index") or 0), qsmask=int(d.get("qsmask") or 0),
                   grplo=int(d.get("grplo") or 0), grphi=int(d.get("grphi") or 0),
                   blocked=tuple(RcuReader.parse(b) for b in d.get("blocked") or () if isinstance(b, dict)))


@dataclass(frozen=True, slots=True)
class RcuCpu:
    cpu: int
    qs_pending: bool = False  # the CPU's bit is still set in its leaf rcu_node's qsmask
    cpu_no_qs: int | None = None
    gp_seq: int | None = None

    @classmethod
    def parse(cls, d: Json) -> RcuCpu:
        return cls(cpu=int(d.get("cpu") or 0), qs_pending=bool(d.get("qs_pending")),
                   cpu_no_qs=_opt_int(d.get("cpu_no_qs")), gp_seq=_opt_int(d.get("gp_seq")))


@dataclass(frozen=True, slots=True)
class RcuState:
    flavour: str
    gp_seq: int
    gp_start: int | None = None
    jiffies: int | None = None
    nodes: tuple[RcuNode, ...] = ()
    cpus: tuple[RcuCpu, ...] = ()

    @property
    def g(self) -> int:
        """gp_seq as the kernel's stall report prints it (g=): signed, as it starts below zero."""
        return self.gp_seq - JIFFIES_WRAP if self.gp_seq >= JIFFIES_WRAP // 2 else self.gp_seq

    @property
    def gp_running(self) -> bool:
        return bool(self.gp_seq & RCU_SEQ_STATE_MASK)

    def age(self) -> str:
        if self.gp_start is None or self.jiffies is None:
            return ""
        return f", started {(self.jiffies - self.gp_start) % JIFFIES_WRAP} jiffies before the dump"

    @classmethod
    def parse(cls, d: Json) -> RcuState:
        return cls(flavour=str(d.get("flavour") or "rcu"), gp_seq=int(d.get("gp_seq") or 0),
                   gp_start=_opt_int(d.get("gp_start")), jiffies=_opt_int(d.get("jiffies")),
                   nodes=tuple(RcuNode.parse(n) for n in d.get("nodes") or () if isinstance(n, dict)),
                   cpus=tuple(RcuCpu.parse(c) for c in d.get("cpus") or () if isinstance(c, dict)))


@dataclass(frozen=True, slots=True)
class CpuWaits:
    """The parsed ``cpu_waits`` section."""

    panic_cpu: int | None
    cpus: tuple[CpuState, ...] = ()
    csd_waits: tuple[CsdWait, ...] = ()
    spin_waits: tuple[SpinWait, ...] = ()
    rcu: RcuState | None = None
    watchdog_thresh: int | None = None
    now_s: int | None = None

    def cpu(self, n: int | None) -> CpuState | None:
        return next((c for c in self.cpus if c.cpu == n), None)

    @property
    def panic_via_nmi(self) -> bool:
        """The panicking CPU came to panic() from an NMI handler (unknown NMI, NMI watchdog)."""
        c = self.cpu(self.panic_cpu)
        return c is not None and bool(NMI_FRAMES & set(c.frames[:c.context or len(c.frames)]))

    def stuck_s(self, c: CpuState) -> int | None:
        """Seconds since the soft-lockup watchdog last ran on ``c`` (its touch timestamp)."""
        if self.now_s is None or c.watchdog_touch_ts is None:
            return None
        return self.now_s - c.watchdog_touch_ts

    @classmethod
    def parse(cls, d: Json) -> CpuWaits | None:
        if not isinstance(d, dict) or not d.get("cpus"):
            return None
        rcu, panic_cpu = d.get("rcu"), _opt_int(d.get("panic_cpu"))
        return cls(panic_cpu=panic_cpu,
                   cpus=tuple(CpuState.parse(c, panic_cpu) for c in d["cpus"] if isinstance(c, dict)),
                   csd_waits=tuple(CsdWait.parse(w) for w in d.get("csd_waits") or () if isinstance(w, dict)),
                   spin_waits=tuple(SpinWait.parse(w) for w in d.get("spin_waits") or ()
                                    if isinstance(w, dict)),
                   rcu=RcuState.parse(rcu) if isinstance(rcu, dict) else None,
                   watchdog_thresh=_opt_int(d.get("watchdog_thresh")), now_s=_opt_int(d.get("now_s")))


def _culprit(c: CpuState) -> Culprit:
    return Culprit(function=c.function, cpu=c.cpu, pid=c.pid, comm=c.comm)


def _state(c: CpuState) -> str:
    if c.irqs_off:
        return "with interrupts off"
    if c.preempt_off:
        return "with preemption off"
    return "with interrupts on" if c.irqs_off is False else "(its interrupt state is not in the dump)"


_BT_CMD = ("crash> bt -a\n"
           "drgn> from drgn.helpers.linux.sched import cpu_curr\n"
           "drgn> t = prog.stack_trace(cpu_curr(prog, {cpu})); print(t)\n"
           "drgn> hex(t[0].registers()['rflags'])  # IF is 0x200")


def _csd_finding(w: CsdWait, waiter: CpuState | None, t: CpuState) -> Finding:
    via = ", ".join(w.callers[:1]) or "?"
    csd = f"csd {w.csd:#x} dst={t.cpu}" if w.csd is not None else f"dst={t.cpu}"
    if t.irqs_off:
        claim = (f"hard lockup: CPU {t.cpu} ran {t.function}() with interrupts off ({t.who()}); "
                 f"CPU {w.cpu} waits for it in {w.frame} ({via}), {csd}")
    else:
        claim = (f"stuck IPI: CPU {w.cpu} waits in {w.frame} ({via}) for CPU {t.cpu}, which has not run "
                 f"it; CPU {t.cpu} runs {t.function}() {_state(t)} ({t.who()}), {csd}")
    ev = [t.flags()]
    if waiter is not None:
        ev.append(waiter.flags())
    if w.csd is not None:
        lock = "set" if w.locked else "clear"
        ev.append(f"csd {w.csd:#x} (from {w.csd_from}): flags {w.flags or 0:#x} (CSD_FLAG_LOCK {lock}), "
                  f"func {w.func}; target CPU {t.cpu} from {w.target_from}")
    cmd = _BT_CMD.format(cpu=t.cpu) + (
        "\ndrgn> from drgn.helpers.linux.percpu import per_cpu"
        f"\ndrgn> per_cpu(prog['call_single_queue'], {t.cpu}).first  # {w.csd:#x}: the waiter's csd"
        if w.csd is not None else "")
    return Finding("hard-lockup", "error", claim,
                   "A CPU waits for another to run a cross-CPU function call (IPI); the target has not "
                   "taken it. With its interrupts off it cannot: what it runs is the culprit. Node.dst "
                   "is kept only with CONFIG_CSD_LOCK_WAIT_DEBUG: the target is the CPU whose "
                   "call_single_queue holds the csd.", tuple(ev), cmd, _culprit(t))


def _nmi_findings(w: CpuWaits, events: WatchdogEvents) -> list[Finding]:
    out = []
    for cw in w.csd_waits:
        t = w.cpu(cw.target)
        if t is not None and t.cpu != cw.cpu:
            out.append(_csd_finding(cw, w.cpu(cw.cpu), t))
    blamed = {f.culprit.cpu for f in out if f.culprit}
    log_cpus = {h.cpu for h in events.hard}
    for c in w.cpus:
        if c.cpu in blamed or not c.irqs_off or c.idle:
            continue
        # A CPU named by the NMI watchdog's "hard LOCKUP", or one found with interrupts off when an
        # NMI stopped the machine.
        if c.cpu in log_cpus or (w.panic_via_nmi and c.cpu != w.panic_cpu):
            out.append(Finding("hard-lockup", "error",
                               f"hard lockup: CPU {c.cpu} ran {c.function}() with interrupts off ({c.who()})",
                               "A CPU ran with interrupts off when the NMI came: it took no interrupt, "
                               "no IPI and no timer tick. (A short interrupts-off section caught by "
                               "chance reads the same: the NMI watchdog's report or a second dump "
                               "confirms it.)", (c.flags(),), _BT_CMD.format(cpu=c.cpu),
                               _culprit(c)))
    if not out and w.panic_via_nmi and all(c.idle for c in w.cpus):
        where = "; ".join(f"CPU {c.cpu} {c.comm} in {c.function}" for c in w.cpus)
        out.append(Finding("nmi-idle", "warning",
                           f"NMI from outside the kernel while every CPU was idle ({where}): "
                           "no kernel function to blame",
                           "The panic came from an NMI the kernel did not raise (a hypervisor's or BMC's "
                           "NMI, unknown_nmi_panic); no CPU was stuck: look at who sent it.",
                           tuple(c.flags() for c in w.cpus), "crash> bt -a"))
    return out


def _holders(w: CpuWaits, s: SpinWait) -> list[CpuState]:
    """The CPUs that may hold ``s.lock``: busy (not idle), not waiting on it themselves, and running
    with preemption (or interrupts) off, as spin_lock() leaves a CPU."""
    waiting = {x.cpu for x in w.spin_waits if x.lock == s.lock}
    return [c for c in w.cpus if c.cpu not in waiting and not c.idle and (c.preempt_off or c.irqs_off)]


def _lock_finding(w: CpuWaits, c: CpuState, s: SpinWait, head: str, ev: list[str]) -> Finding:
    ev.append(c.flags())
    if s.value is not None:
        tail = f"CPU {s.tail_cpu}" if s.tail_cpu is not None else "none"
        ev.append(f"{s.name()}: qspinlock value {s.value:#x} (locked {s.locked}, pending {s.pending}, "
                  f"queue tail {tail})")
    cands = _holders(w, s) if s.lock is not None and s.locked else []
    culprit = Culprit(function=s.caller, cpu=c.cpu, pid=c.pid, comm=c.comm)
    if s.lock is None:
        claim = f"{head}, spinning in {s.frame} on a lock whose address the dump does not give"
    elif not s.locked:
        claim = f"{head}, spinning in {s.frame} on {s.name()}, which is free in the dump"
    elif len(cands) == 1:
        h = cands[0]
        # A holder that itself spins on another lock: the two wait on each other (lock order).
        hw = next((x for x in w.spin_waits if x.cpu == h.cpu), None)
        runs = (f"{h.function}() {_state(h)} ({h.who()})" if hw is None else
                f"{hw.caller}() ({h.who()}) and itself spins on {hw.name()}: a lock-order deadlock")
        claim = f"{head}, spinning in {s.frame} on {s.name()}, held by CPU {h.cpu}, which runs {runs}"
        ev.append(h.flags())
        ev.append(f"qspinlocks record no owner: CPU {h.cpu} is the only other CPU that runs a task with "
                  "preemption off and does not wait on this lock itself")
        culprit = Culprit(function=h.function if hw is None else hw.caller, cpu=h.cpu, pid=h.pid, comm=h.comm)
    else:
        why = (", ".join(f"CPU {h.cpu} ({h.function})" for h in cands) if cands
               else "no other CPU runs with preemption off: a task may have left it locked")
        claim = f"{head}, spinning in {s.frame} on {s.name()}, locked; its holder cannot be told ({why})"
    cmd = (_BT_CMD.format(cpu=c.cpu) +
           (f"\ndrgn> hex(prog.read_u32({s.lock:#x}))  # {s.name()}" if s.lock is not None else ""))
    return Finding("soft-lockup", "error", claim,
                   "A CPU spun on a spinlock past the soft-lockup threshold; the CPU holding the lock "
                   "is the one to look at.", tuple(ev), cmd, culprit)


def _stuck_cpus(w: CpuWaits, events: WatchdogEvents, a: Analysis) -> list[tuple[int, int | None, str]]:
    """(CPU, seconds, evidence line) of each soft-locked CPU: the log's reports, or, when the panic
    says soft lockup but the log lost its lines, the busy CPUs whose watchdog is past its threshold."""
    if events.soft:
        first = {e.cpu: e for e in reversed(events.soft)}
        return [(cpu, e.seconds, e.line) for cpu, e in sorted(first.items())]
    if "softlockup" not in (a.panic_message or ""):
        return []
    limit = 2 * (w.watchdog_thresh or 10)
    return [(c.cpu, w.stuck_s(c), f"panic: {a.panic_message}") for c in w.cpus
            if not c.idle and (w.stuck_s(c) or 0) > limit]


def _soft_findings(w: CpuWaits, events: WatchdogEvents, a: Analysis) -> list[Finding] | None:
    """One finding per soft-locked CPU; None when a CPU the log names is not in the dump."""
    out = []
    for cpu, secs, line in _stuck_cpus(w, events, a):
        c = w.cpu(cpu)
        if c is None:
            return None
        ev = [line]
        stuck = w.stuck_s(c)
        if stuck is not None:
            limit = 2 * (w.watchdog_thresh or 10)
            ev.append(f"CPU {cpu}'s watchdog last ran {stuck} s before the dump "
                      f"(watchdog_touch_ts {c.watchdog_touch_ts}, threshold {limit} s)")
        spin = next((s for s in w.spin_waits if s.cpu == cpu), None)
        head = f"soft lockup: CPU {cpu} stuck for {secs if secs is not None else '?'} s"
        if spin is not None:
            out.append(_lock_finding(w, c, spin, head, ev))
            continue
        ev.append(c.flags())
        out.append(Finding("soft-lockup", "error", f"{head} in {c.function}() {_state(c)} ({c.who()})",
                           "A CPU ran kernel code without scheduling past the watchdog threshold: the "
                           "function it loops in is the culprit.", tuple(ev), _BT_CMD.format(cpu=cpu),
                           _culprit(c)))
    return out


def _rcu_findings(w: CpuWaits, events: WatchdogEvents, a: Analysis) -> list[Finding]:
    rcu = w.rcu
    stalled = bool(events.rcu) or "RCU Stall" in (a.panic_message or "")
    if rcu is None or not stalled or not rcu.gp_running:
        return []
    gp = f"{rcu.flavour} grace period g={rcu.g}{rcu.age()}"
    ev0 = [r.line for r in events.rcu[:1]]
    out = []
    for rc in rcu.cpus:
        c = w.cpu(rc.cpu)
        if not rc.qs_pending or c is None:
            continue
        node = next((n for n in rcu.nodes if n.grplo <= rc.cpu <= n.grphi and n.qsmask), None)
        ev = [*ev0, f"rcu_node {node.index if node else '?'} qsmask {node.qsmask if node else 0:#x}: CPU "
              f"{rc.cpu}'s bit still set; rcu_data cpu_no_qs.norm {rc.cpu_no_qs}", c.flags()]
        out.append(Finding("rcu-stall", "error",
                           f"RCU stall: CPU {rc.cpu} holds up {gp}: it runs {c.function}() {_state(c)} "
                           f"({c.who()}) and reports no quiescent state",
                           "The CPU's bit is still set in its leaf rcu_node's qsmask: since the grace "
                           "period began it has not passed a quiescent state (a context switch, user "
                           "mode, idle); it runs the function named without scheduling.",
                           tuple(ev), _RCU_CMD, _culprit(c)))
    for n in rcu.nodes:
        for t in n.blocked:
            if not (t.blocks_gp or t.blocks_exp):
                continue
            blocks = "blocks the grace period" if t.blocks_gp else "blocks an expedited one"
            ev = [*ev0, f"rcu_node {n.index} (CPUs {n.grplo}-{n.grphi}) blkd_tasks: pid {t.pid} {t.comm}, "
                  f"state {t.state}, {blocks}",
                  f"its stack: {_around(t.frames, t.sleeps_in)}"]
            how = "was preempted" if t.state == "R" else "sleeps"
            where = f" in {t.sleeps_in}()" if t.sleeps_in else " (its stack is not in the dump)"
            out.append(Finding("rcu-stall", "error",
                               f"RCU stall: {t.comm} (pid {t.pid}) holds up {gp}: it {how}{where} inside "
                               "an RCU read-side critical section",
                               "A task preempted or asleep inside rcu_read_lock() waits on its rcu_node's "
                               "blkd_tasks list; no grace period can end until it runs rcu_read_unlock().",
                               tuple(ev), _RCU_CMD,
                               Culprit(function=t.sleeps_in, cpu=t.cpu, pid=t.pid, comm=t.comm)))
    return out


def _around(frames: Sequence[str], name: str | None) -> str:
    """A sleeper's stack from a few frames above ``name`` (the scheduler's) to just below it."""
    i = frames.index(name) if name in frames else 3
    return " <- ".join(frames[max(0, i - 3):i + 2])


_RCU_CMD = ("drgn> rs = prog['rcu_state']; rnp = rs.node[0]; rs.gp_seq, hex(rnp.qsmask), rnp.gp_tasks\n"
            "drgn> from drgn.helpers.linux.list import list_for_each_entry\n"
            "drgn> [(t.pid, t.comm) for t in list_for_each_entry('struct task_struct', "
            "rnp.blkd_tasks.address_of_(), 'rcu_node_entry')]")


def check_cpus(a: Analysis, events: WatchdogEvents, fallback: Sequence[Finding]) -> list[Finding]:
    """The CPU findings from the dump, in place of the log-based ``fallback`` findings they cover
    (``_checks.check_lockups``); the fallback stays for what the dump cannot answer."""
    drgn = a.engines.get("drgn")
    w = CpuWaits.parse(drgn.section(SECTION)) if drgn is not None else None
    if w is None:
        return list(fallback)
    mine = _nmi_findings(w, events)
    soft = _soft_findings(w, events, a)
    mine += soft or []
    mine += _rcu_findings(w, events, a)
    covered = {f.id for f in mine}
    if soft is None:
        covered.discard("soft-lockup")
    elif events.soft:
        covered.add("soft-lockup")
    return [f for f in fallback if f.id not in covered] + mine
