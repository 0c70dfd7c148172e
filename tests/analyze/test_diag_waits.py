"""Hung-task wait chains: the pure walk over small ``wait_chains`` sections, then real lab dumps.

The fixtures are shaped as :mod:`crashhub.analyze._probe_waits` writes them (one record per task);
the lab tests read the 6.1 (default variant) and 6.12 (``d23``) dumps of ``hung`` (a self-deadlock),
``hung_chain`` (a mutex held across msleep()) and ``abba`` (two kthreads, two mutexes, opposite orders).
"""

from __future__ import annotations

import contextlib
import io
import re
from typing import Any

import pytest

from crashhub.analyze import analyze
from crashhub.analyze._checks import diagnose
from crashhub.analyze._diag_waits import MAX_CHAIN, Wait, parse, walk
from crashhub.analyze._model import Analysis, EngineRun, Finding, StackFrame, TaskInfo
from crashhub.triage import watchdog_events

A, B, C = 0xFFFF888001000000, 0xFFFF888002000000, 0xFFFF888003000000
LOCK_A, LOCK_B = 0xFFFFFFFFC0001000, 0xFFFFFFFFC0001020
SCHED = ["context_switch", "__schedule", "schedule"]


def _stack(*names: str) -> list[dict[str, Any]]:
    return [{"function": n, "file": None, "line": None} for n in names]


def _mutex(addr: int, symbol: str | None, owner: int | None) -> dict[str, Any]:
    return {"kind": "mutex", "frame": "__mutex_lock_common", "variable": "lock", "found": "local",
            "address": addr, "symbol": symbol, "owner_task": owner, "flags": 1}


def _task(task: int, pid: int, comm: str, fn: str, wait: dict[str, Any] | None, *, state: str = "D",
          **kw: Any) -> dict[str, Any]:
    prim = {"mutex": ["schedule_preempt_disabled", "__mutex_lock_common", "__mutex_lock"],
            "sleep": ["schedule_timeout", "msleep"], "completion": ["schedule_timeout", "do_wait_for_common",
                                                                   "wait_for_completion"]}
    frames = prim.get((wait or {}).get("kind", ""), [])
    d = {"pid": pid, "comm": comm, "task": task, "state": state, "cpu": 1, "on_cpu": state == "R",
         "stack": _stack(*SCHED, *frames, fn, "kthread"),
         "wait": wait, "sits_in": frames[0] if frames else fn,
         "caller": {"function": fn, "file": "crashmod/crashmod.c", "line": 42}}
    d.update(kw)
    return d


def _analysis(tasks: list[dict[str, Any]] | None, log: str) -> Analysis:
    raw = {} if tasks is None else {"wait_chains": {"tasks": tasks, "scanned": 60, "blocked": len(tasks)}}
    dstate = tuple(TaskInfo(pid=t["pid"], comm=t["comm"], state="D", waiting_on=t["caller"]["function"],
                            stack=tuple(StackFrame(f["function"]) for f in t["stack"]))
                   for t in tasks or () if "caller" in t)
    return Analysis(engines={"drgn": EngineRun("drgn", ok=True, raw=raw)}, dstate=dstate, log=log)


def _hung(*tasks: tuple[str, int]) -> str:
    return "".join(f"[ 31.6] INFO: task {c}:{p} blocked for more than 10 seconds.\n" for c, p in tasks)


def _findings(tasks: list[dict[str, Any]] | None, log: str) -> list[Finding]:
    d = diagnose(_analysis(tasks, log), watchdog_events(log))
    return [f for f in d.findings if f.id in ("hung-task", "deadlock", "d-state")]


CHAIN = [
    _task(A, 148, "sh", "crashmod_hung_chain", _mutex(LOCK_A, "crashmod_chain_lock", B)),
    _task(B, 151, "crashmod_holder", "crashmod_hold_and_sleep", {"kind": "sleep", "frame": "msleep",
                                                                 "found": "none"}),
]


def test_chain_names_the_sleeping_holder() -> None:
    [f] = _findings(CHAIN, _hung(("sh", 148)))
    assert f.id == "hung-task" and f.severity == "error"
    assert f.claim == ("hung task sh (148) waits for mutex crashmod_chain_lock in crashmod_hung_chain, "
                       "held by crashmod_holder (151), which sleeps in msleep() in crashmod_hold_and_sleep "
                       "(state D) holding crashmod_chain_lock")
    assert f.culprit is not None
    assert (f.culprit.pid, f.culprit.comm) == (151, "crashmod_holder")
    assert f.culprit.function == "crashmod_hold_and_sleep"
    assert f.evidence[0].startswith("INFO: task sh:148 blocked")
    assert f"mutex crashmod_chain_lock at {LOCK_A:#x}" in f.evidence[1]
    assert "flags=0x1 (WAITERS)" in f.evidence[1]
    assert f"owner task {B:#x} = crashmod_holder (151)" in f.evidence[1]
    assert "sleeps in msleep; called from crashmod_hold_and_sleep (crashmod/crashmod.c:42)" in f.evidence[2]
    assert f.command is not None
    assert f'mutex_owner(Object(prog, "struct mutex *", {LOCK_A:#x}))' in f.command
    assert "crash> bt 148 151" in f.command and f"crash> struct mutex {LOCK_A:#x}" in f.command


ABBA = [
    _task(A, 164, "crashmod_a", "crashmod_take_ab", _mutex(LOCK_B, "crashmod_lock_b", B)),
    _task(B, 165, "crashmod_b", "crashmod_take_ba", _mutex(LOCK_A, "crashmod_lock_a", A)),
]


def test_abba_is_one_deadlock_for_both_hung_tasks() -> None:
    [f] = _findings(ABBA, _hung(("crashmod_a", 164), ("crashmod_b", 165)))
    assert f.id == "deadlock"
    assert f.claim == ("ABBA deadlock: crashmod_a (164) holds crashmod_lock_a and waits for mutex "
                       "crashmod_lock_b in crashmod_take_ab, held by crashmod_b (165), which waits for mutex "
                       "crashmod_lock_a in crashmod_take_ba")
    assert f.culprit is not None and (f.culprit.pid, f.culprit.function) == (164, "crashmod_take_ab")
    assert sum("INFO: task" in e for e in f.evidence) == 2
    graph = parse({"tasks": ABBA})
    assert graph is not None
    chain = walk(graph, graph.tasks[1])
    assert chain.end == "cycle" and chain.cycle_at == 0 and [t.pid for t in chain.tasks] == [165, 164]


def test_self_deadlock_and_a_task_queued_behind_it() -> None:
    tasks = [_task(A, 120, "sh", "crashmod_hung", _mutex(LOCK_A, "crashmod_lock", A)),
             _task(C, 130, "cat", "crashmod_read", _mutex(LOCK_A, "crashmod_lock", A))]
    found = _findings(tasks, _hung(("sh", 120), ("cat", 130)))
    assert [f.id for f in found] == ["deadlock", "hung-task"]
    dead, queued = found
    assert dead.claim == ("self-deadlock: hung task sh (120) waits for mutex crashmod_lock in crashmod_hung, "
                          "which it already holds")
    assert "holds itself" in dead.detail
    assert queued.claim == ("hung task cat (130) waits for mutex crashmod_lock in crashmod_read, "
                            "held by sh (120), which is self-deadlocked")
    assert queued.culprit is not None and queued.culprit.pid == 120


def test_missing_owner_stops_the_chain_and_says_so() -> None:
    # The owner's task_struct sits in a page the dump left out: the probe keeps its address only.
    tasks = [CHAIN[0], {"task": B, "error": "FaultError: could not read memory from kdump: Excluded page"}]
    [f] = _findings(tasks, _hung(("sh", 148)))
    assert f.id == "hung-task"
    assert "held by task 0xffff888002000000, whose task or stack is absent from the dump" in f.claim
    assert f.culprit is not None and f.culprit.pid is None
    assert "Excluded page" in f.evidence[-1]
    # An owner not followed at all (a record the bounds left out) ends the same way.
    [g] = _findings(CHAIN[:1], _hung(("sh", 148)))
    assert g.claim.endswith("whose task or stack is absent from the dump (not read by the engine)")
    assert "absent from the dump" in g.detail and "not read by the engine" in g.evidence[-1]


def test_partial_dump_falls_back_to_the_log() -> None:
    log = _hung(("sh", 148))
    unread = [{"pid": 148, "comm": "sh", "task": A, "state": "D", "error": "FaultError: Excluded page"}]
    [f] = _findings(unread, log)
    [g] = _findings(None, log)  # no wait_chains section: an analysis stored before it existed
    assert f == g and f.id == "hung-task" and "sh:148" in f.claim and f.culprit is None


def test_optimized_out_lock_and_ownerless_completion() -> None:
    gone = {"kind": "mutex", "frame": "__mutex_lock_common", "variable": "lock", "found": "optimized out",
            "tried": ["__mutex_lock_common:lock optimized out", "__mutex_lock:lock optimized out"]}
    [f] = _findings([_task(A, 7, "kworker/0:1", "foo_flush", gone)], _hung(("kworker/0:1", 7)))
    assert "waits for a mutex (its address is optimized out) in foo_flush" in f.claim
    assert "tried __mutex_lock_common:lock optimized out" in f.evidence[1]
    assert f.culprit is not None and (f.culprit.pid, f.culprit.function) == (7, "foo_flush")
    done = {"kind": "completion", "frame": "do_wait_for_common", "found": "local", "address": C + 0x40,
            "symbol": "slab object: kmalloc-64+0x40", "done": 0,
            "owner_note": "a completion has no owner: whoever should call complete() is not recorded"}
    [f] = _findings([_task(A, 8, "modprobe", "bar_probe", done)], _hung(("modprobe", 8)))
    assert (f"completion at {C + 0x40:#x}, slab object: kmalloc-64+0x40 in bar_probe "
            "(a completion has no owner") in f.claim
    assert "done=0" in f.evidence[1] and f.culprit is not None and f.culprit.comm == "modprobe"


def test_a_long_chain_is_bounded() -> None:
    n = MAX_CHAIN + 5
    addrs = [0xFFFF888010000000 + i * 0x4000 for i in range(n)]
    tasks = [_task(addrs[i], 100 + i, f"t{i}", f"f{i}", _mutex(addrs[i] + 8, f"lock{i}", addrs[i + 1]))
             for i in range(n - 1)]
    [f] = _findings(tasks, _hung(("t0", 100)))
    assert f"longer than {MAX_CHAIN} tasks" in f.detail and len(f.evidence) == MAX_CHAIN + 2


def test_without_a_watchdog_report_blocked_lock_chains_still_show() -> None:
    found = _findings(CHAIN, "")
    ids = [f.id for f in found]
    assert ids.count("hung-task") == 1 and "d-state" in ids  # check_hung's D-state summary stays
    [f] = [f for f in found if f.id == "hung-task"]
    assert f.claim.startswith("sh (148) waits for mutex crashmod_chain_lock")


def test_rwsem_read_locked_owner_is_flagged() -> None:
    sem = {"kind": "rwsem", "frame": "rwsem_down_write_slowpath", "found": "local", "address": LOCK_B,
           "symbol": "some_sem", "owner_task": B, "rwsem": "read_locked", "count": 256,
           "owner_note": "read-locked: the owner field names the last reader, which may have left"}
    tasks = [_task(A, 5, "a", "fa", sem), _task(B, 6, "b", "fb", None, state="R", cpu=0)]
    [f] = _findings(tasks, _hung(("a", 5)))
    assert "waits for rw_semaphore some_sem in fa, held by b (6), which runs on CPU 0 in fb" in f.claim
    assert "rwsem=read_locked" in f.evidence[1] and f.culprit is not None and f.culprit.cpu == 0


def test_a_lock_is_named_by_its_symbol_not_by_what_drgn_says_of_an_anonymous_address() -> None:
    named = Wait.parse(_mutex(LOCK_A, "pagecache_lock", None))
    anon = Wait.parse(_mutex(C, "slab object: kmalloc-128+0x10", None))
    assert named is not None and named.short == "mutex pagecache_lock"
    assert anon is not None and anon.short == f"mutex at {C:#x}, slab object: kmalloc-128+0x10"


# ---- real dumps ----------------------------------------------------------------------------------------

_cache: dict[tuple[str, str, str | None], tuple[Any, dict[str, Any]]] = {}
# 6.12 at the default -d 31 too: makedumpfile 1.7.2 drops live slab pages there (the pid idr walk
# breaks, crashmod's section table is gone), yet the blocked tasks are found by looking pids up one by
# one and the module's symbols through its kallsyms.
CASES = [pytest.param(k, kind, v, id=f"{k}{'-' + v if v else ''}-{kind}")
         for k, v in (("6.1", None), ("6.12", "d23"), ("6.12", None))
         for kind in ("hung", "hung_chain", "abba")]


def _lab(lab: Any, kernel: str, kind: str, variant: str | None) -> tuple[Any, dict[str, Any]]:
    key = (kernel, kind, variant)
    if key not in _cache:
        run = lab.crash(kernel, kind, variant=variant)
        r = analyze(run.path("rhel/vmcore"), vmlinux=run.vmlinux, engines=("drgn",),
                    modules=[run.dir / "crashmod.ko"], timeout=600).to_dict()
        _cache[key] = run, r
    return _cache[key]


@pytest.mark.lab
@pytest.mark.slow
@pytest.mark.parametrize(("kernel", "kind", "variant"), CASES)
def test_lab_wait_chains(lab: Any, kernel: str, kind: str, variant: str | None) -> None:
    run, r = _lab(lab, kernel, kind, variant)
    drgn = r["engines"]["drgn"]
    assert drgn["ok"] and drgn["timings"]["wait_chains"] < 0.3, drgn["timings"]
    hung = {int(p): c for c, p in re.findall(r"INFO: task (\S+):(\d+) blocked", r["log"])}
    found = [f for f in r["findings"] if f["id"] in ("hung-task", "deadlock", "d-state")]
    if not all(f.get("culprit") for f in found):
        # Only the partial dump may lack a hung task (whether its pages were kept varies by boot): then
        # the log's finding stands for it, once, and the section says why.
        assert (kernel, variant) == ("6.12", None), found
        # The section says why: its walk hit an excluded page, or it counted tasks it could not read.
        wc = drgn["wait_chains"]
        assert "Excluded page" in str(wc["walk_error"]) or wc["unreadable"] > 0, wc
        for pid, comm in hung.items():
            assert sum(f"{comm}:{pid} " in f["title"] or f"{comm} ({pid})" in f["title"] for f in found) == 1
        return
    [f] = found  # one finding, whichever and however many hung tasks the watchdog reported
    culprit = f["culprit"]
    trigger = run.manifest["expected"]["trigger_pid"]
    if kind == "hung":
        assert hung == {trigger: "sh"} and f["id"] == "deadlock"
        assert f["title"].startswith(f"self-deadlock: hung task sh ({trigger}) waits for mutex crashmod_lock "
                                     "in crashmod_hung")
        assert (culprit["pid"], culprit["comm"], culprit["function"]) == (trigger, "sh", "crashmod_hung")
    elif kind == "hung_chain":
        assert hung == {trigger: "sh"} and f["id"] == "hung-task"
        want = (rf"hung task sh \({trigger}\) waits for mutex crashmod_chain_lock in crashmod_hung_chain, "
                r"held by crashmod_holder \((\d+)\), which sleeps in msleep\(\) in "
                r"crashmod_hold_and_sleep \(state D\) holding crashmod_chain_lock")
        assert re.fullmatch(want, f["title"]), f["title"]
        assert (culprit["comm"], culprit["function"]) == ("crashmod_holder", "crashmod_hold_and_sleep")
        assert f"({culprit['pid']})" in f["title"] and culprit["pid"] not in hung
    else:
        assert sorted(hung.values()) == ["crashmod_a", "crashmod_b"] and f["id"] == "deadlock"
        pid = {c: p for p, c in hung.items()}
        a, b = pid["crashmod_a"], pid["crashmod_b"]
        assert f["title"] == (f"ABBA deadlock: crashmod_a ({a}) holds crashmod_lock_a and waits for "
                              f"mutex crashmod_lock_b in crashmod_take_ab, held by crashmod_b ({b}), which "
                              "waits for mutex crashmod_lock_a in crashmod_take_ba")
        assert (culprit["pid"], culprit["function"]) == (a, "crashmod_take_ab")
    # The lock's address as drgn resolves the symbol, and the frame it was read from.
    assert re.search(r"for mutex crashmod_\w+ at 0xffffffffc[0-9a-f]{7} \(read from the frame's variable\)",
                     " ".join(f["evidence"]))
    assert f["command"] and "crash> bt " in f["command"]
    if kernel == "6.1":
        _replay(run, f["command"], culprit["pid"])


def _replay(run: Any, command: str, owner: int) -> None:
    """The finding's drgn snippet, run on the dump, prints the lock's owner again."""
    drgn = pytest.importorskip("drgn")
    prog = drgn.Program()
    prog.set_core_dump(str(run.path("rhel/vmcore")))
    prog.load_debug_info([str(run.vmlinux), str(run.dir / "crashmod.ko")])
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(command.split(" | ", maxsplit=1)[0], {"prog": prog})
    assert re.search(rf"^\(pid_t\){owner} ", out.getvalue(), re.M), out.getvalue()[:500]
