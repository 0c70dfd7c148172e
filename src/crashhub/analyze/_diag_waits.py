"""Hung-task wait chains: who waits for whom, to the task at fault or to a deadlock cycle.

Pure.  The drgn engine's ``wait_chains`` section (:mod:`._probe_waits`: one record per D-state task
and per lock owner reached from one) is parsed into frozen dataclasses; each hung task the log
reports (or, without such a report, each task blocked on a lock) is followed owner by owner: a
chain ends at a task that is not waiting on an owned lock (running, sleeping, waiting on a
completion), at an owner the dump does not hold, or at a task already on the chain: a deadlock.
:func:`check_waits` replaces the log-only ``check_hung`` finding of every hung task it explains
and leaves it in place for the others, so a dump without the data is never worse than the log.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal, cast, get_args

from crashhub.analyze._model import Analysis, Culprit, Finding, Json
from crashhub.triage import WatchdogEvents

WaitKind = Literal["mutex", "rwsem", "semaphore", "completion", "folio", "bit", "sleep"]
# How the wait object was got: a frame's variable, or why not.
Found = Literal["local", "optimized out", "absent from the dump", "none"]
ChainEnd = Literal["cycle", "runs", "sleeps", "waits", "no owner", "unreadable", "not found", "too long"]
MAX_CHAIN = 16
OWNED: tuple[WaitKind, ...] = ("mutex", "rwsem")  # the kinds whose owner the kernel records
_NAMES = {"mutex": "mutex", "rwsem": "rw_semaphore", "semaphore": "semaphore", "completion": "completion",
          "folio": "folio lock", "bit": "bit wait", "sleep": "sleep"}
# What drgn's identify_address() calls an address that is not a named global ("slab object: ...").
_ANON = ("slab object:", "free slab object:", "unknown slab object", "task:", "task stack:", "vmap:", "page:",
         "object symbol:", "function symbol:", "symbol:")
# struct mutex's owner word keeps flags in its low bits (kernel/locking/mutex.c, since 4.10).
_MUTEX_FLAGS = ((1, "WAITERS"), (2, "HANDOFF"), (4, "PICKUP"))
_STRUCT = {"mutex": "struct mutex", "rwsem": "struct rw_semaphore", "semaphore": "struct semaphore",
           "completion": "struct completion", "folio": "struct folio"}


def _int(v: Json) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def _str(v: Json) -> str | None:
    return None if v is None else str(v)


@dataclass(frozen=True, slots=True)
class Where:
    """A frame: function and file:line where the debug info gives them."""

    function: str
    file: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        return f"{self.function} ({self.file}:{self.line})" if self.file and self.line else self.function

    @classmethod
    def parse(cls, d: Json) -> Where | None:
        if not isinstance(d, dict) or not d.get("function"):
            return None
        return cls(str(d["function"]), _str(d.get("file")), _int(d.get("line")))


@dataclass(frozen=True, slots=True)
class Wait:
    """What a task waits on, as its frames gave it."""

    kind: WaitKind
    frame: str | None  # the primitive's frame (``__mutex_lock_common``, ``msleep``)
    found: Found
    address: int | None = None
    symbol: str | None = None  # ``crashmod_lock``, ``slab object: kmalloc-64+0x10``
    owner_task: int | None = None  # task_struct address read from the lock
    owner_note: str | None = None  # why there is no owner, or why it may be stale
    owner_word: str | None = None  # the lock's own fields, as read (flags, count, done)
    tried: tuple[str, ...] = ()

    @property
    def what(self) -> str:
        name = _NAMES[self.kind]
        if self.address is None:
            return f"a {name} (its address is {self.found})"
        named = self.symbol and not self.symbol.startswith(_ANON)
        sym = f" {self.symbol}" if named else ""
        other = f", {self.symbol}" if self.symbol and not sym else ""
        return f"{name}{sym} at {self.address:#x}{other}"

    @property
    def short(self) -> str:
        """``mutex crashmod_lock`` when it has a name, else :attr:`what`."""
        named = self.symbol and self.address is not None and not self.symbol.startswith(_ANON)
        return f"{_NAMES[self.kind]} {self.symbol}" if named else self.what

    @classmethod
    def parse(cls, d: Json) -> Wait | None:
        if not isinstance(d, dict) or d.get("kind") not in get_args(WaitKind):
            return None
        found = d.get("found") if d.get("found") in get_args(Found) else "none"
        words = [f"{k}={d[k]}" for k in ("rwsem", "count", "done") if d.get(k) is not None]
        if (flags := _int(d.get("flags"))) is not None:
            names = [n for bit, n in _MUTEX_FLAGS if flags & bit] if d["kind"] == "mutex" else []
            words.append(f"flags={flags:#x}" + (f" ({'|'.join(names)})" if names else ""))
        return cls(cast(WaitKind, d["kind"]), _str(d.get("frame")), cast(Found, found),
                   _int(d.get("address")), _str(d.get("symbol")), _int(d.get("owner_task")),
                   _str(d.get("owner_note")), ", ".join(words) or None,
                   tuple(str(t) for t in d.get("tried") or ()))


@dataclass(frozen=True, slots=True)
class WaitTask:
    """One task of the graph: a D-state task or a lock owner reached from one."""

    task: int  # task_struct address
    pid: int | None = None
    comm: str | None = None
    state: str | None = None
    cpu: int | None = None
    on_cpu: bool | None = None
    sits_in: str | None = None  # first frame above the scheduler
    caller: Where | None = None  # first frame above the wait primitives: the code that waits
    wait: Wait | None = None
    stack: tuple[str, ...] = ()
    error: str | None = None

    @property
    def name(self) -> str:
        return f"{self.comm} ({self.pid})" if self.pid is not None else f"task {self.task:#x}"

    @property
    def function(self) -> str | None:
        return self.caller.function if self.caller else self.sits_in

    @classmethod
    def parse(cls, d: Json) -> WaitTask | None:
        if not isinstance(d, dict) or _int(d.get("task")) is None:
            return None
        oc = d.get("on_cpu")
        return cls(int(d["task"]), _int(d.get("pid")), _str(d.get("comm")), _str(d.get("state")),
                   _int(d.get("cpu")), oc if isinstance(oc, bool) else None, _str(d.get("sits_in")),
                   Where.parse(d.get("caller")), Wait.parse(d.get("wait")),
                   tuple(str(f.get("function")) for f in d.get("stack") or () if isinstance(f, dict)),
                   _str(d.get("error")))


@dataclass(frozen=True, slots=True)
class WaitGraph:
    tasks: tuple[WaitTask, ...]
    scanned: int = 0
    blocked: int = 0
    truncated: bool = False

    def by_task(self) -> dict[int, WaitTask]:
        return {t.task: t for t in self.tasks}


def parse(section: Json) -> WaitGraph | None:
    """The engine's ``wait_chains`` section; None when the engine did not give it."""
    if not isinstance(section, dict) or not isinstance(section.get("tasks"), list):
        return None
    tasks = tuple(t for t in (WaitTask.parse(d) for d in section["tasks"]) if t is not None)
    return WaitGraph(tasks, _int(section.get("scanned")) or 0, _int(section.get("blocked")) or 0,
                     bool(section.get("truncated")))


@dataclass(frozen=True, slots=True)
class Chain:
    """``tasks[i]`` waits on ``tasks[i].wait``, owned by ``tasks[i + 1]``; for a cycle the last
    task's lock is owned by ``tasks[cycle_at]``.  ``end`` says how the chain stops."""

    tasks: tuple[WaitTask, ...]
    end: ChainEnd
    cycle_at: int | None = None

    @property
    def last(self) -> WaitTask:
        return self.tasks[-1]

    @property
    def cycle(self) -> tuple[WaitTask, ...]:
        return self.tasks[self.cycle_at:] if self.cycle_at is not None else ()


def walk(graph: WaitGraph, head: WaitTask) -> Chain:
    """Follow ``head``'s lock owners (at most MAX_CHAIN) to the end of the chain or a cycle."""
    tasks = graph.by_task()
    chain = [head]
    while len(chain) <= MAX_CHAIN:
        t = chain[-1]
        w = t.wait
        if t.error is not None:
            return Chain(tuple(chain), "unreadable")
        if w is None:
            return Chain(tuple(chain), "runs" if t.on_cpu or t.state == "R" else "waits")
        if w.kind == "sleep":
            return Chain(tuple(chain), "sleeps")
        if w.address is None:
            return Chain(tuple(chain), "not found")
        if w.owner_task is None:
            return Chain(tuple(chain), "no owner")
        at = next((i for i, c in enumerate(chain) if c.task == w.owner_task), None)
        if at is not None:
            return Chain(tuple(chain), "cycle", at)
        # An owner the engine did not record (past its bounds) ends the chain like an unreadable one.
        chain.append(tasks.get(w.owner_task) or WaitTask(w.owner_task, error="not read by the engine"))
    return Chain(tuple(chain), "too long")


def _waits(t: WaitTask) -> str:
    """``waits for mutex crashmod_lock_b in crashmod_take_ab``."""
    w = t.wait
    return f"waits for {w.short if w else 'something'} in {t.function}"


def _end(last: WaitTask, rel: str = "") -> str:
    """How the last task of a chain that is not a cycle stands: a verb phrase after ``rel``
    ("which"), or a clause of its own when the task could not be read."""
    w = last.wait
    if last.error is not None:
        return f"whose task or stack is absent from the dump ({last.error})"
    return f"{rel} {_state(last, w)}".lstrip()


def _state(last: WaitTask, w: Wait | None) -> str:
    if w is None:
        if last.on_cpu:
            return f"runs{f' on CPU {last.cpu}' if last.cpu is not None else ''} in {last.function}"
        if last.state == "R":
            return f"is runnable (state R, waiting for a CPU) in {last.function}"
        inner = f" ({last.sits_in})" if last.sits_in and last.sits_in != last.function else ""
        return f"is in state {last.state} in {last.function}{inner}"
    if w.kind == "sleep":
        return f"sleeps in {w.frame}() in {last.function} (state {last.state})"
    note = f" ({w.owner_note})" if w.owner_note and w.address is not None else ""
    return _waits(last) + note


def _held(w: Wait | None) -> str:
    return (w.symbol or f"{w.address:#x}") if w is not None and w.address is not None else "its lock"


def _describe(chain: Chain, hung: bool) -> str:
    """One line: the chain from its head to its end."""
    head, tag = chain.tasks[0], "hung task " if hung else ""
    if chain.end == "cycle" and chain.cycle_at == 0:
        cyc = chain.tasks
        if len(cyc) == 1:
            return f"self-deadlock: {tag}{head.name} {_waits(head)}, which it already holds"
        lead = "ABBA deadlock" if len(cyc) == 2 else f"deadlock cycle of {len(cyc)} tasks"
        text = f"{lead}: {head.name} holds {_held(cyc[-1].wait)} and {_waits(head)}"
        return text + "".join(f", held by {t.name}, which {_waits(t)}" for t in cyc[1:])
    text = f"{tag}{head.name} " + (_waits(head) if len(chain.tasks) > 1 else _end(head))
    for t in chain.tasks[1:-1]:
        text += f", held by {t.name}, which {_waits(t)}"
    if chain.end == "cycle":
        owner, n = chain.tasks[chain.cycle_at or 0], len(chain.cycle)
        what = ("self-deadlocked" if n == 1 else "one of an ABBA deadlock" if n == 2
                else f"one of a deadlock cycle of {n} tasks")
        return text + f", held by {owner.name}, which is {what}"
    if len(chain.tasks) > 1:
        text += f", held by {chain.last.name}, {_end(chain.last, 'which')}"
        if chain.end in ("sleeps", "runs"):
            text += f" holding {_held(chain.tasks[-2].wait)}"
    return text


def _evidence(chain: Chain) -> list[str]:
    out = []
    names = {t.task: t.name for t in chain.tasks}
    for t in chain.tasks:
        line = f"{t.name} task {t.task:#x} state {t.state}"
        if t.cpu is not None:
            line += f" CPU {t.cpu}{' (on CPU)' if t.on_cpu else ''}"
        if t.error:
            line += f": {t.error}"
        elif t.wait is not None and t.wait.kind == "sleep":
            line += f": sleeps in {t.wait.frame}"
        elif t.wait is not None:
            w = t.wait
            line += f": waits in {w.frame} for {w.what}"
            if w.found == "local":
                line += " (read from the frame's variable)"
            if w.owner_word:
                line += f"; {w.owner_word}"
            if w.owner_task is not None:
                line += f"; owner task {w.owner_task:#x}"
                line += f" = {names[w.owner_task]}" if w.owner_task in names else " (not read)"
            elif w.owner_note:
                line += f"; {w.owner_note}"
            if w.tried:
                line += "; tried " + ", ".join(w.tried)
        if t.caller is not None:
            line += f"; called from {t.caller}"
        line += "; stack: " + " <- ".join(t.stack[:8])
        out.append(line[:600])
    return out


def _command(chain: Chain) -> str:
    pids = [str(t.pid) for t in chain.tasks if t.pid is not None]
    lines = []
    for t in chain.cycle or chain.tasks:
        w = t.wait
        if w is None or w.address is None or w.kind not in _STRUCT:
            continue
        helper = {"mutex": "mutex_owner", "rwsem": "rwsem_owner"}.get(w.kind)
        obj = f'Object(prog, "{_STRUCT[w.kind]} *", {w.address:#x})'
        lines.append(f"o = {helper}({obj}); print(o.pid, o.comm)" if helper else f"print({obj}[0])")
        lines.append(f"crash> struct {_STRUCT[w.kind].split()[1]} {w.address:#x}")
    drgn = [ln for ln in lines if not ln.startswith("crash>")][:4]
    drgn += [f"print(prog.stack_trace({p}))" for p in pids[:4]]
    crash = [f"crash> bt {' '.join(pids)}"] if pids else []
    crash += [ln for ln in lines if ln.startswith("crash>")][:4]
    head = "from drgn import Object; from drgn.helpers.linux.locking import mutex_owner, rwsem_owner; "
    return " | ".join([head + "; ".join(drgn), *crash])


def _culprit(chain: Chain) -> Culprit:
    t = chain.cycle[0] if chain.end == "cycle" else chain.last
    return Culprit(function=t.function, cpu=t.cpu if t.on_cpu else None, pid=t.pid, comm=t.comm)


_SELF = "The task waits for a lock it holds itself (taken twice on one path): it can never go on."
_DETAIL: dict[ChainEnd, str] = {
    "cycle": "Each task holds the lock the one before it waits for: none can go on.",
    "sleeps": "The chain ends at a task that sleeps holding the lock the others wait for.",
    "runs": "The chain ends at a running task that holds the lock while it runs.",
    "waits": "The chain ends at a task waiting in a way the dump does not tie to an owner.",
    "no owner": "The chain ends at a wait with no owner to follow: the waiter is named.",
    "unreadable": "The owner's task or stack is absent from the dump: the chain stops there.",
    "not found": "The wait's object could not be read from the frames: the chain stops there.",
    "too long": f"The chain is longer than {MAX_CHAIN} tasks: followed that far.",
}


def _finding(chain: Chain, hung_lines: list[str]) -> Finding:
    cyc = chain.end == "cycle" and chain.cycle_at == 0
    claim = _describe(chain, bool(hung_lines))
    ev = hung_lines + _evidence(chain)
    detail = _SELF if cyc and len(chain.tasks) == 1 else _DETAIL[chain.end]
    return Finding("deadlock" if cyc else "hung-task", "error", claim[:500], detail, tuple(ev),
                   _command(chain), _culprit(chain))


def wait_findings(graph: WaitGraph, events: WatchdogEvents) -> tuple[list[Finding], set[int]]:
    """One finding per hung task's chain, one per deadlock cycle (whichever of its tasks the log
    reported), and the pids they explain."""
    by_pid = {t.pid: t for t in graph.tasks if t.pid is not None}
    lines = {h.pid: h.line for h in events.hung}
    if lines:
        heads = [by_pid[p] for p in lines if p in by_pid]
    else:  # no watchdog report: chains of tasks blocked on owned locks only
        heads = [t for t in graph.tasks
                 if t.state == "D" and t.wait and t.wait.kind in OWNED and t.wait.owner_task]
    out: list[Finding] = []
    covered: set[int] = set()
    cycles: set[frozenset[int]] = set()
    for head in heads:
        chain = walk(graph, head)
        if head.error is not None:
            continue  # nothing the log does not say: check_hung keeps it
        if head.pid is not None:
            covered.add(head.pid)
        if chain.end != "cycle" or chain.cycle_at:
            out.append(_finding(chain, [lines[head.pid]] if head.pid in lines else []))
        if chain.end == "cycle" and (key := frozenset(t.task for t in chain.cycle)) not in cycles:
            cycles.add(key)
            cyc = Chain(chain.cycle, "cycle", 0)
            out.append(_finding(cyc, [lines[t.pid] for t in cyc.tasks if t.pid in lines]))
            covered.update(t.pid for t in cyc.tasks if t.pid in lines)
    return out, covered


def check_waits(a: Analysis, events: WatchdogEvents,
                fallback: Callable[[Analysis, WatchdogEvents], list[Finding]]) -> list[Finding]:
    """The wait-chain findings, then ``fallback`` (``check_hung``) for the hung tasks they leave."""
    drgn = a.engines.get("drgn")
    graph = parse(drgn.section("wait_chains")) if drgn is not None else None
    if graph is None:
        return fallback(a, events)
    mine, covered = wait_findings(graph, events)
    rest = fallback(a, replace(events, hung=tuple(h for h in events.hung if h.pid not in covered)))
    if events.hung:
        # check_hung sums up D-state tasks only when the log reports no hung task.
        rest = [f for f in rest if f.id != "d-state"]
    return mine + rest
