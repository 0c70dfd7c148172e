"""One netconsole sender's stream: records in sequence order, gaps found, crashes cut out (pure).

The stream keeps the lines since its last cut (at most ``max_bytes``, oldest dropped first) and
the boot banner of the boot in progress.  Each new line passes a cheap test
(``triage.may_start_report``: the scan anchors ``triage.parse`` itself looks for); the first hit
makes a *candidate*.  A candidate is judged, by a full ``triage.parse`` of the kept text, when the
stream falls quiet for ``quiet`` seconds, when the next boot banner arrives, ``report_wait``
seconds after its first line, or when the window would have to drop it.  The stream itself only
hands out the text to judge (:class:`Cut`): the judging (:func:`judge`) may run off the receiving
thread, and :meth:`Stream.settle` drops the lines of a cut that held a fatal report, so a crash is
emitted once and the next crash of the same boot is cut from the lines after it.

Sequence numbers (extended netconsole only): a record past the one expected is held back (at most
``reorder`` records, ``hold`` seconds) for the missing one; when that runs out the missing numbers
are a gap.  A record already seen is a duplicate and dropped.  A new boot (sequence number 0, or a
clock that went back more than ``RESTART_SECONDS``) starts the numbering afresh.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Literal

from crashhub import triage
from crashhub.channels._netconsole import (
    MAX_DATAGRAM,
    Reassembly,
    Record,
    lines_of,
    parse_header,
    record,
)
from crashhub.errors import DatagramError
from crashhub.model import JsonObject
from crashhub.triage import BANNER, boot_banner, may_start_report

Ended = Literal["quiet", "banner", "wait", "full", "close"]
ENDED: tuple[Ended, ...] = ("quiet", "banner", "wait", "full", "close")
# Bytes a kept entry costs beyond its text: the str's header (49), the (seq, arrival, text) tuple (64),
# the float (24) and int (28) in it, the deque's slot (8).  bench/netconsole.py checks the window's
# count against tracemalloc.
LINE_COST = 176
MAX_LINE = 8192  # a plain stream's unfinished line is cut here (printk lines are ~1 KiB)
RESTART_SECONDS = 10.0  # a record this much older than the last one is a new boot's
MAX_GAPS = 256  # gap ranges remembered per stream (the count of missing records is exact)


@dataclass(frozen=True, slots=True)
class StreamLimits:
    max_bytes: int = 256 * 1024
    quiet: float = 10.0
    reorder: int = 64
    hold: float = 2.0
    report_wait: float = 60.0


@dataclass(frozen=True, slots=True)
class NetconsoleCrash:
    """A crash cut out of one sender's netconsole stream: its text and what the stream knows of it.

    Nothing here is more than "this text arrived from this address": the sender is unverified."""

    sender: str  # "ip:port"
    text: str  # the kernel log as dmesg prints it: the boot banner, then the lines up to the cut
    extended: bool
    first_seq: int | None  # extended only
    last_seq: int | None
    gaps: tuple[tuple[int, int], ...]  # missing sequence numbers inside the cut, inclusive ranges
    missing: int  # how many records those ranges miss
    release: str | None  # from the `r` prefix, sysdata or the boot banner
    first_time: float  # arrival (receiver's clock) of the first and last line kept
    last_time: float
    ended: Ended  # what ended the cut

    def to_dict(self) -> JsonObject:
        return {
            "sender": self.sender,
            "text": self.text,
            "extended": self.extended,
            "first_seq": self.first_seq,
            "last_seq": self.last_seq,
            "gaps": [list(g) for g in self.gaps],
            "missing": self.missing,
            "release": self.release,
            "first_time": self.first_time,
            "last_time": self.last_time,
            "ended": self.ended,
        }

    @classmethod
    def from_dict(cls, d: JsonObject) -> NetconsoleCrash:
        ended = str(d["ended"])
        if ended not in ENDED:
            raise ValueError(f"field 'ended': {ended!r} is not one of {', '.join(ENDED)}")

        def opt_int(v: object) -> int | None:
            return None if v is None else int(str(v))

        return cls(
            sender=str(d["sender"]),
            text=str(d["text"]),
            extended=bool(d["extended"]),
            first_seq=opt_int(d.get("first_seq")),
            last_seq=opt_int(d.get("last_seq")),
            gaps=tuple((int(a), int(b)) for a, b in d.get("gaps") or ()),
            missing=int(d.get("missing") or 0),
            release=None if d.get("release") is None else str(d["release"]),
            first_time=float(d["first_time"]),
            last_time=float(d["last_time"]),
            ended=ended,
        )

    def notes(self) -> list[str]:
        """What an ingest should note of the crash's text (``Arrival.notes``)."""
        out = [f"cut from the netconsole stream of {self.sender} ({self.ended}); the sender is unverified"]
        if self.missing:
            shown = ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in self.gaps[:8])
            more = "" if len(self.gaps) <= 8 else f" and {len(self.gaps) - 8} more ranges"
            # printk numbers every record, but a console gets only those at or above console_loglevel
            # (KERN_DEBUG is never sent at the default level): a gap is a loss or a filtered record.
            out.append(f"netconsole: {self.missing} messages missing from the stream (seq {shown}{more}):"
                       " lost on the way, or below the console loglevel")
        return out


@dataclass(frozen=True, slots=True)
class Cut:
    """Text a stream hands out to be judged: the crash it would be, and the last line it covers."""

    crash: NetconsoleCrash
    upto: int  # index (in the stream's count of kept entries) of the cut's last entry


def judge(cut: Cut) -> NetconsoleCrash | None:
    """The crash, when triage finds a fatal report in the cut's text; else None (a warning, a
    lockup report the kernel survived: the host lives on and its stream goes on)."""
    reports = triage.parse(cut.crash.text)
    if not any(r.fatal for r in reports):
        return None
    if cut.crash.release is None and reports[0].release:
        from dataclasses import replace  # noqa: PLC0415 - rare path

        return replace(cut.crash, release=reports[0].release)
    return cut.crash


@dataclass(slots=True)
class StreamStats:
    datagrams: int = 0
    lines: int = 0
    duplicates: int = 0
    refused: int = 0  # datagrams that broke the format (see ``DatagramError``), or were too long
    gaps: int = 0  # gap ranges found
    missing: int = 0  # records those gaps miss


class Stream:
    """The state of one sender (one ``ip:port``).  Not thread-safe: one owner calls it."""

    def __init__(self, sender: str, limits: StreamLimits | None = None) -> None:
        self.sender = sender
        self.limits = limits or StreamLimits()
        self.stats = StreamStats()
        self.extended: bool | None = None  # decided by the first datagram
        self.release: str | None = None
        self._reasm = Reassembly()
        self._partial = ""  # plain: the line not ended yet
        self._next: int | None = None  # extended: the sequence number expected next
        self._last_ts = 0
        self._held: dict[int, Record] = {}
        self._held_since = 0.0
        # Kept entries: (seq or -1, arrival, text of one record or one plain line).
        self._window: deque[tuple[int, float, str]] = deque()
        self._bytes = 0
        self._pushed = 0  # entries ever kept; the window holds the last len(_window) of them
        self._banner: str | None = None  # this boot's "Linux version" line
        self._candidate: int | None = None  # index of the entry that made the candidate
        self._candidate_at = 0.0
        self._last_arrival = 0.0
        self._gaps: deque[tuple[int, int]] = deque(maxlen=MAX_GAPS)

    # ------------------------------------------------------------------ input
    def feed(self, data: bytes, now: float) -> list[Cut]:
        """One datagram arrived at ``now``: the cuts it ends (usually none)."""
        out: list[Cut] = []
        self.stats.datagrams += 1
        self._last_arrival = now
        if len(data) > MAX_DATAGRAM + 64:
            self.stats.refused += 1
            return out
        try:
            # Tried on a plain sender's datagrams too (a '[' fails at once): a host switched to
            # extended netconsole (configfs) is read as such from its next datagram.
            parsed = parse_header(data)
        except DatagramError:
            self.stats.refused += 1
            return out
        if parsed is None:
            if self.extended:
                self.stats.refused += 1  # an extended sender's datagram that is not one
            else:
                self.extended = False
                self._plain(data, now, out)
            return out
        if self.extended is False and self._partial:
            self._line(self._partial, -1, now, out)
            self._partial = ""
        self.extended = True
        h, body = parsed
        if h.frag is not None:
            try:
                whole = self._reasm.add(h.seq, h.frag[0], h.frag[1], body)
            except DatagramError:
                self.stats.refused += 1
                return out
            if whole is None:
                return out
            body = whole
        self._order(record(h, body), now, out)
        return out

    def tick(self, now: float) -> list[Cut]:
        """Time passed: held records given up for, a quiet stream's or an old candidate's cut."""
        out: list[Cut] = []
        if self._held and now - self._held_since >= self.limits.hold:
            while self._held:
                self._skip(now, out)
        if self._candidate is not None:
            if now - self._last_arrival >= self.limits.quiet:
                self._take("quiet", out)
            elif now - self._candidate_at >= self.limits.report_wait:
                self._take("wait", out)
        return out

    def close(self, now: float) -> list[Cut]:
        """The receiver stops or forgets this sender: whatever is pending is handed out."""
        out: list[Cut] = []
        while self._held:
            self._skip(now, out)
        if self._partial:
            self._line(self._partial, -1, now, out)
            self._partial = ""
        self._take("close", out)
        return out

    @property
    def waiting(self) -> bool:
        """Whether :meth:`tick` has something to do (a candidate, or records held back)."""
        return self._candidate is not None or bool(self._held)

    @property
    def kept_bytes(self) -> int:
        return self._bytes + len(self._partial) + sum(len(r.text) + LINE_COST for r in self._held.values())

    def settle(self, cut: Cut, fatal: bool) -> None:
        """The judgement of ``cut``: a fatal one's lines are dropped (the crash is emitted once)."""
        if not fatal:
            return
        first = self._pushed - len(self._window)
        while self._window and first <= cut.upto:
            _, _, text = self._window.popleft()
            self._bytes -= len(text) + LINE_COST
            first += 1

    # ------------------------------------------------------------------ plain
    def _plain(self, data: bytes, now: float, out: list[Cut]) -> None:
        text = self._partial + data.decode("utf-8", "replace")
        lines = text.split("\n")
        self._partial = lines.pop()
        if len(self._partial) > MAX_LINE:
            lines.append(self._partial[:MAX_LINE])
            self._partial = ""
        for line in lines:
            self._line(line.replace("\r", "").replace("\x00", ""), -1, now, out)

    # ------------------------------------------------------------------ extended: order
    def _order(self, r: Record, now: float, out: list[Cut]) -> None:
        s = self._next
        if s is not None and r.seq != s and (r.seq == 0 or r.ts_us + RESTART_SECONDS * 1e6 < self._last_ts):
            self._new_boot(now, out)
            s = None
        if s is None or r.seq == s:
            self._accept(r, now, out)
            self._drain(now, out)
        elif r.seq > s:
            if r.seq in self._held:
                self.stats.duplicates += 1
                return
            if not self._held:
                self._held_since = now
            self._held[r.seq] = r
            if len(self._held) > self.limits.reorder:
                self._skip(now, out)
        else:
            self.stats.duplicates += 1

    def _accept(self, r: Record, now: float, out: list[Cut]) -> None:
        self._next = r.seq + 1
        self._last_ts = r.ts_us
        if r.release:
            self.release = r.release
        for k, v in r.fields:
            if k == "release" and v:
                self.release = v[:64]
        self._line(lines_of(r), r.seq, now, out)

    def _drain(self, now: float, out: list[Cut]) -> None:
        while self._next in self._held:
            self._accept(self._held.pop(self._next), now, out)
        if self._held:
            self._held_since = now

    def _skip(self, now: float, out: list[Cut]) -> None:
        """Give up on the records missing before the first one held: a gap."""
        assert self._next is not None
        first = min(self._held)
        self._gaps.append((self._next, first - 1))
        self.stats.gaps += 1
        self.stats.missing += first - self._next
        self._reasm.forget_below(first)
        self._next = first
        self._drain(now, out)

    def _new_boot(self, now: float, out: list[Cut]) -> None:
        while self._held:
            self._skip(now, out)
        self._take("banner", out)
        self._drop_all()
        self._reasm.clear()
        self._next = None

    # ------------------------------------------------------------------ lines and cuts
    def _line(self, text: str, seq: int, now: float, out: list[Cut]) -> None:
        self.stats.lines += text.count("\n") + 1
        if BANNER in text and (rel := boot_banner(text)) is not None:
            self._take("banner", out)
            self._drop_all()  # the lines before are the previous boot's
            self._banner = next(ln for ln in text.split("\n") if BANNER in ln)[:1024]
            self.release = rel
        self._window.append((seq, now, text))
        self._bytes += len(text) + LINE_COST
        self._pushed += 1
        if self._candidate is None and may_start_report(text):
            self._candidate = self._pushed - 1
            self._candidate_at = now
        while self._bytes > self.limits.max_bytes and len(self._window) > 1:
            if self._candidate == self._pushed - len(self._window):
                self._take("full", out)  # judge the report before its first line goes
            _, _, old = self._window.popleft()
            self._bytes -= len(old) + LINE_COST

    def _drop_all(self) -> None:
        self._window.clear()
        self._bytes = 0
        self._banner = None

    def _take(self, ended: Ended, out: list[Cut]) -> None:
        """Hand out the kept text for judging, if a candidate waits."""
        if self._candidate is None or not self._window:
            self._candidate = None
            return
        self._candidate = None
        lines = [t for _, _, t in self._window]
        if self._banner is not None and self._banner not in lines[0]:
            lines.insert(0, self._banner)
        seqs = [s for s, _, _ in self._window if s >= 0]
        first, last = (seqs[0], seqs[-1]) if seqs else (None, None)
        gaps: tuple[tuple[int, int], ...] = ()
        if first is not None and last is not None:
            gaps = tuple((max(a, first), min(b, last)) for a, b in self._gaps if b >= first and a <= last)
        crash = NetconsoleCrash(
            sender=self.sender,
            text="\n".join(lines) + "\n",
            extended=bool(self.extended),
            first_seq=first,
            last_seq=last,
            gaps=gaps,
            missing=sum(b - a + 1 for a, b in gaps),
            release=self.release,
            first_time=self._window[0][1],
            last_time=self._window[-1][1],
            ended=ended,
        )
        out.append(Cut(crash, self._pushed - 1))
