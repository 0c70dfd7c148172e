"""A report from its lines: the format that names it, its title, guilty frame, stack and facts.

The oops table (``oops.py``) says how each kind of report is named; this module applies it to the
lines ``collect`` gathered.  Nothing raises: a damaged report comes back ``corrupted`` with a reason.
"""

from __future__ import annotations

from collections.abc import Iterator

from crashhub import _regex
from crashhub.kernel import base_name
from crashhub.model import CrashReport, Frame
from crashhub.triage._collect import PANIC, Span
from crashhub.triage._extract import extract_frames, may_start_stack
from crashhub.triage._fields import read_facts
from crashhub.triage._formats import STACK_START_RE, Format, Oops
from crashhub.triage._frames import CONTEXT_MARKERS, parse_frame, parse_rip, split_marker
from crashhub.triage._lines import Line
from crashhub.triage._title import normalize, sanitize

MAX_REPORT_CHARS = 256 * 1024  # bound for the multi-line report regexps

_DIE_RE = _regex.compile(r"\[#\d+\]")
_QUESTIONABLE_RE = _regex.compile(r"^\s*(?:\[<?(?:0x)?[0-9a-f]+>?\]\s*)?\?\s")
_TIMESTAMP_IN_TITLE_RE = _regex.compile(r"\[ *[0-9]+\.[0-9]+\]")


def choose_format(oops: Oops, head: str, report: str) -> tuple[Format | None, tuple[str, ...]]:
    for f in oops.formats:
        m = f.title_search(head)
        if m is None:
            # Some titles span lines (KASAN "on address ... Read of size").
            if "\\n" not in f.title:
                continue
            m = f.title_search(report)
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


def _title_lines(span: Span) -> list[str]:
    """The lines syzkaller-style extraction reads: unreliable frames dropped, panic tail cut."""
    out: list[str] = []
    min_lines = 16 if "BUG: KMSAN:" in span.head.text else 22
    for i, ln in enumerate(span.lines):
        t = ln.text
        if i and PANIC in t and len(out) > min_lines:
            break
        if ("?" in t and _QUESTIONABLE_RE.match(t)) or t.endswith(" (unreliable)"):
            continue
        if "Disabling lock debugging due to kernel taint" in t:
            continue
        out.append(t)
    return out

_UNFILLED_RE = _regex.compile(r"\{\d+\}")  # a template's group the title regexp did not set


def _fill(template: str, groups: tuple[str, ...], frames: list[str]) -> str:
    out = template
    for k, g in enumerate(groups, 1):
        out = out.replace(f"{{{k}}}", g)
    out = out.replace("{in_frame}", f" in {frames[0]}" if frames else "")  # a frame the report may lack
    out = out.replace("{frame}", frames[0] if frames else "corrupted")
    out = out.replace("{frame2}", frames[1] if len(frames) > 1 else "corrupted")
    return _UNFILLED_RE.sub("", out)


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
            if (may_start_stack(t) and STACK_START_RE.search(t)) or s == "stack backtrace:":
                started = True
                continue
            f = parse_frame(t)
            if f is None or f.function is None:
                continue
            started = True
        if s in CONTEXT_MARKERS:
            context = CONTEXT_MARKERS[s]
            continue
        if "<" in t:  # a marker's "<" (split_marker's own test, without a call for every frame line)
            marker, rest = split_marker(t)
            if marker is not None:
                context, t = marker, rest
        if s.startswith("--- interrupt:"):
            context = "irq"
            continue
        # The one-argument call in task context: collect cached the same line under that key.
        f = parse_frame(t) if context == "task" else parse_frame(t, context)
        if f is not None:
            frames.append(f)
            misses = 0
            if len(frames) >= 256:
                break
            continue
        if frames and ((may_start_stack(t) and STACK_START_RE.search(t)) or not s or s.startswith("Code:")
                       or misses >= 12):
            return tuple(frames), False
        misses += 1
    # The report ended on a frame line: the log may have been cut inside the trace.
    return tuple(frames), bool(frames) and misses == 0


def _first_rip(lines: list[Line]) -> Frame | None:
    """The first RIP/IP/pc line's frame among a report's first 400 lines."""
    for ln in lines[:400]:
        if "+0x" in ln.text:  # parse_rip's own first test, without a call for every line
            rip = parse_rip(ln.text)
            if rip is not None:
                return rip
    return None


def _plausible(span: Span, head_text: str) -> bool:
    """A header no format names is a crash only if it starts the message and a stack trace follows.

    syzkaller takes any such line; on production consoles and syslog, firmware and drivers print
    "WARNING: ..."/"INFO: ..." lines that are not kernel warnings.
    """
    if span.oops.any_title(span.head.text):
        return True  # a known header whose report is cut short: a damaged crash, still a crash
    if not span.head.text.lstrip().startswith(head_text[:8]):
        return False
    return any(parse_frame(ln.text) is not None for ln in span.lines[1:200])


def build(span: Span, total_lines: int, release: tuple[str, str] | None) -> CrashReport | None:
    head = span.head
    lines = _title_lines(span)
    report_text = "\n".join(lines)[:MAX_REPORT_CHARS]
    lines += [ln.text for ln in span.borrowed]
    hpos = head.text.find(span.oops.header)
    head_text = head.text[hpos:] if hpos >= 0 else head.text
    fmt, groups = choose_format(span.oops, head.text, report_text)
    corrupted: str | None = None
    names: list[str] = []
    if fmt is None and not _plausible(span, head_text):
        return None
    if fmt is None:
        # No format matched in full: the header line is the title, the kind that of the first
        # format whose title alone matches (its report regexp did not), else the header's.
        title = sanitize(head_text)
        loose = next((f for f in span.oops.formats if f.title_search(head.text)), None)
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
    needs_stack = fmt is not None and fmt.stack is not None and not fmt.no_stack
    if corrupted is None and needs_stack and not (frames or span.borrowed):
        corrupted = "no stack trace in the report"
    if corrupted is None and cut and span.end == total_lines - 1:
        corrupted = "truncated: the log ends inside the stack trace"
    if corrupted is None and span.interleaved and head.caller is None:
        # Without printk caller ids nothing tells whose lines these are: frames may be missing.
        corrupted = f"interleaved: {span.interleaved} line(s) of other output inside the stack trace"
    if span.panic is not None or any("[#" in ln.text and _DIE_RE.search(ln.text) for ln in span.lines[:80]):
        fatal = True  # a panic, or die() ("Oops: 0002 [#1]", "invalid opcode: 0000 [#1]") killed the task
    facts = read_facts([ln.text for ln in span.lines])
    rip = _first_rip(span.lines)
    guilty = _guilty(title_frame(title) or (names[0] if names else None), rip, frames, span.lines)
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
        code=facts.code,
        fault_address=facts.fault_address,
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


_TITLE_FRAME_RE = _regex.compile(r".* in ((?:<[a-zA-Z0-9_: ]+>)?[a-zA-Z0-9_:]+)")
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


def _guilty(
    name: str | None, rip: Frame | None, frames: tuple[Frame, ...], lines: list[Line]
) -> Frame | None:
    """The guilty frame as a Frame: its name from the title or stack walk, its module from the trace
    (or from the RIP line of another CPU's dump that names it)."""
    if not name or name == "corrupted":
        return None
    for f in ((rip,) if rip else ()) + frames:
        if f.function and (base_name(f.function) == name or base_name(f.function).endswith(name)):
            return Frame(name, f.offset, f.size, f.module, f.address, f.reliable, f.context, f.file, f.line)
    for f in _rip_lines(lines):
        if f.function == name:
            return Frame(name, f.offset, f.size, f.module, f.address, f.reliable, f.context, f.file, f.line)
    return Frame(name)


def _rip_lines(lines: list[Line]) -> Iterator[Frame]:
    """Every RIP line's frame: a guilty frame named from another section (another CPU's dump)."""
    for ln in lines:
        if "IP: " in ln.text or "pc : " in ln.text or "IP is at" in ln.text:
            f = parse_rip(ln.text)
            if f is not None:
                yield f

