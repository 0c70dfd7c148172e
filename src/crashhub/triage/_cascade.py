"""Reports of one log as one story: which report is the primary, and which panic a report caused.

A log often holds several reports of one event: a KASAN report and the GPF its bad access led to,
a hung-task report and the panic ``hung_task_panic`` raised for it, with every CPU's backtrace in
between.  ``primary`` picks the report that names the bug; ``cause`` folds a panic_on_* panic into
the report that raised it.
"""

from __future__ import annotations

from crashhub.model import CrashReport
from crashhub.triage._build import choose_format
from crashhub.triage._collect import BODY_RE, MAX_REPORT_LINES, Span, panic_text
from crashhub.triage._formats import ANY_REPORT, Format

CONSEQUENCE_WINDOW = 15  # "Kernel panic - not syncing: Fatal exception" after "---[ end trace"
# A panic_on_* panic finds its cause this far back: between a hung-task or soft-lockup report and
# its panic the kernel prints every CPU's backtrace (trigger_all_cpu_backtrace), hundreds of lines.
CAUSE_WINDOW = MAX_REPORT_LINES
CAUSE_SECONDS = 60.0  # ... and this soon: the panic is raised by the same check that reported
# A non-fatal report this soon before the oops is the first symptom of one cascade (KASAN, then
# the GPF its bad access led to: 7-60 ms apart in the public corpora).
CASCADE_SECONDS = 1.0
DELIBERATE = frozenset({"sysrq"})
# Reports that are no symptom of a bug of their own: the OOM report before panic_on_oom's panic is
# the same event (the panic names it better), an allocation failure is a victim, "other" unknown.
NOT_A_FIRST_SYMPTOM = frozenset({"oom", "alloc_failure", "other", "panic", "reboot"})
_ADJACENT_LINES = 3  # a report cut by another: the other's header follows (a blank line or two between)


def primary(reports: list[CrashReport]) -> int:
    """Index of the primary report: the first fatal one, or the report that began its cascade.

    The first splat is the one that matters: a sanitizer or lockdep report, a WARNING, printed
    moments before the oops that killed the task is its first symptom (KASAN, then the GPF the bad
    access led to).  Reports earlier than that are not pulled in: hours-old WARNINGs on a
    production console are other bugs.  A deliberate crash (SysRq-c) is the primary only of a log
    with no bug reported before it (``_reason``).  A false start (``said_nothing``) is never the
    primary while a report with a body is in the log.
    """
    told = [i for i, r in enumerate(reports) if not said_nothing(r)] or list(range(len(reports)))
    fatal = next((i for i in told if reports[i].fatal), None)
    if fatal is None:
        return told[0]
    if reports[fatal].kind in DELIBERATE:
        return _reason(reports, told, fatal)
    first = fatal
    while first > 0 and _precedes(reports[first - 1], reports[first]):
        first -= 1
    return first


def _reason(reports: list[CrashReport], told: list[int], fatal: int) -> int:
    """The primary of a log that ends in a deliberate crash: the first bug reported before it.

    Nobody crashes a server by hand for nothing: SysRq-c (or a BMC's crash button) follows a hang
    or a bug the console already reported, and that report names the bug (issue 16, class 10).  As
    a bucket, "sysrq triggered crash" would gather every hand-made dump of a fleet into one.  Only
    a log with no earlier report keeps the deliberate crash as its primary.
    """
    for i in told:
        if i >= fatal:
            break
        r = reports[i]
        if not r.fatal and r.kind not in NOT_A_FIRST_SYMPTOM and (r.frames or r.guilty is not None):
            return i
    return fatal


def said_nothing(report: CrashReport) -> bool:
    """A quoted header: behind someone's prefix, and no report after it (no frame, no faulting
    function, no task line).

    A program quoting a title through /dev/kmsg ("monitor: WARNING: CPU: 0 PID: 1 at ...") or a
    collector's banner: listed, since it may be a crash cut to its first line, but it hides no
    report that says where and who (issue 16, class 7).  A bare header cut to its first line is
    a crash as syzkaller counts it (its cases 114, 154), and stays one.
    """
    if report.frames or report.rip is not None or report.guilty is not None:
        return False
    first, _, rest = report.text.partition("\n")
    return not first.lstrip().startswith((report.message or "")[:16]) and not BODY_RE.search(rest)


def _precedes(earlier: CrashReport, later: CrashReport) -> bool:
    """Is ``earlier`` part of the same cascade as ``later``: printed just before it, and not a reboot?"""
    if earlier.kind in NOT_A_FIRST_SYMPTOM or later.kind == "reboot" or said_nothing(earlier):
        return False
    if earlier.timestamp is not None and later.timestamp is not None:
        return 0.0 <= later.timestamp - earlier.timestamp <= CASCADE_SECONDS
    return later.start_line - earlier.end_line <= CONSEQUENCE_WINDOW


def cause(span: Span, spans: list[Span], built: dict[int, CrashReport]) -> int | None:
    """The index of the report a panic_on_* panic was raised for, the panic folded into it; else None.

    Right after a report any consequence panic joins it (die()'s "Fatal exception"); further back,
    a panic whose format names the kinds that raise it joins the latest such report of this boot.
    """
    head = span.head.text
    fmt, _ = choose_format(span.oops, head[head.find("Kernel panic") :], "")
    if fmt is None or not fmt.consequence:
        return None
    prev, last = spans[-1], built.get(len(spans) - 1)
    if _seconds_apart(prev, span) > CAUSE_SECONDS:
        return None  # minutes later: the panic is about something this log does not show
    if (not fmt.caused_by or last is None or _raises(fmt, last)) and _fold(span, prev):
        return len(spans) - 1
    for i in range(len(spans) - 1, -1, -1):
        s, report = spans[i], built.get(i)
        if s.oops.header == "Booting the kernel." or span.start - s.end > CAUSE_WINDOW:
            return None  # a reboot, or too far: the panic is about something this log does not show
        if report is None or s.panic is not None or not _raises(fmt, report):
            continue
        if _seconds_apart(s, span) > CAUSE_SECONDS:
            return None
        s.panic = panic_text(head)
        return i
    return None


def _raises(fmt: Format, report: CrashReport) -> bool:
    if fmt.caused_by == ANY_REPORT:
        return not report.fatal
    return report.kind in fmt.caused_by


def _seconds_apart(a: Span, b: Span) -> float:
    ta, tb = a.head.timestamp, b.head.timestamp
    return tb - ta if ta is not None and tb is not None else 0.0


def _fold(span: Span, prev: Span) -> bool:
    head = span.head.text
    fmt, _ = choose_format(span.oops, head[head.find("Kernel panic") :], "")
    if fmt is None or not fmt.consequence or span.start - prev.end > CONSEQUENCE_WINDOW:
        return False
    prev.panic = prev.panic or panic_text(head)
    prev.lines.extend(span.lines)
    prev.end = span.end
    return True


def raised_inside(outer: Span, report: CrashReport, inner: Span) -> bool:
    """Was ``inner`` raised while ``outer`` was being printed?

    ``outer`` stops before its stack (no frame of its own) because ``inner`` starts right after it,
    in the same task or on the same CPU (the printk caller id says so), within a second: the kernel
    was still inside the code printing ``outer`` when it reported ``inner``, so ``inner``'s stack is
    ``outer``'s stack too (syzkaller 502: the RCU stall dump raised a WARNING; 657: lockdep hit a
    GPF while printing its report).  Without caller ids nothing says whose lines these are.
    """
    if report.frames or report.guilty is not None or outer.borrowed:
        return False
    if outer.head.caller is None or outer.head.caller != inner.head.caller:
        return False
    if inner.start - outer.end > _ADJACENT_LINES:
        return False
    return 0.0 <= _seconds_apart(outer, inner) <= CASCADE_SECONDS
