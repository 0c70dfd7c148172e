"""Wait chains read from a vmcore with drgn (runs in the drgn engine's child process).

For every task in uninterruptible sleep (D state): what it waits on (a mutex, an rw_semaphore, a
semaphore, a completion, a locked folio/page, a bit wait), found from its stack frames' variables
(``lock`` in ``__mutex_lock``, ``sem`` in ``rwsem_down_*_slowpath``, ``x`` in
``wait_for_completion*``...), and the lock's owner where the kernel keeps one (``mutex.owner``,
``rw_semaphore.owner``).  Owners are followed (whatever their state) so the pure side
(:mod:`._diag_waits`) can walk each chain to its end or to a cycle.  Out: plain JSON, one record
per task; a value the dump or the compiler left out is said so, never guessed.

Bounded: tasks scanned, D-state tasks examined, owners followed, frames kept.
"""

from __future__ import annotations

import contextlib
from typing import Any

MAX_SCAN = 32768  # tasks looked at
MAX_BLOCKED = 64  # D-state tasks whose waits are read
MAX_CHAIN = 16  # owners followed from one blocked task
MAX_RECORDS = 160
MAX_FRAMES = 24

# Scheduler internals: never "what a task runs in".  __schedule_loop is 6.9+ (seen on 6.12).
SCHED = frozenset((
    "__schedule", "__schedule_loop", "schedule", "schedule_preempt_disabled", "schedule_timeout",
    "io_schedule", "io_schedule_timeout", "schedule_hrtimeout_range_clock", "schedule_hrtimeout_range",
    "__switch_to", "__switch_to_asm", "context_switch", "preempt_schedule_common",
    "schedule_timeout_uninterruptible", "schedule_timeout_killable", "schedule_timeout_interruptible",
))
# Wait primitives: the frame's function -> (what it waits on, the variables that point at it).
# The outer entry points (mutex_lock, down_write, ...) come last so the inner frame's variable is
# tried first; any frame of the run may hold it when the others are optimized out.
_MUTEX = ("mutex", ("lock",))
_RWSEM = ("rwsem", ("sem",))
_SEM = ("semaphore", ("sem",))
_COMPLETION = ("completion", ("x",))
_FOLIO = ("folio", ("folio", "page"))
_BIT = ("bit", ("word", "wq_head"))
PRIMITIVES: dict[str, tuple[str, tuple[str, ...]]] = {
    **dict.fromkeys(("__mutex_lock", "__mutex_lock_common", "__mutex_lock_slowpath",
                     "__mutex_lock_killable_slowpath", "__mutex_lock_interruptible_slowpath",
                     "__ww_mutex_lock", "mutex_lock", "mutex_lock_nested", "mutex_lock_io",
                     "mutex_lock_killable", "mutex_lock_interruptible"), _MUTEX),
    **dict.fromkeys(("rwsem_down_write_slowpath", "rwsem_down_read_slowpath", "__down_write_common",
                     "__down_read_common", "__down_write", "__down_read", "down_write", "down_read",
                     "down_write_killable", "down_read_killable", "down_read_interruptible"), _RWSEM),
    **dict.fromkeys(("__down_common", "__down", "__down_killable", "__down_interruptible",
                     "__down_timeout", "down", "down_killable", "down_interruptible",
                     "down_timeout"), _SEM),
    **dict.fromkeys(("do_wait_for_common", "__wait_for_common", "wait_for_common", "wait_for_common_io",
                     "wait_for_completion", "wait_for_completion_io", "wait_for_completion_timeout",
                     "wait_for_completion_killable", "wait_for_completion_interruptible",
                     "wait_for_completion_io_timeout", "wait_for_completion_state"), _COMPLETION),
    **dict.fromkeys(("folio_wait_bit_common", "folio_wait_bit", "folio_wait_bit_killable", "__folio_lock",
                     "__folio_lock_killable", "folio_wait_writeback", "folio_put_wait_locked",
                     "wait_on_page_bit_common", "__lock_page", "__lock_page_killable",
                     "wait_on_page_writeback", "folio_lock", "lock_page"), _FOLIO),
    **dict.fromkeys(("bit_wait", "bit_wait_io", "__wait_on_bit", "__wait_on_bit_lock",
                     "out_of_line_wait_on_bit", "out_of_line_wait_on_bit_lock"), _BIT),
}
# Sleeps that wait on nothing: the caller chose to sleep.
SLEEPS = frozenset(("msleep", "msleep_interruptible", "usleep_range_state", "ssleep", "do_nanosleep",
                    "hrtimer_nanosleep"))


def _s(b: bytes | str) -> str:
    return b.decode("utf-8", "replace") if isinstance(b, bytes) else b


def _err(e: Exception) -> str:
    return f"{type(e).__name__}: {e}"[:200]


def _symbol(prog: Any, addr: int) -> Any:
    """``prog.symbol(addr)``; when that fails, once, the loaded modules' own kallsyms are added
    (read from the dump; 1 ms): a module whose section table sits in a page the dump left out
    (6.12 at -d 31) gets no debug info from drgn, but its symbol table is still in its memory."""
    try:
        return prog.symbol(addr)
    except LookupError:
        if "crashhub_module_kallsyms" in prog.cache:
            raise
    prog.cache["crashhub_module_kallsyms"] = True
    from drgn.helpers.linux.kallsyms import load_module_kallsyms  # noqa: PLC0415

    try:
        finder = load_module_kallsyms(prog)
    except Exception as e:  # no kallsyms in the modules (CONFIG_KALLSYMS=n) or unreadable
        raise LookupError(f"no module kallsyms: {e}") from e
    prog.register_symbol_finder("crashhub_module_kallsyms", finder, enable_index=-1)
    return prog.symbol(addr)


def _frames(prog: Any, task: Any) -> tuple[list[Any], list[dict[str, Any]]]:
    """The task's drgn frames (kept for their variables) and their JSON (function, file:line)."""
    trace = prog.stack_trace(task)
    raw, out = [], []
    for i, f in enumerate(trace):
        if i >= MAX_FRAMES:
            break
        name = f.name
        if name is None or name.startswith("0x"):  # drgn names a frame without DWARF by its pc
            with contextlib.suppress(LookupError, ValueError):
                name = _symbol(prog, f.pc).name
        d: dict[str, Any] = {"function": name, "file": None, "line": None}
        with contextlib.suppress(LookupError):
            d["file"], d["line"], _col = f.source()
        raw.append(f)
        out.append(d)
    return raw, out


def _name(prog: Any, addr: int) -> str | None:
    """A global's name (``crashmod_lock``, ``crashmod_lock+0x8``) or what drgn makes of the address."""
    with contextlib.suppress(LookupError):
        sym = _symbol(prog, addr)
        return sym.name if addr == sym.address else f"{sym.name}+{addr - sym.address:#x}"
    from drgn.helpers.common.memory import identify_address  # noqa: PLC0415

    try:
        return identify_address(prog, addr)
    except Exception:  # a slab page the dump left out: the address alone stays
        return None


def _variable(frames: list[Any], names: list[str | None], at: int, kind: str,
              variables: tuple[str, ...]) -> tuple[Any, dict[str, Any]]:
    """The wait object from the first frame of this wait (from ``at`` on) that still holds it."""
    tried: list[str] = []
    for fr, fn in zip(frames[at:], names[at:], strict=False):
        if fn is None or PRIMITIVES.get(fn, ("",))[0] != kind:
            break  # past this wait's run of frames
        has = False
        for var in variables:
            try:
                obj = fr[var]
            except (KeyError, LookupError):
                continue
            has = True
            if obj.absent_:
                tried.append(f"{fn}:{var} optimized out")
                continue
            try:
                return obj.read_(), {"frame": fn, "variable": var, "found": "local"}
            except Exception as e:  # the frame's registers or stack page are not in the dump
                tried.append(f"{fn}:{var} {_err(e)}")
        if not has:
            tried.append(f"{fn}: no {'/'.join(variables)} in its debug info")
    found = "absent from the dump" if any("ault" in t or "xcluded" in t for t in tried) else "optimized out"
    return None, {"frame": names[at], "variable": variables[0], "found": found, "tried": tried[:6]}


def _owner(prog: Any, kind: str, obj: Any) -> dict[str, Any]:
    """Owner of a mutex / rw_semaphore; what a completion, semaphore or folio holds instead."""
    from drgn.helpers.linux import locking  # noqa: PLC0415

    d: dict[str, Any] = {}
    if kind == "mutex":
        owner = locking.mutex_owner(obj)
        d["owner_task"] = owner.value_() or None
        d["flags"] = obj.owner.counter.value_() & 0x7
        if not owner:
            d["owner_note"] = "no owner: unlocked, or being handed off"
    elif kind == "rwsem":
        state = locking.rwsem_locked(obj)
        owner = locking.rwsem_owner(obj)
        d["rwsem"] = state.name.lower()
        d["count"] = obj.count.counter.value_()
        d["owner_task"] = owner.value_() or None
        if state is locking.RwsemLocked.READ_LOCKED:
            d["owner_note"] = "read-locked: the owner field names the last reader, which may have left"
    elif kind == "completion":
        d["done"] = obj.done.value_()
        d["owner_note"] = "a completion has no owner: whoever should call complete() is not recorded"
    elif kind == "semaphore":
        d["count"] = obj.count.value_()
        d["owner_note"] = "a semaphore has no owner"
    elif kind == "folio":
        d["flags"] = obj.flags.value_()
        d["owner_note"] = "a folio/page lock has no owner: the task that locked it is not recorded"
    return d


def _wait(prog: Any, frames: list[Any], stack: list[dict[str, Any]]) -> dict[str, Any] | None:
    """What a sleeping task waits on, from its frames."""
    names = [f["function"] for f in stack]
    for i, fn in enumerate(names):
        if fn is None or fn in SCHED:
            continue
        if fn in SLEEPS:
            return {"kind": "sleep", "frame": fn, "found": "none"}
        if fn not in PRIMITIVES:
            return None
        kind, variables = PRIMITIVES[fn]
        obj, d = _variable(frames, names, i, kind, variables)
        d["kind"] = kind
        if obj is None:
            return d
        d["address"] = obj.value_()
        d["symbol"] = _name(prog, d["address"])
        try:
            d.update(_owner(prog, kind, obj))
        except Exception as e:
            d["owner_error"] = _err(e)
        return d
    return None


def _where(stack: list[dict[str, Any]]) -> tuple[str | None, dict[str, Any] | None]:
    """The first frame above the scheduler's (``msleep``, ``__mutex_lock``, or the task's own
    function), and the first above the wait primitives too: the code that chose to wait."""
    names = [f["function"] for f in stack]
    sits = next((n for n in names if n and n not in SCHED), None)
    caller = next((f for f in stack if f["function"] and f["function"] not in SCHED
                   and f["function"] not in PRIMITIVES and f["function"] not in SLEEPS), None)
    return sits, caller


def _record(prog: Any, task: Any) -> dict[str, Any]:
    from drgn.helpers.linux.sched import task_cpu, task_on_cpu, task_state_to_char  # noqa: PLC0415

    d: dict[str, Any] = {"pid": task.pid.value_(), "comm": _s(task.comm.string_()), "task": task.value_()}
    for key, fn in (("state", task_state_to_char), ("cpu", task_cpu), ("on_cpu", task_on_cpu)):
        try:
            d[key] = fn(task)
        except Exception:
            d[key] = None
    try:
        frames, d["stack"] = _frames(prog, task)
        d["wait"] = _wait(prog, frames, d["stack"])
        d["sits_in"], d["caller"] = _where(d["stack"])
    except Exception as e:  # task stack or registers not in the dump
        d["error"] = _err(e)
    return d


def _by_pid(prog: Any, seen: set[int]) -> tuple[list[Any], int]:
    """D-state tasks found by looking each pid up, when the pid idr walk broke on a page the dump
    left out (6.12 at -d 31): ``find_task`` takes another path down the idr and often gets through.
    Pids from 1 to the namespace's next pid (``idr_next``), at most MAX_SCAN; the tasks and the count."""
    from drgn.helpers.linux.pid import find_task  # noqa: PLC0415
    from drgn.helpers.linux.sched import task_state_to_char  # noqa: PLC0415

    try:
        last = min(int(prog["init_pid_ns"].idr.idr_next), MAX_SCAN)
    except Exception:
        return [], 0
    out = []
    for pid in range(1, last + 1):
        with contextlib.suppress(Exception):
            task = find_task(prog, pid)
            if task and task.value_() not in seen and task_state_to_char(task) == "D":
                out.append(task)
    return out, last


def wait_chains(prog: Any) -> dict[str, Any]:
    """Every D-state task's wait and, followed from it, each lock owner's (see the module doc)."""
    from drgn import Object  # noqa: PLC0415
    from drgn.helpers.linux.pid import for_each_task  # noqa: PLC0415
    from drgn.helpers.linux.sched import task_state_to_char  # noqa: PLC0415

    records: dict[int, dict[str, Any]] = {}
    scanned, blocked, unreadable, walk_error = 0, [], 0, None
    try:
        for task in for_each_task(prog):
            scanned += 1
            if scanned > MAX_SCAN:
                break
            try:
                if task_state_to_char(task) == "D":
                    blocked.append(task)
            except Exception:
                unreadable += 1
    except Exception as e:  # the task list runs through a page the dump left out: keep what was read
        walk_error = _err(e)
    looked_up = 0
    if walk_error is not None:
        extra, looked_up = _by_pid(prog, {t.value_() for t in blocked})
        blocked += extra
    for task in blocked[:MAX_BLOCKED]:
        rec = records.get(task.value_()) or _record(prog, task)
        records[task.value_()] = rec
        for _ in range(MAX_CHAIN):  # follow owners: each owner's own wait is read in turn
            nxt = (rec.get("wait") or {}).get("owner_task")
            if not nxt or nxt in records or len(records) >= MAX_RECORDS:
                break
            try:
                rec = _record(prog, Object(prog, "struct task_struct *", nxt))
            except Exception as e:  # the owner's task_struct is not in the dump
                rec = {"task": nxt, "error": _err(e)}
            records[nxt] = rec
    return {"tasks": list(records.values()), "scanned": min(scanned, MAX_SCAN), "blocked": len(blocked),
            "unreadable": unreadable, "walk_error": walk_error, "pids_looked_up": looked_up,
            "truncated": scanned > MAX_SCAN or len(blocked) > MAX_BLOCKED,
            "limits": {"scan": MAX_SCAN, "blocked": MAX_BLOCKED, "chain": MAX_CHAIN, "records": MAX_RECORDS}}
