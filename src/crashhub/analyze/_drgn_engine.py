"""The drgn engine: a vmcore read with drgn 0.3.0 in a child process, one JSON line per section.

Run as ``python -m crashhub.analyze._drgn_engine REQUEST_JSON``; the parent
(:func:`run`) applies the time and memory limits and keeps every section that was
finished before a timeout or a crash.  Each section is computed on its own: a page
the dump left out (makedumpfile ``-d``; drgn says "Excluded page") spoils only the
section that needed it, and is counted, so the checks can tell a dump too partial
to trust.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from crashhub import config
from crashhub.analyze import _stackmerge as stackmerge
from crashhub.analyze._limits import memory_exhausted, run_limited
from crashhub.model import Frame

MAX_LOG = 4 << 20
MAX_FRAMES = 64
MAX_TASK_STACKS = 64  # D-state tasks whose stacks are walked
LOCALS_FRAMES = 6  # frames of the panic stack whose locals are printed
MAX_LOCALS = 24
MAX_VALUE = 160
# Frames that only say "this task sleeps"; what it waits on is the first frame after them.
SCHED_FRAMES = frozenset((
    "__schedule", "schedule", "schedule_timeout", "io_schedule", "io_schedule_timeout",
    "schedule_preempt_disabled", "schedule_hrtimeout_range_clock", "schedule_hrtimeout_range",
    "__switch_to", "__switch_to_asm", "context_switch", "do_nanosleep", "hrtimer_nanosleep",
    "schedule_timeout_uninterruptible", "schedule_timeout_killable", "schedule_timeout_interruptible",
    "io_schedule_prepare", "__wait_for_common", "wait_for_common", "do_wait_for_common",
    "wait_for_completion", "wait_for_completion_io", "bit_wait", "bit_wait_io", "__wait_on_bit",
    "out_of_line_wait_on_bit", "rwsem_down_write_slowpath", "rwsem_down_read_slowpath",
    "__mutex_lock", "__mutex_lock_slowpath", "mutex_lock", "msleep", "usleep_range_state",
))


def _s(b: bytes | str | None) -> str | None:
    if b is None:
        return None
    return b.decode("utf-8", "replace") if isinstance(b, bytes) else b


def _frame(prog: Any, frame: Any, with_locals: bool) -> dict[str, Any]:
    # function_name is the DWARF's only: frame.name would give a symbol's name as if from DWARF.
    d: dict[str, Any] = {"function": frame.function_name, "module": None, "file": None, "line": None,
                         "address": None, "inline": bool(frame.is_inline), "name_from": "dwarf"}
    with_debug = False
    try:
        d["address"] = frame.pc
        mod = prog.module(frame.pc)
        d["module"], with_debug = mod.name, mod.debug_file_path is not None
    except (LookupError, ValueError):
        pass
    try:
        fname, line, _col = frame.source()
        d["file"], d["line"] = fname, line
    except LookupError:
        pass
    # Without the module's DWARF the frame has no function; the symbol tables still name it: the
    # vmlinux's ELF symbols, or for a module without debug info its kallsyms read from the dump.
    if d["function"] is None and d["address"] is not None:
        with contextlib.suppress(LookupError):
            via = "symbol" if d["module"] in (None, "kernel") or with_debug else "kallsyms"
            d["function"], d["name_from"] = prog.symbol(d["address"]).name, via
    if d["function"] is None and d["address"] is not None:
        d["function"] = hex(d["address"])
    if _unnamed(d):
        d["name_from"] = None
    if with_locals:
        d["locals"] = _locals(frame)
    return d


def _locals(frame: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    try:
        names = frame.locals()
    except Exception:
        return out
    for name in names[:MAX_LOCALS]:
        try:
            obj = frame[name]
            if obj.absent_:
                out[name] = "<optimized out>"
                continue
            text = obj.format_(dereference=False, members_same_line=True, element_indices=False)
            out[name] = text if len(text) <= MAX_VALUE else text[:MAX_VALUE] + "…"
        except Exception as e:  # a value in a page the dump left out, a DWARF expression drgn cannot do
            out[name] = f"<{type(e).__name__}: {str(e)[:80]}>"
    return out


def _stack(prog: Any, trace: Any, locals_frames: int = 0) -> list[dict[str, Any]]:
    return [_frame(prog, f, i < locals_frames) for i, f in enumerate(trace) if i < MAX_FRAMES]


def _unnamed(frame: dict[str, Any]) -> bool:
    """A frame the unwinder could only give as an address."""
    return stackmerge.unnamed(frame)


def _task(task: Any) -> dict[str, Any]:
    from drgn.helpers.linux.sched import task_cpu, task_state_to_char  # noqa: PLC0415

    d: dict[str, Any] = {"pid": task.pid.value_(), "comm": _s(task.comm.string_())}
    for key, fn in (("cpu", task_cpu), ("state", task_state_to_char)):
        try:
            d[key] = fn(task)
        except Exception:
            d[key] = None
    return d


def _stop_reason(prog: Any, frame: dict[str, Any]) -> str:
    """Why the unwinder gave no caller for ``frame``, as far as the program can tell."""
    where = f"{frame.get('function')}" + (f" [{frame['module']}]" if frame.get("module") not in
                                          (None, "kernel") else "")
    mod = frame.get("module")
    if mod and mod != "kernel":
        try:
            loaded = next(m for m in prog.modules() if m.name == mod).debug_file_path is not None
        except (StopIteration, LookupError):
            loaded = False
        if not loaded:
            # drgn 0.3.0 reads a module's ORC tables from its .ko, not from the dump.
            return (f"unwinding stopped in {where}: no ORC data for module {mod} "
                    "(its .ko with debug info was neither given nor in the debuginfo store)")
    return f"unwinding stopped at {where}: drgn found no caller for it"


def waiting_on(stack: list[dict[str, Any]]) -> str | None:
    """The first frame above the scheduler's: what a sleeping task waits in."""
    for f in stack:
        fn = f.get("function")
        if fn and fn not in SCHED_FRAMES and not fn.startswith(("__schedule", "schedule_")):
            return str(fn)
    return None


def log_stack(prog: Any, log: str, pid: int | None = None) -> list[dict[str, Any]]:
    """The first oops's RIP and Call Trace, as triage reads them from the log, with file:line
    looked up in the DWARF; with ``pid``, the first report of that task (an earlier warning in
    the log may be another task's).

    What the unwound stack is merged with (:mod:`._stackmerge`), and the stack when the crashed
    task cannot be unwound (its task_struct or stack is not in the dump): the log still names
    each frame as ``function+offset``, and the vmlinux/module DWARF turns that into file:line.
    Return addresses (all but the RIP) are looked up one byte back, so the line is the call's,
    as an unwinder would give it.  ``?`` entries (unreliable) are skipped.
    """
    from crashhub.triage import parse  # noqa: PLC0415

    reports = [r for r in parse(log.encode()) if r.rip is not None or r.frames]
    if pid is not None:  # else (no report names that task) the first report, as without a pid
        reports = [r for r in reports if r.process is not None and r.process.pid == pid] or reports
    if not reports:
        return []
    report = reports[0]
    entries: list[tuple[Frame, bool]] = [(report.rip, True)] if report.rip is not None else []
    entries += [(f, False) for f in report.frames if f.reliable][:MAX_FRAMES]
    out: list[dict[str, Any]] = []
    for fr, is_rip in entries:
        if fr.function is None or fr.offset is None:
            continue
        fn, off, mod = fr.function, fr.offset, fr.module or "kernel"
        locs: list[Any] = []
        with contextlib.suppress(LookupError, ValueError):  # prog None: the log's names alone
            locs = list(prog.source_location(f"{fn}+{off if is_rip else max(off - 1, 0)}")) if prog else []
        if not locs:
            out.append({"function": fn, "module": mod, "file": None, "line": None,
                        "offset": off, "inline": False, "source": "log", "name_from": "log"})
        for i, loc in enumerate(locs):
            out.append({"function": loc.name() or fn, "module": mod, "file": loc.filename, "line": loc.line,
                        "offset": off, "inline": i < len(locs) - 1, "source": "log",
                        "name_from": "dwarf" if loc.name() else "log"})
    return out


class Collector:
    """Computes the sections of a drgn analysis and writes each as a JSON line as it is done."""

    def __init__(self, prog: Any, emit: Callable[[str, Any, float], None]) -> None:
        self.prog = prog
        self.emit = emit
        self.excluded = 0

    def section(self, name: str, fn: Callable[[], Any]) -> Any:
        t = time.monotonic()
        try:
            val = fn()
        except Exception as e:
            msg = f"{type(e).__name__}: {e}"
            if "xcluded page" in msg:
                self.excluded += 1
            self.emit("error", {"section": name, "error": msg[:500]}, time.monotonic() - t)
            return None
        self.emit(name, val, time.monotonic() - t)
        return val

    def sys(self) -> dict[str, Any]:
        from drgn.helpers.linux.cpumask import num_online_cpus  # noqa: PLC0415
        from drgn.helpers.linux.panic import tainted  # noqa: PLC0415

        prog = self.prog
        uts = prog["init_uts_ns"].name
        mm = prog.main_module()
        d: dict[str, Any] = {
            "release": _s(uts.release.string_()), "version": _s(uts.version.string_()),
            "machine": _s(uts.machine.string_()), "hostname": _s(uts.nodename.string_()),
            "build_id": mm.build_id.hex() if mm.build_id else None,
        }
        for key, fn in (("cpus", lambda: num_online_cpus(prog)),
                        ("taint", lambda: tainted(prog).replace(" ", "")),
                        # Lambdas so the lookup itself fails inside the try.
                        ("taint_mask", lambda: prog["tainted_mask"].value_()),  # noqa: PLW0108
                        ("jiffies", lambda: prog["jiffies"].value_())):  # noqa: PLW0108
            try:
                d[key] = fn()
            except Exception as e:
                d[key] = None
                d.setdefault("errors", []).append(f"{key}: {e}"[:200])
        return d

    def panic(self) -> dict[str, Any]:
        from drgn.helpers.linux.panic import panic_message  # noqa: PLC0415

        prog = self.prog
        out: dict[str, Any] = {"panic_message": None, "panic_task": None, "stack": []}
        try:
            thread = prog.crashed_thread()
            out["panic_task"] = {"pid": thread.tid, "comm": None, "cpu": None, "state": None}
            out["panic_task"] = _task(thread.object)
            out["stack"] = _stack(prog, thread.stack_trace(), LOCALS_FRAMES)
        except Exception as e:  # the task_struct page may be left out of the dump (6.12 at -d 31)
            out["stack_error"] = f"{type(e).__name__}: {e}"[:300]
            if out["panic_task"] is not None:
                out["panic_task"]["error"] = out["stack_error"]
            self.excluded += "xcluded page" in str(e)
        try:
            out["panic_message"] = _s(panic_message(prog))
        except Exception as e:
            out["panic_message_error"] = f"{type(e).__name__}: {e}"[:300]
        self._with_log(out)
        return out

    def _with_log(self, out: dict[str, Any]) -> None:
        """Never worse than the log: the unwound stack merged with the log's Call Trace
        (:mod:`._stackmerge`), saying in ``unwind_note`` when and why unwinding stopped early."""
        unwound: list[dict[str, Any]] = out["stack"]
        pid = (out.get("panic_task") or {}).get("pid")
        try:
            logged = log_stack(self.prog, self.log(), pid if isinstance(pid, int) else None)
        except Exception as e:
            out["log_stack_error"] = f"{type(e).__name__}: {e}"[:300]
            return
        if not logged:
            return
        m = stackmerge.merge(unwound, logged)
        if not unwound or m.worse_than(logged):
            # Still fewer names than the log (an unwinder lost in a module without symbols): the
            # log's stack, the unwound frames kept beside it.
            if unwound:
                out["unwound_stack"] = unwound
            out["stack"], out["stack_source"] = logged, "log"
            why = out.get("stack_error") or "its frames name fewer functions than the log's Call Trace"
            out["unwind_note"] = f"the crashed task's unwound stack is not used ({why}): frames from the log"
            return
        out["stack"] = m.stack
        out["stack_source"] = "merged" if m.named_from_log or m.appended else "unwind"
        if m.stopped_at is not None:
            out["unwind_note"] = (f"{_stop_reason(self.prog, m.stopped_at)}; the {m.appended} frames "
                                  "after it are the log's Call Trace")

    def cpus(self) -> list[dict[str, Any]]:
        from drgn.helpers.linux.cpumask import for_each_online_cpu  # noqa: PLC0415
        from drgn.helpers.linux.sched import cpu_curr  # noqa: PLC0415

        out = []
        for cpu in for_each_online_cpu(self.prog):
            d: dict[str, Any] = {"cpu": cpu}
            try:
                task = cpu_curr(self.prog, cpu)
                d.update(_task(task))
                d["cpu"] = cpu
                d["stack"] = _stack(self.prog, self.prog.stack_trace(task))
            except Exception as e:
                d["error"] = f"{type(e).__name__}: {e}"[:300]
                self.excluded += "xcluded page" in str(e)
            out.append(d)
        return out

    def tasks(self) -> dict[str, Any]:
        from drgn.helpers.linux.mm import task_rss  # noqa: PLC0415
        from drgn.helpers.linux.pid import for_each_task  # noqa: PLC0415
        from drgn.helpers.linux.sched import task_state_to_char  # noqa: PLC0415

        prog = self.prog
        count, errors = 0, 0
        states: dict[str, int] = {}
        dstate: list[dict[str, Any]] = []
        rss: list[dict[str, Any]] = []
        for task in for_each_task(prog):
            count += 1
            try:
                st = task_state_to_char(task)
                states[st] = states.get(st, 0) + 1
                if st == "D" and len(dstate) < MAX_TASK_STACKS:
                    d = _task(task)
                    d["stack"] = _stack(prog, prog.stack_trace(task))
                    d["waiting_on"] = waiting_on(d["stack"])
                    dstate.append(d)
                if task.mm and task.pid == task.tgid:
                    r = task_rss(prog, task)
                    rss.append({"pid": task.pid.value_(), "comm": _s(task.comm.string_()),
                                "rss_kb": r.total * 4, "anon_kb": r.anon * 4, "file_kb": r.file * 4,
                                "shmem_kb": r.shmem * 4, "swap_kb": r.swap * 4})
            except Exception as e:
                errors += 1
                self.excluded += "xcluded page" in str(e)
        rss.sort(key=lambda r: -int(r["rss_kb"]))
        return {"count": count, "states": states, "dstate": dstate, "top_rss": rss[:10],
                "unreadable": errors}

    def runq(self) -> list[dict[str, Any]]:
        from drgn.helpers.linux.cpumask import for_each_online_cpu  # noqa: PLC0415
        from drgn.helpers.linux.sched import (  # noqa: PLC0415
            cpu_rq,
            rq_for_each_fair_task,
            rq_for_each_rt_task,
        )

        out = []
        for cpu in for_each_online_cpu(self.prog):
            rq = cpu_rq(self.prog, cpu)
            d: dict[str, Any] = {"cpu": cpu, "nr_running": rq.nr_running.value_(),
                                 "curr": {"pid": rq.curr.pid.value_(), "comm": _s(rq.curr.comm.string_())},
                                 "rt": [], "cfs": []}
            for key, it in (("rt", rq_for_each_rt_task), ("cfs", rq_for_each_fair_task)):
                try:
                    d[key] = [{"pid": t.pid.value_(), "comm": _s(t.comm.string_()),
                               "prio": t.prio.value_()} for t in it(rq)][:64]
                except Exception as e:
                    d[f"{key}_error"] = f"{type(e).__name__}: {e}"[:200]
            out.append(d)
        return out

    def memory(self) -> dict[str, Any]:
        """The figures of crash's ``kmem -i``, in pages and KiB."""
        from drgn.helpers.linux.mm import totalram_pages  # noqa: PLC0415
        from drgn.helpers.linux.vmstat import global_node_page_state, nr_free_pages  # noqa: PLC0415

        prog = self.prog
        page_kb = prog["PAGE_SIZE"].value_() // 1024 if "PAGE_SIZE" in prog else 4
        pages: dict[str, int | None] = {"total": totalram_pages(prog), "free": nr_free_pages(prog)}
        for key, item in (("file", "NR_FILE_PAGES"), ("anon", "NR_ANON_MAPPED"), ("shmem", "NR_SHMEM"),
                          ("slab_reclaimable", "NR_SLAB_RECLAIMABLE_B"),
                          ("slab_unreclaimable", "NR_SLAB_UNRECLAIMABLE_B"),
                          ("swapcache", "NR_SWAPCACHE")):
            try:
                pages[key] = global_node_page_state(prog, prog.constant(item))
            except LookupError:
                pages[key] = None
        try:
            pages["swap_total"] = prog["total_swap_pages"].value_()
            pages["swap_free"] = prog["nr_swap_pages"].counter.value_()
        except (LookupError, AttributeError):
            pages["swap_total"] = pages["swap_free"] = None
        total, free = pages["total"] or 0, pages["free"] or 0
        pages["used"] = total - free
        pages["slab"] = (pages["slab_reclaimable"] or 0) + (pages["slab_unreclaimable"] or 0)
        pages["cached"] = (pages["file"] or 0) - (pages["swapcache"] or 0)
        return {"page_kb": page_kb, "pages": pages,
                "kb": {k: (v * page_kb if v is not None else None) for k, v in pages.items()},
                "free_percent": round(100.0 * free / total, 1) if total else None}

    def modules(self) -> list[dict[str, Any]]:
        from drgn.helpers.linux.module import for_each_module, module_taints  # noqa: PLC0415

        out = []
        for mod in for_each_module(self.prog):
            d: dict[str, Any] = {"name": _s(mod.name.string_())}
            try:
                d["taints"] = module_taints(mod)
            except Exception:
                d["taints"] = None
            d["debuginfo"] = False
            out.append(d)
        loaded = {m.name for m in self.prog.modules() if getattr(m, "debug_file_path", None)}
        for d in out:
            d["debuginfo"] = d["name"] in loaded
        return out

    def wait_chains(self) -> dict[str, Any]:
        """What each D-state task waits on and who owns it, owner by owner (_probe_waits)."""
        from crashhub.analyze._probe_waits import wait_chains  # noqa: PLC0415

        return wait_chains(self.prog)

    def cpu_waits(self) -> dict[str, Any]:
        from crashhub.analyze._probe_cpus import probe  # noqa: PLC0415

        out = probe(self.prog)
        # The probe keeps each part's error; pages the dump left out count as for any section.
        self.excluded += sum("xcluded page" in e for e in out["errors"])
        return out

    def log(self) -> str:
        from drgn.helpers.linux.printk import get_dmesg  # noqa: PLC0415

        data: bytes = get_dmesg(self.prog)
        return data[-MAX_LOG:].decode("utf-8", "replace")

    def fault(self) -> dict[str, Any]:
        from crashhub.analyze._probe_fault import fault  # noqa: PLC0415

        return fault(self.prog, self.log())

    def memstate(self) -> dict[str, Any]:
        from crashhub.analyze._probe_fault import memstate  # noqa: PLC0415

        return memstate(self.prog, self.log())


def _module_files(paths: list[str], wanted: set[str]) -> Iterator[str]:
    """The module debug files among ``paths`` (files or directories) for the loaded modules."""
    for p in paths:
        pp = Path(p)
        files = [pp] if pp.is_file() else (pp.rglob("*.ko*") if pp.is_dir() else [])
        for f in files:
            stem = f.name.split(".ko", 1)[0].replace("-", "_")
            if f.name.endswith((".ko", ".ko.debug")) and stem in wanted:
                yield str(f)


def open_program(req: dict[str, Any]) -> tuple[Any, list[str]]:
    """A drgn Program over the dump with the vmlinux and the loaded modules' debuginfo."""
    import drgn  # noqa: PLC0415

    notes: list[str] = []
    prog = drgn.Program(drgn.host_platform) if req.get("qemu_kdump") else drgn.Program()
    try:
        prog.set_core_dump(req["dump"])
    except Exception as e:
        # QEMU's dump-guest-memory kdump-zlib files name no architecture (libkdumpfile:
        # "KDUMP_ATTR_ARCH_NAME: Key has no value"); drgn then needs the platform given.
        if "ARCH_NAME" not in str(e) or req.get("qemu_kdump"):
            raise
        notes.append("the dump names no architecture (a QEMU kdump-zlib file?): assuming the host's")
        prog = drgn.Program(drgn.host_platform)
        prog.set_core_dump(req["dump"])
    if req.get("debuginfod"):
        # drgn 0.3.0 turns debuginfod off for non-Fedora kernels unless asked (linux_kernel.c).
        prog.set_enabled_debug_info_finders(["standard", "debuginfod"])
    paths = [req["vmlinux"]] if req.get("vmlinux") else []
    try:
        prog.load_debug_info(paths, main=True)
    except drgn.MissingDebugInfoError as e:
        notes.append(f"missing debuginfo: {e}"[:500])
    wanted = set()
    try:
        wanted = {m.name.replace("-", "_") for m in prog.modules() if m.name != "kernel"}
    except Exception as e:
        notes.append(f"cannot list modules: {e}"[:300])
    mods = list(_module_files(req.get("modules", []), wanted))
    if mods:
        try:
            prog.load_debug_info(mods)
        except drgn.MissingDebugInfoError as e:
            notes.append(f"module debuginfo: {e}"[:500])
    _module_kallsyms(prog, notes)
    return prog, notes


def _module_kallsyms(prog: Any, notes: list[str]) -> None:
    """Name module code from the symbol tables the kernel keeps of each module (CONFIG_KALLSYMS),
    read from the dump: what names a frame in a module whose .ko nobody gave."""
    from drgn.helpers.linux.kallsyms import load_module_kallsyms  # noqa: PLC0415

    try:
        finder = load_module_kallsyms(prog)
        # First: drgn's ELF finder knows no symbol of a module without a file.
        prog.register_symbol_finder("module_kallsyms", finder, enable_index=0)
        # _probe_waits adds the same finder on a failed lookup when this one is missing.
        prog.cache["crashhub_module_kallsyms"] = True
    except Exception as e:  # the modules' pages may be left out of the dump
        notes.append(f"module kallsyms: {type(e).__name__}: {e}"[:300])


SECTIONS = ("sys", "panic", "cpus", "tasks", "runq", "memory", "modules", "wait_chains", "cpu_waits",
            "log", "fault", "memstate")


def collect(req: dict[str, Any], emit: Callable[[str, Any, float], None]) -> None:
    import drgn  # noqa: PLC0415

    t = time.monotonic()
    emit("engine", {"engine": "drgn", "version": drgn.__version__}, 0.0)
    prog, notes = open_program(req)
    emit("load", {"notes": notes}, time.monotonic() - t)
    c = Collector(prog, emit)
    for name in req.get("sections") or SECTIONS:
        c.section(name, getattr(c, name))
    emit("excluded_pages", c.excluded, 0.0)


def main(argv: list[str]) -> int:
    req = json.loads(argv[0])

    def emit(name: str, val: Any, seconds: float) -> None:
        sys.stdout.write(json.dumps({"section": name, "data": val, "seconds": round(seconds, 4)},
                                    default=str) + "\n")
        sys.stdout.flush()

    collect(req, emit)
    return 0


def run(dump: Path, vmlinux: Path | None, *, modules: list[Path] | None = None, timeout: float = 300.0,
        mem_bytes: int | None = 6 << 30, sections: tuple[str, ...] | None = None,
        debuginfod: bool = False, qemu_kdump: bool = False) -> dict[str, Any]:
    """Run the drgn engine on ``dump`` in a child process; the sections it finished, merged."""
    req = {"dump": str(dump), "vmlinux": str(vmlinux) if vmlinux else None,
           "modules": [str(m) for m in modules or []], "sections": list(sections or SECTIONS),
           "debuginfod": debuginfod, "qemu_kdump": qemu_kdump}
    env = dict(config.environ())
    env.setdefault("OMP_NUM_THREADS", "2")  # drgn indexes DWARF with OpenMP; the hub shares its cores
    out = run_limited([sys.executable, "-m", "crashhub.analyze._drgn_engine", json.dumps(req)],
                      timeout=timeout, mem_bytes=mem_bytes, env=env)
    res: dict[str, Any] = {"engine": "drgn", "ok": False, "errors": [], "timings": {},
                           "seconds": round(out.seconds, 3), "peak_rss_kb": out.peak_rss_kb}
    for line in out.stdout.splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        name, data = rec.get("section"), rec.get("data")
        if name == "error":
            res["errors"].append(data)
        elif name == "engine":
            res["version"] = data.get("version")
        elif name == "load":
            res["load_notes"] = data.get("notes", [])
        else:
            res[name] = data
        if name not in ("error", "engine"):
            res["timings"][name] = rec.get("seconds")
    finished = "excluded_pages" in res
    if out.killed_reason:
        res["failure"] = _failure(out.killed_reason, timeout, mem_bytes)
    elif out.returncode != 0 and memory_exhausted(out.stderr):
        res["failure"] = _failure("memory", timeout, mem_bytes)
    elif out.returncode != 0 or not finished:
        tail = out.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
        res["failure"] = f"drgn engine exited with {out.returncode}: {' / '.join(tail)[:600]}"
        if mem_bytes and any(w in res["failure"] for w in ("libdw error", "libelf error")):
            # elfutils reports a failed mmap of the vmlinux as "invalid ELF file" and the like.
            res["failure"] += (f" (possibly the {mem_bytes / 2**30:.1f} GiB memory limit: the vmlinux's "
                               "DWARF is mapped whole; raise the limit)")
    res["ok"] = finished and "failure" not in res
    return res


def _failure(reason: str, timeout: float, mem_bytes: int | None) -> str:
    if reason == "timeout":
        return f"drgn engine killed after the {timeout:g} s time limit; the sections before it are kept"
    if reason in ("memory", "SIGSEGV", "SIGABRT", "SIGKILL"):
        lim = f"{mem_bytes / 2**30:.1f} GiB" if mem_bytes else "no"
        return f"drgn engine died ({reason}) under the {lim} memory limit; raise the limit"
    return f"drgn engine killed ({reason})"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
