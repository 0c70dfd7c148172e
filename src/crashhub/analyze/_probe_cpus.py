"""What each CPU was doing, read with drgn: the facts the CPU diagnoses stand on (``_diag_cpus``).

Runs in the drgn engine's child process (section ``cpu_waits``).  Plain functions over a drgn
``Program`` returning JSON-able dicts; no reasoning about culprits here, only readings:

- every online CPU: its current task, the function it runs (the context an NMI or timer interrupt
  stopped, for the panicking CPU), that context's EFLAGS (IF bit) and the CPU's preempt count;
- IPI waits: a CPU in ``csd_lock_wait``, the ``call_single_data`` it waits on and the CPU whose
  ``call_single_queue`` holds it (the target);
- spinlock waits: a CPU in the qspinlock slow path, the lock's address, name and value;
- RCU: ``rcu_state``, the ``rcu_node`` tree with its blocked readers, per-CPU ``rcu_data``.

Every walk is bounded; a reading that fails is left out with its error, never guessed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

MAX_CPUS = 256
MAX_FRAMES = 32
MAX_QUEUE = 64  # entries read from one CPU's call_single_queue
MAX_NODES = 128  # rcu_node structures
MAX_BLOCKED = 64  # tasks read from one rcu_node's blkd_tasks list
X86_EFLAGS_IF = 0x200
CSD_FLAG_LOCK = 0x01
CSD_TYPE_MASK = 0xF0
# x86 keeps PREEMPT_NEED_RESCHED inverted in bit 31 of the per-CPU count; the rest is the count.
PREEMPT_COUNT_MASK = 0x7FFFFFFF
# Frames where an exception or interrupt entered the kernel: what lies below them was interrupted.
ENTRY_PREFIXES = ("asm_exc_", "asm_sysvec_", "asm_common_interrupt", "asm_spurious_interrupt")
CSD_WAIT_FRAMES = frozenset(("csd_lock_wait", "__csd_lock_wait"))
# The qspinlock slow path and the lock entry points above it, innermost first: the first of them
# on a stack whose ``lock`` argument drgn can read gives the lock.
SPIN_FRAMES = ("native_queued_spin_lock_slowpath", "queued_spin_lock_slowpath",
               "__pv_queued_spin_lock_slowpath", "pv_queued_spin_lock_slowpath", "virt_spin_lock",
               "do_raw_spin_lock", "queued_spin_lock", "__raw_spin_lock", "_raw_spin_lock",
               "__raw_spin_lock_irq", "_raw_spin_lock_irq", "__raw_spin_lock_irqsave",
               "_raw_spin_lock_irqsave", "__raw_spin_lock_bh", "_raw_spin_lock_bh", "spin_lock",
               "spin_lock_irq", "spin_lock_irqsave", "spin_lock_bh")
SPIN_SLOWPATHS = frozenset(SPIN_FRAMES[:5])


def _err(e: Exception) -> str:
    return f"{type(e).__name__}: {e}"[:200]


def _sym(prog: Any, addr: int) -> str | None:
    try:
        return str(prog.symbol(addr).name)
    except LookupError:
        return None


def _online_cpus(prog: Any) -> list[int]:
    from drgn.helpers.linux.cpumask import for_each_online_cpu  # noqa: PLC0415

    out: list[int] = []
    for cpu in for_each_online_cpu(prog):
        if len(out) >= MAX_CPUS:
            break
        out.append(cpu)
    return out


def _context_index(names: list[str | None], panicking: bool) -> int | None:
    """The frame the CPU was running when it was stopped.  A CPU other than the panicking one is
    stopped by the crash NMI, whose saved registers are its frame 0; the panicking CPU's own stack
    starts with the panic path, and what it interrupted lies below the first entry frame."""
    if not panicking:
        return 0 if names else None
    for i, n in enumerate(names):
        if n and n.startswith(ENTRY_PREFIXES):
            return i + 1 if i + 1 < len(names) else None
    return None


def _preempt_count(prog: Any, cpu: int) -> int | None:
    from drgn.helpers.linux.percpu import per_cpu  # noqa: PLC0415

    # 6.2 moved x86's __preempt_count into struct pcpu_hot (commit "x86/percpu: Move preempt_count
    # next to current_task"); 6.1 keeps the plain per-CPU int.
    if "pcpu_hot" in prog:
        return int(per_cpu(prog["pcpu_hot"], cpu).preempt_count.value_()) & PREEMPT_COUNT_MASK
    if "__preempt_count" in prog:
        return int(per_cpu(prog["__preempt_count"], cpu).value_()) & PREEMPT_COUNT_MASK
    return None


def _cpu(prog: Any, cpu: int, panic_cpu: int | None) -> tuple[dict[str, Any], Any]:
    """One CPU's reading, and its stack trace (for the waits below)."""
    from drgn.helpers.linux.percpu import per_cpu  # noqa: PLC0415
    from drgn.helpers.linux.sched import cpu_curr, task_state_to_char  # noqa: PLC0415

    task = cpu_curr(prog, cpu)
    d: dict[str, Any] = {"cpu": cpu, "pid": task.pid.value_(),
                         "comm": task.comm.string_().decode("utf-8", "replace"),
                         "state": task_state_to_char(task), "frames": []}
    with contextlib.suppress(Exception):
        d["preempt_count"] = _preempt_count(prog, cpu)
    if "watchdog_touch_ts" in prog:
        with contextlib.suppress(Exception):
            d["watchdog_touch_ts"] = per_cpu(prog["watchdog_touch_ts"], cpu).value_()
    trace = prog.stack_trace(task)
    frames = [f for i, f in enumerate(trace) if i < MAX_FRAMES]
    names: list[str | None] = [f.name or _sym(prog, f.pc) for f in frames]
    d["frames"] = names
    i = _context_index(names, cpu == panic_cpu)
    d["context"] = i
    if i is not None:
        f = frames[i]
        # The function that holds the pc: the first frame there that is not inlined (cpu_relax()
        # and rep_nop() are inlined into the spinner), named as its DWARF names it.
        j = next((k for k in range(i, len(frames)) if not frames[k].is_inline), None)
        d["pc"], d["symbol"], d["frame_function"] = f.pc, _sym(prog, f.pc), names[i]
        d["function"] = names[j] if j is not None and names[j] else d["symbol"]
        try:
            d["rflags"] = int(f.registers()["rflags"])
            d["irqs_off"] = not d["rflags"] & X86_EFLAGS_IF
        except (KeyError, LookupError, ValueError) as e:
            d["rflags_error"] = _err(e)
    return d, trace


def _queues(prog: Any, cpus: list[int]) -> tuple[dict[int, int], list[dict[str, Any]]]:
    """Every entry of the per-CPU call_single_queue lists: address -> the CPU it is queued for."""
    from drgn import cast  # noqa: PLC0415
    from drgn.helpers.linux.llist import llist_for_each  # noqa: PLC0415
    from drgn.helpers.linux.percpu import per_cpu  # noqa: PLC0415

    where: dict[int, int] = {}
    out: list[dict[str, Any]] = []
    for cpu in cpus:
        entries = []
        for n, node in enumerate(llist_for_each(per_cpu(prog["call_single_queue"], cpu).first)):
            if n >= MAX_QUEUE:
                break
            addr = node.value_()
            where.setdefault(addr, cpu)
            csd = cast("call_single_data_t *", node)
            e: dict[str, Any] = {"address": addr, "flags": csd.node.u_flags.value_()}
            with contextlib.suppress(Exception):
                e["func"] = _sym(prog, csd.func.value_())
            entries.append(e)
        if entries:
            out.append({"cpu": cpu, "entries": entries})
    return where, out


def _frame_obj(frame: Any, name: str) -> Any:
    """``frame[name]`` when drgn can read it (not optimized out), else None."""
    try:
        obj = frame[name]
    except (KeyError, LookupError, ValueError):
        return None
    return None if obj.absent_ else obj


def _stack_range(prog: Any, task: Any) -> tuple[int, int]:
    base = task.stack.value_()
    # drgn gives THREAD_SIZE as a constant; union thread_union is not in Debian's DWARF.
    return base, base + int(prog["THREAD_SIZE"].value_())


def _cfd_csds(prog: Any, waiter: int, cpus: list[int]) -> dict[int, int]:
    """The waiter's smp_call_function_many() csds, one per target CPU: address -> target."""
    from drgn.helpers.linux.percpu import per_cpu, per_cpu_ptr  # noqa: PLC0415

    cfd = per_cpu(prog["cfd_data"], waiter)
    # 6.1 keeps them in struct cfd_percpu (cfd->pcpu, with the CSD debug fields); 6.2 made it a
    # plain per-CPU call_single_data_t (cfd->csd).
    if cfd.type_.has_member("csd"):
        return {per_cpu_ptr(cfd.csd, c).value_(): c for c in cpus}
    return {per_cpu_ptr(cfd.pcpu, c).csd.address_of_().value_(): c for c in cpus}


def _csd_wait(prog: Any, cpu: int, trace: Any, cpus: list[int], queued: dict[int, int]
              ) -> dict[str, Any] | None:
    """What a CPU in csd_lock_wait waits on: the csd and the CPU whose queue holds it."""
    from drgn.helpers.linux.sched import cpu_curr  # noqa: PLC0415

    idx = next((i for i, f in enumerate(trace) if i < MAX_FRAMES and f.name in CSD_WAIT_FRAMES), None)
    if idx is None:
        return None
    d: dict[str, Any] = {"cpu": cpu, "frame": trace[idx].name,
                         "callers": [f.name for f in list(trace)[idx + 1:idx + 4]]}
    csd = None
    for f in list(trace)[idx:idx + 3]:
        obj = _frame_obj(f, "csd")
        if obj is not None:
            csd, d["csd_from"] = obj, f"frame {f.name}"
            break
    if csd is not None:
        addr = csd.value_()
        d.update(csd=addr, flags=csd.node.u_flags.value_(), func=_sym(prog, csd.func.value_()))
        d["locked"] = bool(d["flags"] & CSD_FLAG_LOCK)
        if addr in queued:
            d["target"], d["target_from"] = queued[addr], "call_single_queue"
        elif _csd_debug(prog):
            d["target"], d["target_from"] = csd.node.dst.value_(), "csd.node.dst"
        return d
    # The csd pointer is optimized out: find the waiter's own csd among the queued entries: one
    # on its stack (smp_call_function_single's csd_stack), one of its cfd_data csds, or (with the
    # CSD debug code) a function-call csd whose node.src is the waiter.
    lo, hi = _stack_range(prog, cpu_curr(prog, cpu))
    mine = {}
    with contextlib.suppress(Exception):
        mine = _cfd_csds(prog, cpu, cpus)
    debug = _csd_debug(prog)
    for addr, target in queued.items():
        if lo <= addr < hi or mine.get(addr) == target or (debug and _src_is(prog, addr, cpu)):
            d.update(csd=addr, csd_from="call_single_queue", target=target, target_from="call_single_queue")
            break
    return d


def _csd_debug(prog: Any) -> bool:
    """node.src/dst are filled in only with CONFIG_CSD_LOCK_WAIT_DEBUG (kernel/smp.c); without it
    they stay 0 whatever the CPUs, so they are read only when that code is built in."""
    return "csdlock_debug_enabled" in prog or "csd_lock_wait_toolong" in prog


def _src_is(prog: Any, addr: int, cpu: int) -> bool:
    from drgn import Object  # noqa: PLC0415

    node = Object(prog, "struct __call_single_node *", addr)
    # Function-call csds only (CSD_TYPE_ASYNC 0x00, CSD_TYPE_SYNC 0x10), not irq_work or ttwu entries.
    return node.u_flags.value_() & CSD_TYPE_MASK in (0x00, 0x10) and node.src.value_() == cpu


def _lock_value(prog: Any, addr: int) -> dict[str, Any]:
    """A qspinlock's word: locked byte, pending byte, tail (the last queued waiter's CPU)."""
    val = prog.read_u32(addr)
    tail = val >> 16
    return {"value": val, "locked": val & 0xFF, "pending": (val >> 8) & 0xFF,
            "tail_cpu": (tail >> 2) - 1 if tail else None}


def _spin_wait(prog: Any, cpu: int, trace: Any) -> dict[str, Any] | None:
    """A CPU in the qspinlock slow path (or a _raw_spin_lock* frame): the lock it wants."""
    from drgn.helpers.common.memory import identify_address  # noqa: PLC0415

    frames = [f for i, f in enumerate(trace) if i < MAX_FRAMES]
    first = next((i for i, f in enumerate(frames) if f.name in SPIN_SLOWPATHS), None)
    if first is None:
        return None
    # The run of lock frames around the slow path (cpu_relax() may sit above it); the frame after
    # the run is the code that wanted the lock.
    end = first
    while end < len(frames) and frames[end].name in SPIN_FRAMES:
        end += 1
    slow = next((f.name for f in frames[first:end] if f.name.endswith("spin_lock_slowpath")), None)
    d: dict[str, Any] = {"cpu": cpu, "frame": slow or frames[first].name}
    for f in frames[first:end]:
        obj = _frame_obj(f, "lock")
        if obj is not None:
            d["lock"], d["lock_from"] = obj.value_(), f"frame {f.name}"
            break
    d["caller"] = next((f.name or _sym(prog, f.pc) for f in frames[end:end + 1]), None)
    if "lock" in d:
        d["symbol"] = _sym(prog, d["lock"])
        with contextlib.suppress(Exception):
            d["identified"] = identify_address(prog, d["lock"])
        try:
            d.update(_lock_value(prog, d["lock"]))
        except Exception as e:  # the lock's page left out of the dump
            d["value_error"] = _err(e)
    return d


def _list_tasks(head: Any, limit: int) -> Iterator[Any]:
    from drgn.helpers.linux.list import list_for_each_entry  # noqa: PLC0415

    for n, t in enumerate(list_for_each_entry("struct task_struct", head.address_of_(), "rcu_node_entry")):
        if n >= limit:
            return
        yield t


def _blocked_task(prog: Any, t: Any) -> dict[str, Any]:
    from drgn.helpers.linux.sched import task_cpu, task_state_to_char  # noqa: PLC0415

    from crashhub.analyze._drgn_engine import waiting_on  # noqa: PLC0415

    d: dict[str, Any] = {"pid": t.pid.value_(), "comm": t.comm.string_().decode("utf-8", "replace"),
                         "state": task_state_to_char(t), "cpu": task_cpu(t)}
    with contextlib.suppress(Exception):
        d["rcu_read_lock_nesting"] = t.rcu_read_lock_nesting.value_()
    try:
        names = [f.name or _sym(prog, f.pc) for i, f in enumerate(prog.stack_trace(t)) if i < MAX_FRAMES]
        d["frames"] = names
        d["sleeps_in"] = waiting_on([{"function": n} for n in names])
    except Exception as e:
        d["stack_error"] = _err(e)
    return d


def _rcu_node(prog: Any, i: int, rnp: Any) -> dict[str, Any]:
    d: dict[str, Any] = {"index": i, "level": rnp.level.value_(), "grplo": rnp.grplo.value_(),
                         "grphi": rnp.grphi.value_(), "gp_seq": rnp.gp_seq.value_(),
                         "qsmask": rnp.qsmask.value_(), "qsmaskinit": rnp.qsmaskinit.value_(),
                         "expmask": rnp.expmask.value_(), "blocked": []}
    gp_tasks, exp_tasks = rnp.gp_tasks.value_(), rnp.exp_tasks.value_()
    # blkd_tasks runs newest to oldest; the tasks from gp_tasks (exp_tasks) to its end block the
    # current normal (expedited) grace period.
    in_gp = in_exp = False
    head = rnp.blkd_tasks.address_of_().value_()
    # An empty list is not walked: without CONFIG_PREEMPT_RCU task_struct has no rcu_node_entry.
    empty = rnp.blkd_tasks.next.value_() == head
    for t in () if empty else _list_tasks(rnp.blkd_tasks, MAX_BLOCKED):
        entry = t.rcu_node_entry.address_of_().value_()
        in_gp, in_exp = in_gp or entry == gp_tasks, in_exp or entry == exp_tasks
        b = _blocked_task(prog, t)
        b["blocks_gp"], b["blocks_exp"] = in_gp, in_exp
        d["blocked"].append(b)
    return d


def _rcu(prog: Any, cpus: list[int]) -> dict[str, Any]:
    from drgn.helpers.linux.percpu import per_cpu  # noqa: PLC0415

    rs = prog["rcu_state"]
    d: dict[str, Any] = {"flavour": rs.name.string_().decode(), "gp_seq": rs.gp_seq.value_(),
                         "gp_start": rs.gp_start.value_(), "jiffies_stall": rs.jiffies_stall.value_(),
                         "jiffies": prog["jiffies"].value_(), "nodes": [], "cpus": []}
    with contextlib.suppress(LookupError):
        d["stall_timeout_s"] = prog["rcu_cpu_stall_timeout"].value_()
    nodes = min(int(prog["rcu_num_nodes"].value_()), MAX_NODES) if "rcu_num_nodes" in prog else 1
    d["nodes"] = [_rcu_node(prog, i, rs.node[i]) for i in range(nodes)]
    for cpu in cpus:
        rdp = per_cpu(prog["rcu_data"], cpu)
        mask = rdp.grpmask.value_()
        d["cpus"].append({"cpu": cpu, "gp_seq": rdp.gp_seq.value_(),
                          "cpu_no_qs": rdp.cpu_no_qs.b.norm.value_(),
                          "core_needs_qs": rdp.core_needs_qs.value_(),
                          "qs_pending": bool(rdp.mynode.qsmask.value_() & mask),
                          "node": (rdp.mynode.value_() - rs.node.address_of_().value_())
                          // prog.type("struct rcu_node").size})
    return d


def _part(errors: list[str], name: str, fn: Callable[[], Any], default: Any) -> Any:
    try:
        return fn()
    except Exception as e:  # one part's failure (an excluded page, a missing type) spoils only it
        errors.append(f"{name}: {_err(e)}")
        return default


def probe(prog: Any) -> dict[str, Any]:
    """The ``cpu_waits`` section: every reading above, each part on its own."""
    errors: list[str] = []
    cpus = _part(errors, "cpus", lambda: _online_cpus(prog), [])
    panic_cpu = _part(errors, "panic_cpu", lambda: int(prog["panic_cpu"].counter.value_()), None)
    out: dict[str, Any] = {"panic_cpu": panic_cpu if panic_cpu is not None and panic_cpu >= 0 else None,
                           "cpus": [], "csd_waits": [], "spin_waits": [], "queues": [], "errors": errors}
    with contextlib.suppress(LookupError):
        out["watchdog_thresh"] = prog["watchdog_thresh"].value_()
    traces: dict[int, Any] = {}
    for cpu in cpus:
        rec = _part(errors, f"cpu {cpu}", partial(_cpu, prog, cpu, out["panic_cpu"]), None)
        if rec is not None:
            out["cpus"].append(rec[0])
            traces[cpu] = rec[1]
    # The "now" of the soft-lockup watchdog (running_clock() >> 30, ~seconds): the newest rq clock.
    now = _part(errors, "rq clock", partial(_now_s, prog, cpus), None)
    if now is not None:
        out["now_s"] = now
    queued, out["queues"] = _part(errors, "call_single_queue", partial(_queues, prog, cpus), ({}, []))
    for cpu, trace in traces.items():
        w = _part(errors, f"csd wait {cpu}", partial(_csd_wait, prog, cpu, trace, cpus, queued), None)
        if w is not None:
            out["csd_waits"].append(w)
        s = _part(errors, f"spin wait {cpu}", partial(_spin_wait, prog, cpu, trace), None)
        if s is not None:
            out["spin_waits"].append(s)
    out["rcu"] = _part(errors, "rcu", lambda: _rcu(prog, cpus), None)
    return out


def _now_s(prog: Any, cpus: list[int]) -> int:
    from drgn.helpers.linux.sched import cpu_rq  # noqa: PLC0415

    return max(int(cpu_rq(prog, c).clock.value_()) >> 30 for c in cpus)
