"""From a kernel log to crash reports: find oops headers, collect each report's lines, name it.

Linear in the log: a ``str.find`` pass per scan anchor finds every header line; only the lines
of reports are split into prefixes (the log itself is never split); every line is visited by at
most one report, plus a bounded look-ahead for interleaved lines.  Nothing raises on any input:
damaged logs give ``corrupted`` reports with a reason.
"""

from __future__ import annotations

from crashhub.model import CrashReport
from crashhub.triage._build import build
from crashhub.triage._cascade import cause, primary, raised_inside
from crashhub.triage._collect import QUOTED_RE, Log, Span, collect, console_noise, line_index, rejoin
from crashhub.triage._fields import banner
from crashhub.triage._lines import decode, strip
from crashhub.triage._oops import find_oops

MAX_REPORTS = 1000


def parse(data: bytes | str) -> list[CrashReport]:
    """Every crash report in a kernel log: the primary first (``cascade.primary``), the rest in log order."""
    text = decode(data)
    raw = Log(text)
    release: tuple[str, str] | None = None
    bpos = text.find("Linux version ")
    if bpos >= 0:
        line_end = text.find("\n", bpos)
        release = banner(text[bpos : line_end if line_end >= 0 else len(text)][:1024])
    spans: list[Span] = []
    built: dict[int, CrashReport] = {}  # span index -> its report, while no panic has joined it
    consumed = -1
    index, complete = line_index(text)
    if complete:
        raw.anchored = {idx for idx, _ in index}
    for idx, pos in index:
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
        if QUOTED_RE.fullmatch(head.text[: head.text.find(oops.header)]) or (
            not oops.unstamped and console_noise(raw, head)
        ):
            continue  # "prog[123]: BUG: ..." is a program's output quoting a title, not the kernel's
        head = rejoin(raw, head, oops)
        span = collect(raw, idx, head, oops, len(raw))
        caused = cause(span, spans, built) if spans and span.oops.header == "Kernel panic" else None
        if caused is not None:
            built.pop(caused, None)  # the panic joined the report that caused it: build it anew
            consumed = span.end
            continue
        report = build(span, len(raw), release)
        if report is None:
            # A false start (a program quoting a title, a collector's header): it hides nothing;
            # the scan goes on from the next line, where a real report may begin.
            continue
        last = len(spans) - 1
        if last in built and raised_inside(spans[last], built[last], span):
            spans[last].borrowed = span.lines  # the report cut short is named from this one's stack
            built[last] = build(spans[last], len(raw), release) or built[last]
        built[len(spans)] = report
        spans.append(span)
        consumed = span.end
        if len(spans) >= MAX_REPORTS:
            break
    maybe = [built.get(i) or build(s, len(raw), release) for i, s in enumerate(spans)]
    reports = [r for r in maybe if r is not None]
    if not reports:
        return []
    first = primary(reports)
    return [reports[first], *reports[:first], *reports[first + 1:]]

