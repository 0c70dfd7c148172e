"""Automatic checks over an analysis: findings with a severity and the evidence behind them.

Pure: the merged analysis dict (drgn sections, crash outputs, log, dump facts) in, a
list of findings out.  Each finding is ``{"id", "severity", "title", "detail",
"evidence": [...]}``; severities are ``critical``, ``error``, ``warning``, ``info``.
"""

from __future__ import annotations

import re
from typing import Any

from crashhub.kernel import TAINT, kernel_version

HUNG = re.compile(r"INFO: task (\S+):(\d+) blocked for more than (\d+) seconds")
SOFT = re.compile(r"soft lockup - CPU#(\d+) stuck for (\d+)s! \[(.+?):(\d+)\]")
HARD = re.compile(r"(?:Watchdog detected hard LOCKUP on cpu|NMI watchdog: .*LOCKUP.* on cpu) (\d+)", re.I)
RCU = re.compile(r"rcu: INFO: (\S+) (?:self-)?detected stalls? on CPUs?")
OOM_INVOKED = re.compile(r"(\S+) invoked oom-killer: .*")
OOM_KILLED = re.compile(r"Out of memory: Killed process (\d+) \((.+?)\).*")
OOM_PANIC = re.compile(r"Kernel panic - not syncing: (?:System is deadlocked on memory|Out of memory.*)")
PARTIAL_FIX = ("dump lacks kernel memory: the capture's makedumpfile does not support this kernel; "
               "use -d 23 or update it")


def _f(fid: str, severity: str, title: str, detail: str = "", evidence: list[str] | None = None
       ) -> dict[str, Any]:
    return {"id": fid, "severity": severity, "title": title, "detail": detail, "evidence": evidence or []}


def _where(stack: list[dict[str, Any]], n: int = 3) -> str:
    out = []
    for fr in stack[:n]:
        s = str(fr.get("function") or "?")
        if fr.get("file") and fr.get("line"):
            s += f" ({fr['file']}:{fr['line']})"
        out.append(s)
    return " <- ".join(out)


def check_partial(a: dict[str, Any]) -> list[dict[str, Any]]:
    drgn = a.get("engines", {}).get("drgn") or {}
    facts = a.get("dump") or {}
    errors = [e for e in drgn.get("errors", []) if "xcluded page" in str(e.get("error"))]
    excluded = int(drgn.get("excluded_pages") or 0)
    panic = drgn.get("panic") or {}
    task_err = (panic.get("panic_task") or {}).get("error") or panic.get("stack_error")
    evidence = [f"{e['section']}: {e['error']}" for e in errors][:8]
    if task_err and "xcluded page" in task_err:
        evidence.insert(0, f"panic task: {task_err}")
    out = []
    if excluded or errors:
        level = facts.get("dump_level")
        rel = facts.get("release") or (drgn.get("sys") or {}).get("release")
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
    if facts.get("incomplete"):
        out.append(_f("dump-incomplete", "error", "the dump is incomplete (capture was cut short)",
                      "makedumpfile did not finish writing it; pages past the cut are missing",
                      [str(w) for w in facts.get("warnings", [])][:5]))
    return out


def check_hung(a: dict[str, Any], log: str) -> list[dict[str, Any]]:
    dstate = {d.get("pid"): d for d in a.get("dstate") or []}
    out = []
    seen = set()
    for m in HUNG.finditer(log):
        comm, pid, secs = m.group(1), int(m.group(2)), m.group(3)
        if pid in seen:
            continue
        seen.add(pid)
        d = dstate.get(pid)
        ev = [m.group(0)]
        if d is not None:
            what = d.get("waiting_on") or "?"
            title = f"hung task {comm}:{pid} blocked over {secs} s in D state, waiting in {what}"
            ev.append("stack: " + _where(d.get("stack", []), 5))
        else:
            title = f"hung task {comm}:{pid} blocked over {secs} s (its stack is not in the dump)"
        out.append(_f("hung-task", "error", title,
                      "The hung-task watchdog found a task in uninterruptible sleep past the timeout.", ev))
    others = [d for p, d in dstate.items() if p not in seen]
    if others and not seen:
        out.append(_f("d-state", "warning", f"{len(others)} task(s) in uninterruptible sleep (D state)",
                      "", [f"{d.get('comm')}:{d.get('pid')} in {d.get('waiting_on')}" for d in others][:10]))
    return out


def check_lockups(a: dict[str, Any], log: str) -> list[dict[str, Any]]:
    cpus = {c.get("cpu"): c for c in a.get("cpus") or []}
    out = []
    seen = set()
    for m in SOFT.finditer(log):
        cpu, secs, comm, pid = int(m.group(1)), m.group(2), m.group(3), m.group(4)
        if cpu in seen:
            continue
        seen.add(cpu)
        c = cpus.get(cpu) or {}
        stack = c.get("stack") or []
        ev = [m.group(0)]
        if stack:
            ev.append(f"CPU {cpu} at the dump: {c.get('comm')}:{c.get('pid')}: {_where(stack, 4)}")
        where = f", spinning in {_where(stack, 1)}" if stack else ""
        title = f"soft lockup: CPU {cpu} stuck for {secs} s in {comm}:{pid}{where}"
        out.append(_f("soft-lockup", "error", title,
                      "A CPU ran kernel code without scheduling past the watchdog threshold.", ev))
    for m in HARD.finditer(log):
        cpu = int(m.group(1))
        c = cpus.get(cpu) or {}
        out.append(_f("hard-lockup", "error", f"hard lockup on CPU {cpu}",
                      "A CPU ran with interrupts off past the NMI watchdog threshold.",
                      [m.group(0), _where(c.get("stack") or [], 4)]))
    for m in RCU.finditer(log):
        out.append(_f("rcu-stall", "warning", f"RCU stall detected ({m.group(1)})", "", [m.group(0)]))
        break
    return out


def check_oom(a: dict[str, Any], log: str) -> list[dict[str, Any]]:
    invoked = [m.group(0) for m in OOM_INVOKED.finditer(log)]
    killed = [m.group(0) for m in OOM_KILLED.finditer(log)]
    panic = OOM_PANIC.search(log) or re.search("Out of memory", str(a.get("panic_message") or ""))
    if not (invoked or killed or panic):
        return []
    mem = a.get("memory") or {}
    kb = mem.get("kb") or {}
    ev = (invoked[:3] + killed[:3] + ([panic.group(0)] if panic else []))
    if kb:
        ev.append(f"memory: total {kb.get('total')} KiB, free {kb.get('free')} KiB "
                  f"({mem.get('free_percent')}%), anon {kb.get('anon')} KiB, slab {kb.get('slab')} KiB, "
                  f"cached {kb.get('cached')} KiB, swap {kb.get('swap_total')} KiB")
    top = a.get("top_rss") or []
    if top:
        ev.append("biggest users: " + ", ".join(f"{t['comm']}:{t['pid']} {t['rss_kb']} KiB" for t in top[:5]))
    title = ("out of memory: the kernel panicked on OOM (panic_on_oom)" if panic
             else f"out of memory: the OOM killer ran {len(invoked)} time(s)")
    if top:
        title += f"; biggest user {top[0]['comm']}:{top[0]['pid']} ({top[0]['rss_kb'] // 1024} MiB)"
    return [_f("oom", "error" if panic else "warning", title, "", ev)]


def check_taint(a: dict[str, Any]) -> list[dict[str, Any]]:
    letters = str(a.get("taint") or "").replace(" ", "")
    bad = [c for c in letters if c in "POEFC"]
    if not bad:
        return []
    mods = [m for m in a.get("modules") or [] if m.get("taints")]
    named = (f"{c} = {TAINT[c].short if c in TAINT else '?'}" for c in letters if c != "G")
    ev = [f"taint {letters}: " + "; ".join(named)]
    ev += [f"module {m['name']} [{m['taints']}]" for m in mods][:10]
    names = ", ".join(m["name"] for m in mods) or "unknown modules"
    kinds = " and ".join(TAINT[c].short for c in bad if c in TAINT)
    guilty = next((f for f in a.get("stack") or [] if f.get("module") not in (None, "kernel")), None)
    detail = ""
    if guilty is not None:
        detail = f"The crashing stack runs through module {guilty['module']} ({guilty.get('function')})."
    sev = "warning" if guilty is None else "error"
    return [_f("tainted", sev, f"kernel tainted: {kinds} ({names})", detail, ev)]


def check_engines(a: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for name, e in (a.get("engines") or {}).items():
        if e and e.get("failure"):
            out.append(_f(f"engine-{name}", "info", f"{name}: {e['failure']}", "", []))
        for w in (e or {}).get("warnings", [])[-1:]:
            out.append(_f(f"engine-{name}-warning", "info", f"{name}: {w}", "", e.get("warnings", [])[:3]))
    return out


def run_checks(a: dict[str, Any]) -> list[dict[str, Any]]:
    log = str(a.get("log") or "")
    findings = (check_partial(a) + check_hung(a, log) + check_lockups(a, log) + check_oom(a, log)
                + check_taint(a) + check_engines(a))
    order = {"critical": 0, "error": 1, "warning": 2, "info": 3}
    return sorted(findings, key=lambda f: order.get(f["severity"], 9))
