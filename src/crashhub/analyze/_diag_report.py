"""Findings a crash's own report makes once the dump stands behind it: an assertion that fired
(``BUG()``/``BUG_ON()``, a ``WARN()`` made fatal by ``panic_on_warn``), a kernel stack overflow
(the guard page hit, and the recursion that ran into it) and a crash made on purpose (SysRq-c).

Pure.  Without them the diagnosis of a ``BUG_ON()`` led with the module's taint and a SysRq-c
with the panic task's preempt count: less than the log's own first line says.  Each finding names
the function and source line the assertion sits in, the task and CPU that ran it, and for an
assertion the trapping instruction read from the dump (x86 ``ud2``, which ``BUG()`` compiles to).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from crashhub.analyze import _insn
from crashhub.analyze._diag_fault import FaultProbe, parse_fault
from crashhub.analyze._model import Analysis, Culprit, Finding, StackFrame
from crashhub.kernel import base_name
from crashhub.model import CrashReport
from crashhub.triage import assertion_site

_UD2 = bytes((0x0F, 0x0B))


def check_report(a: Analysis, reports: Sequence[CrashReport] | None = None) -> list[Finding]:
    """The ``assertion`` finding for a BUG()/fatal WARN() and the ``deliberate-crash`` finding for a
    SysRq-c, from triage's ``reports`` of the dump's log (read from ``a.log`` when not given) and
    the drgn ``fault`` section."""
    if reports is None:
        from crashhub.triage import parse  # noqa: PLC0415

        reports = parse((a.log or "").encode())
    drgn = a.engines.get("drgn")
    probe = parse_fault(drgn.section("fault")) if drgn else None
    out: list[Finding] = []
    if reports and _asserts(reports[0], reports):
        out.append(assertion(a, reports[0], probe))
    if reports and reports[0].kind == "stack_overflow":
        out.append(stack_overflow(a, reports[0], probe))
    sysrq = next((r for r in reports if r.kind == "sysrq"), None)
    if sysrq is not None:
        earlier = [r for r in reports if r is not sysrq and r.start_line < sysrq.start_line]
        out.append(deliberate(a, sysrq, earlier, probe))
    return out


def _asserts(r: CrashReport, reports: Sequence[CrashReport]) -> bool:
    if r.kind == "bug":
        return True
    # A WARN() stops the machine only through panic_on_warn: its panic joins the report, or
    # follows it as the consequence report triage keeps after it.
    fatal_warn = any("panic_on_warn" in (x.panic_message or x.message or "") for x in reports)
    return r.kind == "warning" and fatal_warn


def _site(r: CrashReport, stack: Sequence[StackFrame]) -> tuple[str | None, str | None]:
    """The function the assertion sits in (the RIP's: for a WARN() in core code such as ida_free(),
    not the guilty caller) and its ``file:line`` (the log's, else the dump's DWARF)."""
    fn = r.rip.function if r.rip and r.rip.function else r.guilty.function if r.guilty else None
    where = assertion_site(r.message or r.text.split("\n", 1)[0])
    if where is None and stack and stack[0].file and stack[0].line:
        where = f"{stack[0].file}:{stack[0].line}"
    return fn, where


def _culprit(fn: str | None, r: CrashReport, probe: FaultProbe | None, a: Analysis) -> Culprit:
    """The task and CPU: the dump's (the fault probe), else the report's, else the panic task's."""
    pt, proc = a.panic_task, r.process
    cpus = (probe.cpu if probe else None, r.cpu, pt.cpu if pt else None)
    pids = (probe.pid if probe else None, proc.pid if proc else None, pt.pid if pt else None)
    comms = (probe.comm if probe else None, proc.comm if proc else None, pt.comm if pt else None)
    return Culprit(function=fn, cpu=next((c for c in cpus if c is not None), None),
                   pid=next((p for p in pids if p), None), comm=next((c for c in comms if c), None))


def _source_line(a: Analysis, where: str | None) -> str | None:
    """The stored source line at ``where`` ("file:line"), when the analysis carries sources
    (``_sources.annotate``'s snippets: ``{"file", "line", "text", "lines": [{"n", "text"}]}``)."""
    if not where:
        return None
    file, _, line = where.rpartition(":")
    base = file.rsplit("/", 1)[-1]
    for s in a.sources:
        if not isinstance(s, dict) or str(s.get("file", "")).rsplit("/", 1)[-1] != base:
            continue
        for ln in s.get("lines") or ():
            if isinstance(ln, dict) and str(ln.get("n")) == line:
                return str(ln.get("text", "")).strip() or None
    return None


def assertion(a: Analysis, r: CrashReport, probe: FaultProbe | None) -> Finding:
    site, where = _site(r, a.stack)
    fn = r.guilty.function if r.guilty and r.guilty.function else site
    what = "BUG()/BUG_ON()" if r.kind == "bug" else "WARN() with panic_on_warn set"
    mod = f" [{r.guilty.module}]" if r.guilty and r.guilty.module else ""
    who = _culprit(fn, r, probe, a)
    site_mod = r.rip.module if r.rip and r.rip.function == site else r.guilty.module if r.guilty else None
    claim = f"assertion failed: {what} in {site or '?'}()" + (f" [{site_mod}]" if site_mod else "")
    claim += (f" at {where}" if where else "") + (f", called from {fn}(){mod}" if fn != site else "")
    if who.comm and who.cpu is not None:
        claim += f", run by {who.comm}:{who.pid} on CPU {who.cpu}"
    ev = [f"log: {r.message or r.title}"]
    src = _source_line(a, where)
    if src:
        ev.append(f"source {where}: {src}")
    # The instruction only when the dump's crashed pc is in the asserting function (a BUG()'s trap
    # frame); panic_on_warn's panic runs on from the WARN(), so its pc is in the kexec path.
    if probe is not None and probe.code and probe.pc is not None and site in (probe.function, probe.symbol):
        insn = _insn.decode(probe.code, probe.pc)
        if probe.code[:2] == _UD2:
            ev.append(f"the dump's instruction at pc {probe.pc:#x}: ud2 (the trap BUG()/WARN() compile to)")
        elif insn is not None:
            ev.append(f"the dump's instruction at pc {probe.pc:#x}: {insn.text()}")
    detail = ("The code checked a condition it relies on and found it false; the cause is whatever "
              "made it false before this call (look at the caller's state, not at the assertion).")
    cmd = "t = prog.crashed_thread().stack_trace(); print(t[0]); print(t)"
    return Finding("assertion", "critical", claim, detail, tuple(ev), command=cmd, culprit=who)


def deliberate(a: Analysis, r: CrashReport, earlier: Sequence[CrashReport],
               probe: FaultProbe | None) -> Finding:
    """SysRq-c: the machine was crashed on purpose; who asked, and the report before it if any."""
    who = _culprit("sysrq_handle_crash", r, probe, a)
    # Through /proc/sysrq-trigger (a person or a script); otherwise a console's or keyboard's SysRq.
    names = [f.function for f in a.stack] + [f.function for f in r.frames]
    by_write = "write_sysrq_trigger" in names
    how = "echo c > /proc/sysrq-trigger" if by_write else "SysRq-c"
    by = f" by {who.comm}:{who.pid}" if who.comm else ""
    cpu = who.cpu if who.cpu is not None else "?"
    claim = f"deliberate crash: {how}{by} on CPU {cpu} (not a kernel fault)"
    ev = [f"log: {r.message or r.title}"]
    detail = ""
    if earlier:
        first = earlier[0]
        claim += f"; before it: {first.title}"
        ev.append(f"log line {first.start_line + 1}: {first.title}")
        detail = ("Someone crashed the machine by hand after the report above: that report is the "
                  "problem they wanted captured.")
    cmd = "print(prog.crashed_thread().stack_trace())"
    return Finding("deliberate-crash", "warning", claim, detail, tuple(ev), command=cmd, culprit=who)


def stack_overflow(a: Analysis, r: CrashReport, probe: FaultProbe | None) -> Finding:
    """The stack ran into its guard page (vmap stacks, x86 since 4.9): name the recursion, the
    function whose frames fill the trace, when there is one; else the deepest function."""
    names = [base_name(f.function) for f in r.frames if f.function and f.reliable]
    top, count = Counter(names).most_common(1)[0] if names else (None, 0)
    recursing = top is not None and count >= 4 and count * 2 >= len(names)
    fn = top if recursing else (r.guilty.function if r.guilty else None)
    mod = next((f.module for f in r.frames if f.function and base_name(f.function) == fn and f.module), None)
    who = _culprit(fn, r, probe, a)
    claim = f"kernel stack overflow: {fn or '?'}()" + (f" [{mod}]" if mod else "")
    claim += (f" called itself until the task's stack ran into its guard page ({count} of the "
              f"trace's {len(names)} frames are {fn})" if recursing
              else " ran the call chain past the end of the task's stack")
    if who.comm and who.cpu is not None:
        claim += f", run by {who.comm}:{who.pid} on CPU {who.cpu}"
    ev = [f"log: {r.message or r.title}"]
    rsp, cr2 = r.registers.get("RSP"), r.registers.get("CR2")
    if rsp is not None and cr2 is not None and 0 <= rsp - cr2 < 4096:
        ev.append(f"the fault address CR2 {cr2:#x} is {rsp - cr2} bytes below RSP {rsp:#x}: a push or call "
                  "into the guard page under the stack")
    detail = ("Unbounded recursion (or a very deep call chain with large frames) used up the kernel "
              "stack (16 KiB on x86_64); look for the missing termination or depth limit.")
    cmd = "t = prog.crashed_thread().stack_trace(); print(len(t)); print(t)"
    return Finding("stack-overflow", "critical", claim, detail, tuple(ev), command=cmd, culprit=who)
