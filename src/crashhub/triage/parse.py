"""From a kernel log to crash reports: find oops headers, collect each report's lines, name it.

Linear in the log: a ``str.find`` pass per scan anchor finds every header line; only the lines
of reports are split into prefixes (the log itself is never split); every line is visited by at
most one report, plus a bounded look-ahead for interleaved lines.  Nothing raises on any input:
damaged logs give ``corrupted`` reports with a reason.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from crashhub.model import CrashReport, Frame
from crashhub.triage.extract import extract_frames, may_start_stack
from crashhub.triage.fields import banner, read_facts
from crashhub.triage.frames import CONTEXT_MARKERS, base_name, parse_frame, parse_rip, split_marker
from crashhub.triage.lines import Line, decode, strip
from crashhub.triage.oops import ANY_REPORT, SCAN_ANCHORS, STACK_START_RE, Format, Oops, find_oops
from crashhub.triage.title import normalize, sanitize

MAX_REPORT_LINES = 1500  # a lockdep report with held locks of many tasks stays under this
JOIN_WINDOW = 40  # die() lines come within this many lines of the header that caused them
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
MAX_GAP_SECONDS = 10.0  # one report is printed in one go; a longer pause means it ended
NO_TRACE_LINES = 120  # a report with no stack section this far from its header is over
MAX_REPORT_CHARS = 256 * 1024  # bound for the multi-line report regexps
MAX_REPORTS = 1000
MAX_HITS = 200_000  # header lines looked at; a log of nothing but headers stays linear and bounded

_MODULE_TOKENS_RE = re.compile(r"^[\w\-]+(?:\([A-Z+\-]+\))?(?: [\w\-]+(?:\([A-Z+\-]+\))?)*\s*(?:\[.*\])?\s*$")
_DIE_RE = re.compile(r"\[#\d+\]")
_END_RE = re.compile(r"---\[ end (?:trace|Kernel panic)")
_PANIC = "Kernel panic - not syncing"
_DELIBERATE_PANIC_RE = re.compile(r"not syncing: (?:sysrq triggered crash|SysRq : Trigger a crash)")
_QUESTIONABLE_RE = re.compile(r"^\s*(?:\[<?(?:0x)?[0-9a-f]+>?\]\s*)?\?\s")
_TIMESTAMP_IN_TITLE_RE = re.compile(r"\[ *[0-9]+\.[0-9]+\]")


@dataclass(slots=True)
class _Span:
    oops: Oops
    start: int
    end: int
    head: Line
    lines: list[Line] = field(default_factory=list)
    panic: str | None = None
    interleaved: int = 0  # unrelated lines skipped inside the stack trace


def _line_index(text: str) -> list[tuple[int, int]]:
    """(line number, offset) of every line holding a header, in order, one per line.

    One ``str.find`` pass per header literal: CPython's substring search is far faster than an
    alternation regexp over the whole log, and the number of hits is small in real logs.
    """
    hits: list[int] = []
    for header in SCAN_ANCHORS:
        pos = text.find(header)
        while pos >= 0:
            hits.append(pos)
            if len(hits) > MAX_HITS:
                break
            pos = text.find(header, pos + 1)
    hits.sort()
    out: list[tuple[int, int]] = []
    line_no = 0
    last = 0
    prev_line = -1
    for pos in hits:
        line_no += text.count("\n", last, pos)
        last = pos
        if line_no != prev_line:
            out.append((line_no, pos))
            prev_line = line_no
    return out


class _Log:
    """Lines of a log by number without splitting it all: a cursor moved with ``str.find``.

    Reports touch a small part of a log; a 200 MB log split into millions of strings would cost
    more memory and time than everything else together.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.lines = text.count("\n") + 1
        self._j = 0  # the cursor: line self._j starts at offset self._pos
        self._pos = 0

    def __len__(self) -> int:
        return self.lines

    def seek(self, j: int, pos: int) -> None:
        self._j, self._pos = j, pos

    def following(self, j: int, stop: int) -> Iterator[tuple[int, str]]:
        """Lines ``j+1 .. stop-1`` with their numbers; the cursor must be at line ``j``."""
        text = self.text
        if self._j != j:
            self[j]  # move the cursor there
        pos = text.find("\n", self._pos) + 1
        j += 1
        while pos > 0 and j < stop:
            nl = text.find("\n", pos)
            if nl < 0:
                yield j, text[pos:]
                return
            yield j, text[pos:nl]
            pos = nl + 1
            j += 1

    def __getitem__(self, j: int) -> str:
        text = self.text
        while self._j > j:
            self._pos = text.rfind("\n", 0, self._pos - 1) + 1
            self._j -= 1
        while self._j < j:
            nl = text.find("\n", self._pos)
            if nl < 0:
                raise IndexError(j)
            self._pos = nl + 1
            self._j += 1
        end = text.find("\n", self._pos)
        return text[self._pos : end if end >= 0 else len(text)]


def _collect(raw: _Log, start: int, head: Line, oops: Oops, limit: int) -> _Span:
    span = _Span(oops, start, start, head, [head])
    context = head.caller
    cpu_traceback = False
    last_ts = head.timestamp
    frames_seen = False
    in_trace = False
    stop = min(len(raw), start + MAX_REPORT_LINES, limit)
    for j, line in raw.following(start, stop):
        ln = strip(j, line)
        text = ln.text
        if ln.foreign:
            continue
        if (
            context is not None
            and ln.caller is not None
            and ln.caller != context
            and not (cpu_traceback and ln.caller.startswith("C"))
        ):
            continue
        prev = span.lines[-1]
        if (
            prev.text.startswith("Modules linked in:")
            and _MODULE_TOKENS_RE.match(text.strip())
            and (text.startswith(" ") or (head.stamped and not ln.stamped))
        ):
            # A long module list wraps (printk cut lines at 1 KiB before Linux 3.5; print_modules
            # breaks lines itself in some distribution kernels).
            span.lines[-1] = Line(
                prev.lineno,
                prev.text + " " + text.strip(),
                prev.timestamp,
                prev.caller,
                prev.level,
                prev.stamped,
            )
            continue
        if head.stamped and not ln.stamped and text:
            # Console noise between kernel lines (a program's own output on the same serial port).
            continue
        if ln.timestamp is not None and last_ts is not None and ln.timestamp - last_ts > MAX_GAP_SECONDS:
            break
        if ln.timestamp is not None:
            last_ts = ln.timestamp
        if "Sending NMI from CPU" in text:
            cpu_traceback = True
        if "---[ end " in text and _END_RE.search(text):
            span.lines.append(ln)
            span.end = j
            return span
        if _has_anchor(text):
            other = find_oops(text)
            if other is not None:
                if other.interleaves:
                    continue
                if other.header == "Kernel panic":
                    if _DELIBERATE_PANIC_RE.search(text):
                        break  # SysRq-c is a crash of its own, never the consequence of this report
                    if span.panic is None:
                        span.panic = _panic_text(text)
                elif (
                    not (other.joins and j - start <= JOIN_WINDOW)
                    and not (oops.prelude and j - start <= 10)
                    and not (other is oops and oops.header == "INFO:" and "blocked for more than" not in text)
                ):
                    break
        if not in_trace and j - start > NO_TRACE_LINES:
            break
        if may_start_stack(text) and STACK_START_RE.search(text):
            in_trace = True
        elif in_trace:
            is_frame = parse_frame(text) is not None or text.strip() in CONTEXT_MARKERS
            if is_frame:
                frames_seen = True
            elif frames_seen and text and not text[0].isspace() and not _continues(text):
                # An unrelated message after frames: the report is over, unless frames resume
                # right after it (another source's line interleaved into the trace).
                if not _frames_follow(raw, j + 1, stop):
                    break
                span.interleaved += 1
                continue
        span.lines.append(ln)
        if text.strip():
            span.end = j
    while len(span.lines) > 1 and span.lines[-1].lineno > span.end:
        span.lines.pop()  # blank lines after the last line of the report are not part of it
    return span


_CONTINUATION_RE = re.compile(
    r"^(?:Code:|RIP:|EIP:|RSP:|R[A-Z0-9]{1,2}:|E[A-Z]{2}:|CR2:|FS:|DS:|Modules linked in|Kernel Offset|"
    r"---\[|irq event stamp|hardirqs|softirqs|Allocated|Freed|Last potentially|Second to last|The buggy|"
    r"Memory state|Uninit was|Local variable|page:|flags:|raw:|page dumped|page_owner|Disabling lock|"
    r"Dumping ftrace|Showing all locks|\d+ locks? held by|INFO: lockdep|CPU: |Hardware name|Workqueue:|"
    r"Call Trace|Call trace|NMI backtrace|Sending NMI|Kernel panic|Rebooting|Bytes b4|Object |Redzone |"
    r"Padding |Tainted:|x\d+ *:|sp :|pc :|lr :|pstate:|==+|NIP|LR |MSR|GPR|CFAR|Instruction dump|"
    r"Krnl|Last Breaking|\(stack is not available\)|unreferenced object|comm |hex dump|backtrace|"
    r"Exception stack|Stack:|Backtrace|Function entered|Process |Pid: |Mem-Info|Node |DMA|Normal|"
    r"Free swap|Total swap|\d+ pages|Tasks state|\[ *pid *\]|\[ *\d+\]|oom-kill|Out of memory|"
    r"rcu: |\s*\(detected by|\s*\(t=|task:|Not tainted)"
)


# A user-space program's syslog tag ("name[pid]: ") before a header: the kernel never prints one there.
_QUOTED_RE = re.compile(r"\s*[\w.\-/@]+\[\d+\]: ")
_ANCHOR_RE = re.compile("|".join(re.escape(a) for a in SCAN_ANCHORS))


def _has_anchor(text: str) -> bool:
    """Whether a line may hold a header: a cheap test before the table's own."""
    return _ANCHOR_RE.search(text) is not None


def _frames_follow(raw: _Log, j: int, stop: int, look: int = 4) -> bool:
    for k in range(j, min(stop, j + look)):
        t = strip(k, raw[k]).text
        if parse_frame(t) is not None or t.strip() in CONTEXT_MARKERS:
            return True
    return False


def _continues(text: str) -> bool:
    return bool(_CONTINUATION_RE.match(text))


def _panic_text(text: str) -> str:
    i = text.find(_PANIC)
    return sanitize(text[i:] if i >= 0 else text)


def _choose_format(oops: Oops, head: str, report: str) -> tuple[Format | None, tuple[str, ...]]:
    for f in oops.formats:
        m = f.title_re.search(head)
        if m is None:
            # Some titles span lines (KASAN "on address ... Read of size").
            if "\\n" not in f.title:
                continue
            m = f.title_re.search(report)
            if m is None or report.find("\n", 0, m.start()) != -1:
                continue
        groups = tuple(g or "" for g in m.groups())
        if f.report_re is not None:
            rm = f.report_re.search(report)
            if rm is None:
                continue
            groups = tuple(g or "" for g in rm.groups())
        return f, groups
    return None, ()


def _title_lines(span: _Span) -> list[str]:
    """The lines syzkaller-style extraction reads: unreliable frames dropped, panic tail cut."""
    out: list[str] = []
    min_lines = 16 if "BUG: KMSAN:" in span.head.text else 22
    for i, ln in enumerate(span.lines):
        t = ln.text
        if i and _PANIC in t and len(out) > min_lines:
            break
        if _QUESTIONABLE_RE.match(t) or t.endswith(" (unreliable)"):
            continue
        if "Disabling lock debugging due to kernel taint" in t:
            continue
        out.append(t)
    return out


def _fill(template: str, groups: tuple[str, ...], frames: list[str]) -> str:
    out = template
    for k, g in enumerate(groups, 1):
        out = out.replace(f"{{{k}}}", g)
    out = out.replace("{frame}", frames[0] if frames else "corrupted")
    out = out.replace("{frame2}", frames[1] if len(frames) > 1 else "corrupted")
    return re.sub(r"\{\d+\}", "", out)


def _trace(lines: list[Line]) -> tuple[tuple[Frame, ...], bool]:
    """Frames of the first stack section (with their context), and whether it was cut off."""
    frames: list[Frame] = []
    context = "task"
    started = False
    misses = 0
    for ln in lines:
        t = ln.text
        s = t.strip()
        if not started:
            if STACK_START_RE.search(t) or s == "stack backtrace:":
                started = True
                continue
            f = parse_frame(t)
            if f is None or f.function is None:
                continue
            started = True
        if s in CONTEXT_MARKERS:
            context = CONTEXT_MARKERS[s]
            continue
        marker, rest = split_marker(t)
        if marker is not None:
            context, t = marker, rest
        if s.startswith("--- interrupt:"):
            context = "irq"
            continue
        f = parse_frame(t, context)
        if f is not None:
            frames.append(f)
            misses = 0
            if len(frames) >= 256:
                break
            continue
        if frames and (STACK_START_RE.search(t) or not s or s.startswith("Code:") or misses >= 12):
            return tuple(frames), False
        misses += 1
    # The report ended on a frame line: the log may have been cut inside the trace.
    return tuple(frames), bool(frames) and misses == 0


def _plausible(span: _Span, head_text: str) -> bool:
    """A header no format names is a crash only if it starts the message and a stack trace follows.

    syzkaller takes any such line; on production consoles and syslog, firmware and drivers print
    "WARNING: ..."/"INFO: ..." lines that are not kernel warnings.
    """
    if any(f.title_re.search(span.head.text) for f in span.oops.formats):
        return True  # a known header whose report is cut short: a damaged crash, still a crash
    if not span.head.text.lstrip().startswith(head_text[:8]):
        return False
    return any(parse_frame(ln.text) is not None for ln in span.lines[1:200])


def _build(span: _Span, total_lines: int, release: tuple[str, str] | None) -> CrashReport | None:
    head = span.head
    lines = _title_lines(span)
    report_text = "\n".join(lines)[:MAX_REPORT_CHARS]
    hpos = head.text.find(span.oops.header)
    head_text = head.text[hpos:] if hpos >= 0 else head.text
    fmt, groups = _choose_format(span.oops, head.text, report_text)
    corrupted: str | None = None
    names: list[str] = []
    if fmt is None and not _plausible(span, head_text):
        return None
    if fmt is None:
        # No format matched in full: the header line is the title, the kind that of the first
        # format whose title alone matches (its report regexp did not), else the header's.
        title = sanitize(head_text)
        loose = next((f for f in span.oops.formats if f.title_re.search(head.text)), None)
        kind = loose.kind if loose else _HEADER_KINDS.get(span.oops.header, "other")
        fatal = loose.fatal if loose else span.oops.header in ("Kernel panic", "Oops:", "kernel BUG")
    else:
        kind, fatal = fmt.kind, fmt.fatal
        if fmt.stack is not None:
            names, ok = extract_frames(lines, fmt.stack)
            if not ok and "{frame" in fmt.template:
                corrupted = "no guilty frame in the stack trace"
            names = [n for n in names if n != "corrupted"]
        title = _fill(fmt.template, groups, names)
        if fmt.corrupted:
            corrupted = corrupted or "the header alone says the report is damaged"
    title = normalize(title)
    if _TIMESTAMP_IN_TITLE_RE.search(head_text):
        corrupted = "interleaved: another line's timestamp inside the header line"
    frames, cut = _trace(span.lines)
    if corrupted is None and fmt is not None and not fmt.no_stack and not frames and fmt.stack is not None:
        corrupted = "no stack trace in the report"
    if corrupted is None and cut and span.end == total_lines - 1:
        corrupted = "truncated: the log ends inside the stack trace"
    if corrupted is None and span.interleaved and head.caller is None:
        # Without printk caller ids nothing tells whose lines these are: frames may be missing.
        corrupted = f"interleaved: {span.interleaved} line(s) of other output inside the stack trace"
    if span.panic is not None or any("[#" in ln.text and _DIE_RE.search(ln.text) for ln in span.lines[:80]):
        fatal = True  # a panic, or die() ("Oops: 0002 [#1]", "invalid opcode: 0000 [#1]") killed the task
    facts = read_facts([ln.text for ln in span.lines])
    rip = next((r for r in (parse_rip(ln.text) for ln in span.lines[:400]) if r is not None), None)
    guilty = _guilty(title_frame(title) or (names[0] if names else None), rip, frames)
    version = facts.version
    if release is not None and (facts.release is None or facts.release == release[0]):
        version = release[1] or version
    return CrashReport(
        kind=kind,
        title=title,
        message=sanitize(head_text),
        fatal=fatal,
        guilty=guilty,
        rip=rip,
        frames=frames,
        registers=facts.registers,
        process=facts.process,
        cpu=facts.cpu,
        taint=facts.taint,
        release=facts.release or (release[0] if release else None),
        version=version,
        hardware=facts.hardware,
        bios=facts.bios,
        arch=facts.arch,
        modules=facts.modules,
        start_line=span.start,
        end_line=span.end,
        corrupted=corrupted is not None,
        corrupted_reason=corrupted,
        text="\n".join(ln.text for ln in span.lines)[:MAX_REPORT_CHARS],
        panic_message=span.panic,
        timestamp=head.timestamp,
        caller=head.caller,
    )


_TITLE_FRAME_RE = re.compile(r".* in ((?:<[a-zA-Z0-9_: ]+>)?[a-zA-Z0-9_:]+)")
_HEADER_KINDS = {
    "WARNING:": "warning",
    "BUG:": "bug",
    "kernel BUG": "bug",
    "Kernel BUG": "bug",
    "Kernel panic": "panic",
    "UBSAN:": "ubsan",
}


def title_frame(title: str) -> str | None:
    """The function a title names: the token after its last " in " (syzkaller's Report.Frame)."""
    m = _TITLE_FRAME_RE.match(title)
    if m is None or m.group(1) == "corrupted":
        return None
    return m.group(1)


def _guilty(name: str | None, rip: Frame | None, frames: tuple[Frame, ...]) -> Frame | None:
    """The guilty frame as a Frame: its name from the title or stack walk, its module from the trace."""
    if not name or name == "corrupted":
        return None
    for f in ((rip,) if rip else ()) + frames:
        if f.function and (base_name(f.function) == name or base_name(f.function).endswith(name)):
            return Frame(name, f.offset, f.size, f.module, f.address, f.reliable, f.context, f.file, f.line)
    return Frame(name)


def parse(data: bytes | str) -> list[CrashReport]:
    """Every crash report in a kernel log: the primary first (see ``_primary``), the others in log order."""
    text = decode(data)
    raw = _Log(text)
    release: tuple[str, str] | None = None
    bpos = text.find("Linux version ")
    if bpos >= 0:
        line_end = text.find("\n", bpos)
        release = banner(text[bpos : line_end if line_end >= 0 else len(text)][:1024])
    spans: list[_Span] = []
    built: dict[int, CrashReport] = {}  # span index -> its report, while no panic has joined it
    consumed = -1
    for idx, pos in _line_index(text):
        if idx <= consumed or idx >= len(raw):
            continue
        raw.seek(idx, text.rfind("\n", 0, pos) + 1)
        head = strip(idx, raw[idx])
        oops = find_oops(head.text)
        if oops is None:
            continue
        if oops.header == "Booting the kernel." and not text[:pos].strip():
            continue  # a reboot is only news in the middle of a console log, not at its start
        if not oops.formats and oops.suppress:
            continue
        if _QUOTED_RE.fullmatch(head.text[: head.text.find(oops.header)]):
            continue  # "prog[123]: BUG: ..." is a program's output quoting a title, not the kernel's
        span = _collect(raw, idx, head, oops, len(raw))
        cause = _cause(span, spans, built) if spans and span.oops.header == "Kernel panic" else None
        if cause is not None:
            built.pop(cause, None)  # the panic joined the report that caused it: build it anew
            consumed = span.end
            continue
        report = _build(span, len(raw), release)
        if report is None:
            # A false start (a program quoting a title, a collector's header): it hides nothing;
            # the scan goes on from the next line, where a real report may begin.
            continue
        built[len(spans)] = report
        spans.append(span)
        consumed = span.end
        if len(spans) >= MAX_REPORTS:
            break
    maybe = [built.get(i) or _build(s, len(raw), release) for i, s in enumerate(spans)]
    reports = [r for r in maybe if r is not None]
    if not reports:
        return []
    first = _primary(reports)
    return [reports[first], *reports[:first], *reports[first + 1:]]


def _primary(reports: list[CrashReport]) -> int:
    """Index of the primary report: the first fatal one, or the report that began its cascade.

    The first splat is the one that matters: a sanitizer or lockdep report, a WARNING, printed
    moments before the oops that killed the task is its first symptom (KASAN, then the GPF the bad
    access led to).  Reports earlier than that are not pulled in: hours-old WARNINGs on a
    production console are other bugs.  A deliberate crash (SysRq-c) stays the primary.
    """
    fatal = next((i for i, r in enumerate(reports) if r.fatal), None)
    if fatal is None:
        return 0
    if reports[fatal].kind in DELIBERATE:
        return fatal
    first = fatal
    while first > 0 and _precedes(reports[first - 1], reports[first]):
        first -= 1
    return first


def _precedes(earlier: CrashReport, later: CrashReport) -> bool:
    """Is ``earlier`` part of the same cascade as ``later``: printed just before it, and not a reboot?"""
    if earlier.kind in NOT_A_FIRST_SYMPTOM or later.kind == "reboot":
        return False
    if earlier.timestamp is not None and later.timestamp is not None:
        return 0.0 <= later.timestamp - earlier.timestamp <= CASCADE_SECONDS
    return later.start_line - earlier.end_line <= CONSEQUENCE_WINDOW


def _cause(span: _Span, spans: list[_Span], built: dict[int, CrashReport]) -> int | None:
    """The index of the report a panic_on_* panic was raised for, the panic folded into it; else None.

    Right after a report any consequence panic joins it (die()'s "Fatal exception"); further back,
    a panic whose format names the kinds that raise it joins the latest such report of this boot.
    """
    head = span.head.text
    fmt, _ = _choose_format(span.oops, head[head.find("Kernel panic") :], "")
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
        s.panic = _panic_text(head)
        return i
    return None


def _raises(fmt: Format, report: CrashReport) -> bool:
    if fmt.caused_by == ANY_REPORT:
        return not report.fatal
    return report.kind in fmt.caused_by


def _seconds_apart(a: _Span, b: _Span) -> float:
    ta, tb = a.head.timestamp, b.head.timestamp
    return tb - ta if ta is not None and tb is not None else 0.0


def _fold(span: _Span, prev: _Span) -> bool:
    head = span.head.text
    fmt, _ = _choose_format(span.oops, head[head.find("Kernel panic") :], "")
    if fmt is None or not fmt.consequence or span.start - prev.end > CONSEQUENCE_WINDOW:
        return False
    prev.panic = prev.panic or _panic_text(head)
    prev.lines.extend(span.lines)
    prev.end = span.end
    return True
