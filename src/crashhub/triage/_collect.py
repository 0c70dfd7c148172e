"""A report's lines: the header lines of a log, and the lines each report collects from its header on.

Linear in the log: a ``str.find`` pass per scan anchor finds every header line; only the lines
of reports are split into prefixes (the log itself is never split); every line is visited by at
most one report, plus a bounded look-ahead for interleaved lines.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

from crashhub import _regex
from crashhub.triage._formats import STACK_START_RE, Format, Oops
from crashhub.triage._frames import CONTEXT_MARKERS, parse_frame
from crashhub.triage._lines import FAST_PREFIX, MAX_LINE, Line, strip
from crashhub.triage._oops import SCAN_ANCHORS, find_oops
from crashhub.triage._title import sanitize

MAX_REPORT_LINES = 1500  # a lockdep report with held locks of many tasks stays under this
JOIN_WINDOW = 40  # die() lines come within this many lines of the header that caused them
MAX_GAP_SECONDS = 10.0  # one report is printed in one go; a longer pause means it ended
NO_TRACE_LINES = 120  # a report with no stack section this far from its header is over
MAX_HITS = 200_000  # header lines looked at; a log of nothing but headers stays linear and bounded

_MODULE_TOKENS_RE = _regex.compile(
    r"^[\w\-]+(?:\([A-Z+\-]+\))?(?: [\w\-]+(?:\([A-Z+\-]+\))?)*\s*(?:\[.*\])?\s*$"
)
_END_RE = _regex.compile(r"---\[ end (?:trace|Kernel panic)")
PANIC = "Kernel panic - not syncing"
_DELIBERATE_PANIC_RE = _regex.compile(r"not syncing: (?:sysrq triggered crash|SysRq : Trigger a crash)")


@dataclass(slots=True)
class Span:
    """One report's lines as collect gathered them, from its header line on."""

    oops: Oops
    start: int
    end: int
    head: Line
    lines: list[Line] = field(default_factory=list)
    panic: str | None = None
    interleaved: int = 0  # unrelated lines skipped inside the stack trace
    quoted: bool = False  # the header sits behind a prefix ("monitor: WARNING: ...")
    body: bool = False  # (quoted only) a line of a report's body followed: a task line, registers...
    # The lines of a report raised while this one was being printed (``cascade.raised_inside``):
    # its stack is this report's stack too, read when this report's own lines end before theirs.
    borrowed: list[Line] = field(default_factory=list)


_CAPITAL_ANCHORS_RE = _regex.compile("|".join(re.escape(a) for a in SCAN_ANCHORS if a[:1].isupper()))
_OTHER_ANCHORS = tuple(a for a in SCAN_ANCHORS if not a[:1].isupper())


def line_index(text: str) -> tuple[list[tuple[int, int]], bool]:
    """(line number, offset) of every line holding a scan anchor, in order, one per line; and
    whether that is every such line (not cut at ``MAX_HITS``).

    The anchors that begin with a capital letter are found by one regexp scan: the engine tests
    each position against the set of their first letters in C, and capitals are rare in kernel logs,
    so one scan beats sixteen substring searches (the public corpus: 95 -> 64 ms).  The others
    begin with a lower-case letter, where that scan would stop at most positions: one ``str.find``
    pass each.  The number of hits is small in real logs; in a log flooded with one anchor (a
    storm of "NMI watchdog" lines) the scan stops at ``MAX_HITS``, and the anchors are searched one
    by one in the table's order instead, so every other anchor keeps a hit.
    """
    hits: list[int] = []
    for m in _CAPITAL_ANCHORS_RE.finditer(text):
        hits.append(m.start())
        if len(hits) > MAX_HITS:
            hits = []
            complete = _find_each(text, SCAN_ANCHORS, hits)
            break
    else:
        complete = _find_each(text, _OTHER_ANCHORS, hits)
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
    return out, complete


def _find_each(text: str, anchors: tuple[str, ...], hits: list[int]) -> bool:
    """Add every offset of each anchor in turn to ``hits``; False once there are over ``MAX_HITS``
    (each anchor after that still adds its first)."""
    complete = True
    for anchor in anchors:
        pos = text.find(anchor)
        while pos >= 0:
            hits.append(pos)
            if len(hits) > MAX_HITS:
                complete = False
                break
            pos = text.find(anchor, pos + 1)
    return complete


class Log:
    """Lines of a log by number without splitting it all: a cursor moved with ``str.find``.

    Reports touch a small part of a log; a 200 MB log split into millions of strings would cost
    more memory and time than everything else together.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.lines = text.count("\n") + 1
        self._j = 0  # the cursor: line self._j starts at offset self._pos
        self._pos = 0
        # The numbers of the lines holding a scan anchor (``line_index``), None when not known: a
        # line not among them holds no header, and collect asks that of every line of a report.
        self.anchored: set[int] | None = None

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

    def stripped(self, j: int, stop: int) -> Iterator[Line]:
        """``strip`` of lines ``j+1 .. stop-1``; the cursor must be at line ``j``.

        ``following`` and ``strip`` in one loop, for the lines of every report: a plain dmesg line
        (``[  12.345678][ T123] text``) is read by one match on the log itself, with no line cut
        out first; any other line goes through ``strip``.
        """
        text = self.text
        if self._j != j:
            self[j]
        pos = text.find("\n", self._pos) + 1
        j += 1
        dmesg = _DMESG_LINE.match
        while pos > 0 and j < stop:
            m = dmesg(text, pos)
            if m is not None and m.end() - pos <= MAX_LINE:
                ts, caller, rest = m.groups()
                if " kernel: " not in rest[:72]:  # else journalctl's short-monotonic: strip reads it
                    yield _new(Line, (j, rest, float(ts), caller, None, True, False))
                    pos = m.end() + 1
                    if pos > len(text):
                        return
                    j += 1
                    continue
            nl = text.find("\n", pos)
            if nl < 0:
                yield strip(j, text[pos:])
                return
            yield strip(j, text[pos:nl])
            pos = nl + 1
            j += 1

    def after(self, j: int, n: int) -> str:
        """The text of the ``n`` lines after line ``j`` (newlines kept between them), in one slice."""
        if self._j != j:
            self[j]
        text = self.text
        start = text.find("\n", self._pos) + 1
        if start == 0:
            return ""
        end = start
        for _ in range(n):
            end = text.find("\n", end) + 1
            if end == 0:
                return text[start:]
        return text[start : end - 1]

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


def collect(raw: Log, start: int, head: Line, oops: Oops, limit: int) -> Span:
    prefixed = bool(head.text[: head.text.find(oops.header)].strip())
    span = Span(oops, start, start, head, [head], quoted=prefixed)
    context = head.caller
    cpu_traceback = False
    last_ts = head.timestamp
    frames_seen = False
    in_trace = False
    stop = min(len(raw), start + MAX_REPORT_LINES, limit)
    anchor = _ANCHOR_RE.search  # bound once: the loop below runs for every line of every report
    # A line without an anchor in the raw log has none in its message (a part of the line) either.
    anchored = raw.anchored
    lines = span.lines
    for ln in raw.stripped(start, stop):
        j = ln.lineno
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
        prev = lines[-1]
        if (
            prev.text.startswith("Modules linked in:")
            and _MODULE_TOKENS_RE.match(text.strip())
            and (text.startswith(" ") or (head.stamped and not ln.stamped))
        ):
            # A long module list wraps (printk cut lines at 1 KiB before Linux 3.5; print_modules
            # breaks lines itself in some distribution kernels).
            lines[-1] = Line(
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
            lines.append(ln)
            span.end = j
            return span
        if span.quoted and not span.body and BODY_RE.search(text):
            span.body = True  # only a quoted header's report asks
        if (anchored is None or j in anchored) and anchor(text) is not None:  # may hold a header
            action = _other_header(span, text, j, in_trace)
            if action == "skip":
                continue
            if action == "end":
                break
        if not in_trace and j - start > NO_TRACE_LINES:
            break
        if (
            # may_start_stack, inline: every line of a report asks
            ("race" in text or "llocated" in text or "reed" in text or "acktrace" in text or "Uninit" in text)
            and STACK_START_RE.search(text)
        ):
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
        lines.append(ln)
        if text and not text.isspace():  # text.strip(), without making the stripped copy
            span.end = j
    while len(lines) > 1 and lines[-1].lineno > span.end:
        lines.pop()  # blank lines after the last line of the report are not part of it
    return span


def _other_header(span: Span, text: str, j: int, in_trace: bool) -> Literal["keep", "skip", "end"]:
    """What a line holding a header does to the report being collected: it is one of its lines
    ("keep"), another task's message printed in its middle ("skip"), or the start of the next
    report ("end").  A prefixed header whose report needs a stack (not "CPU 0: Machine Check
    Exception") and has said nothing yet ends at a panic or an interleaving report."""
    other = find_oops(text)
    if other is None:
        return "keep"
    if (
        span.quoted
        and not span.body
        and (other.interleaves or other.header == "Kernel panic")
        and _needs_stack(_format_of(span.oops, span.head.text))
    ):
        # A header behind someone's prefix that has said nothing of its own yet (a program quoting
        # a title, class 7): the report that follows is not its own, nor the panic after it.
        return "end"
    if other.interleaves:
        return "skip"
    if other.header == "Kernel panic":
        if _DELIBERATE_PANIC_RE.search(text):
            return "end"  # SysRq-c is a crash of its own, never the consequence of this report
        if span.panic is None:
            span.panic = panic_text(text)
        return "keep"
    near = j - span.start
    # A die() line ("Oops: 0000 [#1]") belongs to the header before it: within a few lines, or
    # however far while no stack has begun (other sources' lines, without caller ids to tell them
    # apart, may come between the header and its die line: KernelCI's linux_boot_005, 44 lines).
    if other.joins and (near <= JOIN_WINDOW or not in_trace):
        return "keep"
    if span.oops.prelude and near <= 10:
        return "keep"
    if other is span.oops and other.header == "INFO:" and "blocked for more than" not in text:
        # SLUB's "INFO: Allocated in ..." lines, a stall's second header line (syzkaller 57): this
        # report's own; an INFO: report with a stack of another kind (an RCU stall after a hung
        # task's header) is not.
        if not other.any_title(text, needs_stack=True):
            return "keep"
        if _format_of(other, text) is _format_of(other, span.head.text):
            return "keep"
    # A header that starts no report where it stands is part of this report's text: arm64's die()
    # line "Internal error: Oops - BUG: 00000000f2000800 [#1]" after "kernel BUG at ...!" names
    # "BUG:" in its middle, where no format of that header reads it.
    return "end" if _starts_report(other, text) else "keep"


def _needs_stack(fmt: Format | None) -> bool:
    return fmt is not None and fmt.stack is not None and not fmt.no_stack


def _format_of(oops: Oops, text: str) -> Format | None:
    return next((f for f in oops.formats if f.title_search(text)), None)


def _starts_report(oops: Oops, text: str) -> bool:
    return text.lstrip().startswith(oops.header) or oops.any_title(text)


# Lines of a report after its header: a task line, the hardware, a stack, registers.
BODY_RE = _regex.compile(r"CPU: \d|Pid: \d|Hardware name:|Call [Tt]race|Backtrace:|RIP: |EIP: |pc : |NIP ")
_CONTINUATION_RE = _regex.compile(
    r"^(?:Code:|RIP:|EIP:|RSP:|R[A-Z0-9]{1,2}:|E[A-Z]{2}:|CR2:|FS:|DS:|CS:|DR[0-7]:|PKRU:|Modules linked in|"
    r"Kernel Offset|"
    r"---\[|irq event stamp|hardirqs|softirqs|Allocated|Freed|Last potentially|Second to last|The buggy|"
    r"Memory state|Uninit was|Local variable|page:|flags:|raw:|page dumped|page_owner|Disabling lock|"
    r"Dumping ftrace|Showing all locks|\d+ locks? held by|INFO: lockdep|CPU: |Hardware name|Workqueue:|"
    r"Call Trace|Call trace|NMI backtrace|Sending NMI|Kernel panic|Rebooting|Bytes b4|Object |Redzone |"
    r"Padding |Tainted:|x\d+ *:|sp :|pc :|lr :|pstate:|==+|NIP|LR |MSR|GPR|CFAR|Instruction dump|"
    r"Krnl|Last Breaking|\(stack is not available\)|unreferenced object|comm |hex dump|backtrace|"
    r"Exception stack|Stack:|Backtrace|Function entered|Process |Pid: |Mem-Info|Node |DMA|Normal|"
    r"Free swap|Total swap|\d+ pages|Tasks state|\[ *pid *\]|\[ *\d+\]|oom-kill|Out of memory|"
    r"rcu: |\s*\(detected by|\s*\(t=|task:|Not tainted|"
    # arm's words under "Exception stack(0x814fbfb0 to 0x814fbff8)": "bfa0: 00000000 00000000 ...".
    r"[0-9a-f]{4}: +[0-9a-f]{8}(?: |$))"
)


# A user-space program's syslog tag ("name[pid]: ") before a header: the kernel never prints one there.
QUOTED_RE = _regex.compile(r"\s*[\w.\-/@]+\[\d+\]: ")
# strip's fast path (``_lines.FAST_PREFIX``) and the rest of the line, matched on the log itself.
_DMESG_LINE = _regex.compile(FAST_PREFIX + r"([^\n]*)")
_new = tuple.__new__
_ANCHOR_RE = _regex.compile("|".join(re.escape(a) for a in SCAN_ANCHORS))


def console_noise(raw: Log, head: Line) -> bool:
    """A header line without the printk timestamp both its neighbours have: a program writing to
    the same serial console (collect drops such lines inside a report for the same reason)."""
    j = head.lineno
    if head.stamped or j == 0 or j + 1 >= len(raw):
        return False
    return strip(j - 1, raw[j - 1]).stamped and strip(j + 1, raw[j + 1]).stamped


_EMBEDDED_STAMP_RE = _regex.compile(r"\[ *\d+\.\d+\]")
_UNSTAMPED_START_RE = _regex.compile(r"(?:^|\n)(?!\[ *\d+\.\d+\])[^\n]")
REJOIN_LINES = 4  # the rest of a header cut by another CPU's output comes this soon


def rejoin(raw: Log, head: Line, oops: Oops) -> Line:
    """The header line whole again when another CPU's output cut it.

    A console prints a record in pieces; another CPU's line can land in the middle, with its own
    timestamp, and the record's rest follows on a line of its own without one::

        [   21.140760] INFO: t[   21.140761] e1000e: eth0 NIC Link is Up      "INFO: t" + "ask sh:132 ..."
        ask sh:132 blocked for more than 10 seconds.
        [   21.140760] INFO: task                                           "INFO: task" + " sh:132 ..."
        [   21.140761] e1000e: eth0 NIC Link is Up
         sh:132 blocked for more than 10 seconds.

    When the header's piece (up to another line's timestamp) joined with the first unstamped line
    among the next few is read by a more specific format than the line as printed (by any format,
    where no format read the line), that is the header; the other line's part is dropped.
    """
    if not head.stamped:
        return head
    m = _EMBEDDED_STAMP_RE.search(head.text, max(0, head.text.find(oops.header)))
    rest = _unstamped_after(raw, head.lineno)
    if m is None and rest is None:
        return head  # the usual case: nothing was cut, or nothing to join
    rank = _rank(oops, head.text)
    if m is None and rank < len(oops.formats) and _whole(oops.formats[rank]):
        return head  # read by a format that takes no rest of the line: nothing was cut
    piece = head.text[: m.start()] if m else head.text
    if m is not None:  # cut for sure: the rest may read as well as the line did
        rank = min(rank, _rank(oops, piece)) + 1
    if rest is not None and _rank(oops, piece + rest) < rank:
        return head._replace(text=piece + rest)
    return head._replace(text=piece) if m else head


def _unstamped_after(raw: Log, j: int) -> str | None:
    """The first unstamped, non-blank line among the few after line ``j`` (a cut record's rest)."""
    if not _UNSTAMPED_START_RE.search(raw.after(j, REJOIN_LINES)):
        return None  # the common case, in one search: every line after it starts with a stamp
    for k, line in raw.following(j, min(len(raw), j + 1 + REJOIN_LINES)):
        ln = strip(k, line)
        if not ln.stamped and ln.text.strip():
            return ln.text
    return None


def _whole(fmt: Format) -> bool:
    """A format that reads a whole header: not a catch-all taking the line's rest, not "damaged"."""
    return not fmt.corrupted and not fmt.title.endswith(".*)")


def _rank(oops: Oops, text: str) -> int:
    """The index of the first format that reads ``text`` (the most specific), else len(formats)."""
    return next((i for i, f in enumerate(oops.formats) if f.title_search(text)), len(oops.formats))


def _frames_follow(raw: Log, j: int, stop: int, look: int = 4) -> bool:
    for k in range(j, min(stop, j + look)):
        t = strip(k, raw[k]).text
        if parse_frame(t) is not None or t.strip() in CONTEXT_MARKERS:
            return True
    return False


def _continues(text: str) -> bool:
    return bool(_CONTINUATION_RE.match(text))


def panic_text(text: str) -> str:
    i = text.find(PANIC)
    return sanitize(text[i:] if i >= 0 else text)

