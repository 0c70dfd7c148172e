"""Automatic checks over an analysis: findings with a severity and the evidence behind them.

Pure: the merged analysis (drgn sections, crash outputs, dump facts) and what triage read in the
kernel log (:class:`~crashhub.triage.WatchdogEvents`) in, a :class:`Diagnosis` out.  Severities
are the closed set ``Severity`` (critical, error, warning, info).  No kernel-log text is parsed
here: that is triage's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from crashhub.analyze._diag_cpus import check_cpus
from crashhub.analyze._diag_fault import check_fault
from crashhub.analyze._diag_memory import check_bad_page, memstate_of, oom_evidence
from crashhub.analyze._diag_report import check_report
from crashhub.analyze._diag_waits import check_waits
from crashhub.analyze._model import (
    SEVERITIES,
    Analysis,
    Culprit,
    Diagnosis,
    EngineError,
    EngineRun,
    Finding,
    Severity,
    StackFrame,
    TaskInfo,
)
from crashhub.kernel import TAINT, kernel_version
from crashhub.model import DumpFacts
from crashhub.triage import WatchdogEvents, watchdog_events

PARTIAL_FIX = ("dump lacks kernel memory: the capture's makedumpfile does not support this kernel; "
               "use -d 23 or update it")


def _f(fid: str, severity: Severity, title: str, detail: str = "", evidence: list[str] | None = None
       ) -> Finding:
    return Finding(fid, severity, title, detail, tuple(evidence or ()))


def _where(stack: Sequence[StackFrame] | None, n: int = 3) -> str:
    out = []
    for fr in (stack or ())[:n]:
        s = fr.function or "?"
        if fr.file and fr.line:
            s += f" ({fr.file}:{fr.line})"
        out.append(s)
    return " <- ".join(out)


def _excluded(e: EngineError) -> bool:
    return "xcluded page" in e.error


def check_partial(a: Analysis) -> list[Finding]:
    drgn = a.engines.get("drgn") or EngineRun("drgn")
    facts = a.dump or DumpFacts(path="", format="")
    errors = [e for e in drgn.errors if _excluded(e)]
    excluded = int(drgn.section("excluded_pages") or 0)
    panic = drgn.section("panic") or {}
    task_err = (panic.get("panic_task") or {}).get("error") or panic.get("stack_error")
    evidence = [f"{e.section}: {e.error}" for e in errors][:8]
    if task_err and "xcluded page" in task_err:
        evidence.insert(0, f"panic task: {task_err}")
    out = []
    if excluded or errors:
        level = facts.dump_level
        rel = facts.release or (drgn.section("sys") or {}).get("release")
        detail = (f"{excluded} reads hit pages the dump left out (dump level {level}); the answers "
                  "below come from the log and the pages that are there.")
        if level is not None and int(level) & 8 and (kernel_version(rel) or (0,)) >= (6, 10):
            # Since 6.10 PG_slab is a page type; makedumpfile 1.7.2 reads the slab's counter word as
            # page.mapping, takes live slab pages for user pages and drops them at -d 31.
            title = PARTIAL_FIX
            detail += (f" Kernel {rel} keeps slab pages as a page type (6.10+), which makedumpfile "
                       "1.7.x mistakes for user pages and excludes with 'exclude user data' (-d value 8).")
        else:
            title = "dump too partial to trust: pages the analysis needs are missing"
        evidence.insert(0, f"dump level {level}, release {rel}")
        out.append(_f("dump-partial", "error", title, detail, evidence))
    if facts.incomplete:
        out.append(_f("dump-incomplete", "error", "the dump is incomplete (capture was cut short)",
                      "makedumpfile did not finish writing it; pages past the cut are missing",
                      [str(w) for w in facts.warnings][:5]))
    return out


def check_hung(a: Analysis, ev_log: WatchdogEvents) -> list[Finding]:
    dstate = {d.pid: d for d in a.dstate}
    out = []
    seen = set()
    for h in ev_log.hung:
        comm, pid, secs = h.comm, h.pid, h.seconds
        if pid in seen:
            continue
        seen.add(pid)
        d = dstate.get(pid)
        ev = [h.line]
        if d is not None:
            what = d.waiting_on or "?"
            title = f"hung task {comm}:{pid} blocked over {secs} s in D state, waiting in {what}"
            ev.append("stack: " + _where(d.stack, 5))
        else:
            title = f"hung task {comm}:{pid} blocked over {secs} s (its stack is not in the dump)"
        out.append(_f("hung-task", "error", title,
                      "The hung-task watchdog found a task in uninterruptible sleep past the timeout.", ev))
    others = [d for p, d in dstate.items() if p not in seen]
    if others and not seen:
        out.append(_f("d-state", "warning", f"{len(others)} task(s) in uninterruptible sleep (D state)",
                      "", [f"{d.comm}:{d.pid} in {d.waiting_on}" for d in others][:10]))
    return out


def check_lockups(a: Analysis, ev_log: WatchdogEvents) -> list[Finding]:
    cpus = {c.cpu: c for c in a.cpus}
    out = []
    seen = set()
    for s in ev_log.soft:
        cpu, secs, comm, pid = s.cpu, s.seconds, s.comm, s.pid
        if cpu in seen:
            continue
        seen.add(cpu)
        c = cpus.get(cpu) or TaskInfo()
        ev = [s.line]
        if c.stack:
            ev.append(f"CPU {cpu} at the dump: {c.comm}:{c.pid}: {_where(c.stack, 4)}")
        where = f", spinning in {_where(c.stack, 1)}" if c.stack else ""
        title = f"soft lockup: CPU {cpu} stuck for {secs} s in {comm}:{pid}{where}"
        out.append(_f("soft-lockup", "error", title,
                      "A CPU ran kernel code without scheduling past the watchdog threshold.", ev))
    for hl in ev_log.hard:
        c = cpus.get(hl.cpu) or TaskInfo()
        out.append(_f("hard-lockup", "error", f"hard lockup on CPU {hl.cpu}",
                      "A CPU ran with interrupts off past the NMI watchdog threshold.",
                      [hl.line, _where(c.stack, 4)]))
    for r in ev_log.rcu[:1]:
        out.append(_f("rcu-stall", "warning", f"RCU stall detected ({r.flavour})", "", [r.line]))
    return out


def check_oom(a: Analysis, ev_log: WatchdogEvents) -> list[Finding]:
    """Out of memory: the log's OOM lines, the memory figures, and who held the memory at the dump
    (processes by RSS with their ``oom_score_adj`` and memcg, slab caches, shmem, page tables).
    The culprit is the biggest process; a panic on OOM is an error, an OOM kill a warning."""
    invoked, killed = list(ev_log.oom_invoked), list(ev_log.oom_killed)
    # The engines' panic message (drgn reads it from memory) counts when the log's line is gone.
    panic = ev_log.oom_panic or ("Out of memory" if "Out of memory" in (a.panic_message or "") else None)
    if not (invoked or killed or panic):
        return []
    mem = a.memory
    kb = mem.get("kb") or {}
    ev = (invoked[:3] + killed[:3] + ([panic] if panic else []))
    if kb:
        ev.append(f"memory: total {kb.get('total')} KiB, free {kb.get('free')} KiB "
                  f"({mem.get('free_percent')}%), anon {kb.get('anon')} KiB, slab {kb.get('slab')} KiB, "
                  f"cached {kb.get('cached')} KiB, swap {kb.get('swap_total')} KiB")
    ms = memstate_of(a)
    ev += oom_evidence(ms, int(mem.get("page_kb") or 4))
    top = ms.top_tasks[0] if ms.top_tasks else None
    rss = a.top_rss[0] if a.top_rss else None
    if top is None and rss is not None:
        ev.append("biggest users: " + ", ".join(f"{t.comm}:{t.pid} {t.rss_kb} KiB" for t in a.top_rss[:5]))
    title = ("out of memory: the kernel panicked on OOM (panic_on_oom)" if panic
             else f"out of memory: the OOM killer ran {len(invoked)} time(s)")
    culprit = None
    if top is not None:
        share = f" of {int(kb['total']) // 1024} MiB" if kb.get("total") else ""
        title += (f"; biggest user {top.comm}:{top.pid} held {top.rss_kb // 1024} MiB{share} "
                  f"({top.anon_kb // 1024} MiB anonymous), oom_score_adj {top.oom_score_adj}")
        culprit = Culprit(comm=top.comm, pid=top.pid)
    elif rss is not None:
        title += f"; biggest user {rss.comm}:{rss.pid} ({rss.rss_kb // 1024} MiB)"
        culprit = Culprit(comm=rss.comm, pid=rss.pid)
    cmd = ("from drgn.helpers.linux.mm import task_rss; from drgn.helpers.linux.pid import for_each_task; "
           "print(sorted(((task_rss(prog, t).total, t.pid.value_(), t.comm.string_(), "
           "t.signal.oom_score_adj.value_()) for t in for_each_task(prog) if t.mm), reverse=True)[:5])")
    sev: Severity = "error" if panic else "warning"
    return [Finding("oom", sev, title, "", tuple(ev), command=cmd, culprit=culprit)]


def check_taint(a: Analysis) -> list[Finding]:
    """Taint flags that say foreign code ran: proprietary (P), out-of-tree (O), unsigned (E),
    forced load (F), staging (C).

    One rule for the severity: always ``warning``.  A taint says what ran, not what broke, and the
    unwound stack that used to raise it to ``error`` differs between dumps of one crash (with and
    without the module's debuginfo, a stack from the log or from the unwinder); the findings of
    the crash itself blame a module when it is at fault.  The culprit is the tainting module's
    function on the crashing stack, when there is one.
    """
    letters = (a.taint or "").replace(" ", "")
    bad = [c for c in letters if c in "POEFC"]
    if not bad:
        return []
    mods = [m for m in a.modules if m.taints]
    named = (f"{c} = {TAINT[c].short if c in TAINT else '?'}" for c in letters if c != "G")
    ev = [f"taint {letters}: " + "; ".join(named)]
    ev += [f"module {m.name} [{m.taints}]" for m in mods][:10]
    names = ", ".join(m.name for m in mods) or "unknown modules"
    kinds = " and ".join(TAINT[c].short for c in bad if c in TAINT)
    tainting = {m.name for m in mods}
    guilty = next((f for f in a.stack if f.module in tainting), None) or next(
        (f for f in a.stack if f.module not in (None, "kernel")), None)
    detail = ""
    culprit = None
    if guilty is not None:
        detail = f"The crashing stack runs through module {guilty.module} ({guilty.function})."
        culprit = Culprit(function=guilty.function)
    cmd = ("from drgn.helpers.linux.panic import tainted; from drgn.helpers.linux.module import "
           "for_each_module, module_taints; print(tainted(prog), [(m.name.string_(), module_taints(m)) "
           "for m in for_each_module(prog) if module_taints(m)])")
    return [Finding("tainted", "warning", f"kernel tainted: {kinds} ({names})", detail, tuple(ev),
                    command=cmd, culprit=culprit)]


def check_engines(a: Analysis) -> list[Finding]:
    out = []
    for name, e in a.engines.items():
        if e.failure:
            out.append(_f(f"engine-{name}", "info", f"{name}: {e.failure}", "", []))
        for w in e.warnings[-1:]:
            out.append(_f(f"engine-{name}-warning", "info", f"{name}: {w}", "", list(e.warnings[:3])))
    return out


def diagnose(a: Analysis, events: WatchdogEvents) -> Diagnosis:
    """The findings over the merged analysis ``a`` and the log's watchdog events, worst first."""
    findings = (check_partial(a) + check_waits(a, events, check_hung)
                + check_cpus(a, events, check_lockups(a, events))
                + check_oom(a, events) + check_report(a) + check_taint(a) + check_engines(a) + check_fault(a)
                + check_bad_page(a))
    return Diagnosis(tuple(sorted(findings, key=lambda f: SEVERITIES.index(f.severity))))


def run_checks(a: dict[str, Any]) -> list[dict[str, Any]]:
    """``diagnose`` over an analysis as stored (its ``log`` read by triage), as JSON."""
    events = watchdog_events(str(a.get("log") or ""))
    return [f.to_dict() for f in diagnose(Analysis.from_dict(a), events).findings]
