"""Which stored crash a channel's log belongs to: one crash seen through kdump, netconsole and pstore.

A crash's text comes by up to three ways, in any order: a netconsole stream cut by the hub as the
oops is printed, a pstore record the agent reads on the next boot (a ``Panic#1 Part1`` header and
the tail of the ring buffer, lines with ``<N>`` level prefixes), and kdump's vmcore-dmesg or dump.
An arrival joins a stored crash only when

- both are the same host (``same_host``; a placeholder host joins nothing: a channel log never
  attaches to another host's crash),
- their crash times, where both are known, are within a bound (the channels' own times are of the
  same instant; a kdump directory's name may be local time, as ingest/_matching.py explains), and
- the texts show it is the same crash: the same report identity, or printk-stamped report lines in
  common.  A stamp is a boot's microseconds: the same line at the same stamp is the same printk.  The
  identity alone is not enough across the channels (a pstore or netconsole text holds the panic lines
  printed after kexec was tried, vmcore-dmesg does not, so triage's report ends elsewhere), and the
  common lines alone would not tell a crash loop's two crashes apart without the time bound.  A log
  without printk stamps (printk.time=0) has only its signature and time to go by.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from crashhub.errors import StoreError
from crashhub.ingest._matching import DIR_TIME_SKEW, names_a_host, same_host
from crashhub.ingest._reports import LOG_ROLES, normalise_line, report_from_dict
from crashhub.model import CrashReport

TYPE_CHECKING = False
if TYPE_CHECKING:
    from crashhub.store import BlobStore, Crashes, CrashRecord

# A netconsole line is sent as it is printed, a pstore record is written by the panicking kernel and
# kdump's CRASHTIME is read in crash_kexec: one crash's times are seconds apart.  Ten minutes covers
# a host clock read twice; a crash loop's next crash needs a reboot, a boot and a new oops.
CHANNEL_TIME_SKEW = 600.0
# Report lines with the same printk stamp that make two texts one crash's (fewer when the report is
# shorter: a pstore record cut inside it).
SHARED_LINES = 3
# Crashes of the host looked at, newest first: a channel log is of a recent crash (the agent sends
# a pstore record and the dump after the reboot; a host down for days sends them days late).
CANDIDATES = 20
CANDIDATE_DAYS = 7


@dataclass(frozen=True, slots=True)
class Evidence:
    """What an arrival says of its crash, for matching it with the host's stored crashes."""

    host: str
    release: str | None
    identity: str
    signature_key: str
    crash_time: float | None
    time_source: str | None
    stamped: frozenset[str]  # its primary report's lines that carry a printk stamp, normalised
    lines: frozenset[str]  # every stamped line of its text, normalised


def _stamp_of(line: str) -> bool:
    """A normalised line that starts with a printk stamp ("[12.345678] ...")."""
    if not line.startswith("["):
        return False
    close = line.find("]")
    head = line[1:close] if close > 0 else ""
    whole, _, frac = head.partition(".")
    return whole.isdigit() and frac.isdigit()


def stamped_lines(text: str, report: CrashReport | None) -> tuple[frozenset[str], frozenset[str]]:
    """(the report's stamped lines, every stamped line of the text), normalised as identity does."""
    raw = text.splitlines()
    every = frozenset(n for n in (normalise_line(x) for x in raw) if _stamp_of(n))
    if report is None or not (0 <= report.start_line <= report.end_line < len(raw)):
        return frozenset(), every
    region = (normalise_line(x) for x in raw[report.start_line : report.end_line + 1])
    return frozenset(n for n in region if _stamp_of(n)), every


def _times_apart(a: Evidence, t: float | None, src: str | None) -> bool:
    if a.crash_time is None or t is None:
        return False
    sources = {a.time_source, src}
    if sources == {"dir-name"}:
        return False  # a re-sent directory keeps its name: two such times tell nothing
    bound = DIR_TIME_SKEW if "dir-name" in sources else CHANNEL_TIME_SKEW
    return abs(a.crash_time - t) > bound


def same_crash(a: Evidence, crash: CrashRecord, other: Evidence | None, *, texts: bool = True) -> bool:
    """Whether the arrival ``a`` is the stored ``crash`` (``other``: what the crash's best log
    says, None when its log cannot be read).  ``texts=False``: whether the host, release and times
    leave it possible (the texts not compared yet)."""
    if not (names_a_host(a.host) and names_a_host(crash.host) and same_host(a.host, crash.host)):
        return False
    if a.release and crash.release and a.release != crash.release:
        return False
    if _times_apart(a, crash.crash_time, crash.crash_time_source):
        return False
    if not texts:
        return True
    if a.identity == crash.identity:
        return True
    if other is None:
        return False
    # Either text's report lines found in the other text (a pstore record cut short may hold no
    # whole report, its lines are still in the dump's report).
    shared = [len(x.stamped & y.lines) >= min(SHARED_LINES, len(x.stamped))
              for x, y in ((a, other), (other, a)) if x.stamped]
    if shared:
        return any(shared)
    if a.lines or other.lines:
        return False  # one text is stamped and the other not: nothing in common to compare
    # Neither text has stamps: the same signature at the same time on the same host.
    both_timed = a.crash_time is not None and crash.crash_time is not None
    return both_timed and a.signature_key == crash.signature_key


def find_crash(
    crashes: Crashes,
    a: Evidence,
    read: Callable[[CrashRecord], Evidence | None],
    *,
    now: float,
    skip: Callable[[CrashRecord], bool] = lambda _c: False,
) -> CrashRecord | None:
    """The stored crash of the arrival's host that the arrival is (None: a crash of its own).

    The identity's crash first (the same text again, or a channel's text that triage cut the same),
    then the host's crashes of the last CANDIDATE_DAYS, newest first (a crash that has the
    arrival's channel already is found too: the same record sent again); ``read`` gives the
    evidence of a stored crash's best log, read only for a candidate the host and times have not
    ruled out already (nor by ``skip``: a kdump log needs no crash that has its kdump already)."""
    if not names_a_host(a.host):
        return None
    by_id = crashes.crash_by_identity(a.identity)
    if by_id is not None and same_crash(a, by_id, None):
        return by_id
    since = now - CANDIDATE_DAYS * 86400
    for c in crashes.list_crashes(host=a.host, since=since, limit=CANDIDATES):
        if by_id is not None and c.id == by_id.id:
            continue
        if same_crash(a, c, None, texts=False) and not skip(c) and same_crash(a, c, read(c)):
            return c
    return None


def evidence_of(blobs: BlobStore, crash: CrashRecord, max_bytes: int) -> Evidence | None:
    """What a stored crash's best log says, for matching a channel's log with it (its stored report
    gives the report's lines: no triage again); None when its log cannot be read."""
    log_file = next((f for r in LOG_ROLES for f in crash.files if f.role == r), None)
    if log_file is None or crash.report is None:
        return None
    try:
        with blobs.open(log_file.digest) as fh:
            text = fh.read(max_bytes).decode("utf-8", "replace")
    except (OSError, StoreError):
        return None
    stamped, every = stamped_lines(text, report_from_dict(crash.report))
    return Evidence(crash.host, crash.release, crash.identity, crash.signature_key, crash.crash_time,
                    crash.crash_time_source, stamped, every)
