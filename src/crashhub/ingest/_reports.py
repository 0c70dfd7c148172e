"""Stored reports back into models, every report of a crash's log, and the content identity of a crash.

The store keeps the primary :class:`CrashReport` as JSON (``CrashReport.to_dict()``); re-applying the
knowledge base later needs the model back (:func:`report_from_dict`).  Since migration 0014 it keeps
every report of the log too, in log order with the primary marked (:func:`in_log_order`); a crash
stored before that has them re-derived from its stored log when read (:func:`log_reports_of`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence

from crashhub.model import CrashReport, JsonObject, LogReport

TYPE_CHECKING = False
if TYPE_CHECKING:
    from crashhub.store import BlobStore, Crashes, CrashRecord

IDENTITY_VERSION = "crash-id:2026-11-26"
_CALLER = re.compile(r"^(\[\s*\d+\.\d+\])\s*\[\s*[TC]\d+\]")  # CONFIG_PRINTK_CALLER's "[T123]" / "[C1]"
_STAMP = re.compile(r"^\[\s*(\d+\.\d+)\]")
_LEVEL = re.compile(r"^<\d{1,2}>")
IDENTITY_TAIL = 200  # lines hashed when triage finds no report
# A report that is a panic itself (SysRq-c on 6.1 panics at once, panic_on_oom) starts with it.
PANIC_HEADER = "Kernel panic - not syncing"
# The log the reports come from: the one that was sent, else the one read out of the dump.
LOG_ROLES = ("log", "log_from_dump")


def report_from_dict(d: JsonObject) -> CrashReport:
    """The stored report as a model again (``CrashReport.from_dict``: every field round-trips)."""
    return CrashReport.from_dict(d)


def normalise_line(line: str) -> str:
    """One log line as every copy of the same log shows it (level prefix, caller id, padding dropped)."""
    s = _LEVEL.sub("", line.rstrip("\r\n").strip())
    s = _CALLER.sub(r"\1", s)
    s = _STAMP.sub(lambda m: f"[{m.group(1)}]", s)
    return " ".join(s.split())


def identity(log: str, report: CrashReport | None, release: str | None) -> str:
    """What makes a crash the same crash whatever file or layout it came in.

    The primary report's lines *with* their printk timestamps: the same bug on another boot differs
    in its timestamps (and, with KASLR, its addresses), while a ``vmcore-dmesg.txt``, a Debian
    ``dmesg.<stamp>`` and the log read back out of the dump (flat or not) of one crash agree line for
    line.  The kernel release is part of the key; host and crash time are compared by the caller
    where both sides know them (a log-only upload knows neither reliably).
    """
    lines = log.splitlines()
    if report is not None and 0 <= report.start_line <= report.end_line < len(lines):
        region = lines[report.start_line : report.end_line + 1]
    else:
        region = lines[-IDENTITY_TAIL:]
    norm = [n for n in (normalise_line(x) for x in region) if n]
    h = hashlib.sha256()
    h.update(f"{IDENTITY_VERSION}\n{release or ''}\n".encode())
    h.update("\n".join(norm).encode("utf-8", "replace"))
    return h.hexdigest()


def panic_line(report: CrashReport) -> str | None:
    """The panic this report raised: the one triage folded into it, or the report's own header line
    when the report is a panic (SysRq-c, panic_on_oom); None when the log printed no panic for it."""
    if report.panic_message:
        return report.panic_message
    msg = report.message or ""
    return msg if report.fatal and msg.startswith(PANIC_HEADER) else None


def in_log_order(reports: Sequence[CrashReport]) -> tuple[LogReport, ...]:
    """``triage.parse``'s answer (the primary first, the rest in log order) as the log has them.

    The primary is put back where the log printed it: a BUG reported before the SysRq-c crash that
    stopped the machine is the primary and the first report, the crash the second.
    """
    if not reports:
        return ()
    first = reports[0]
    ordered = sorted(reports, key=lambda r: (r.start_line, r.end_line))
    return tuple(LogReport(report=r, primary=r is first) for r in ordered)


def log_reports_of(
    stored: Sequence[LogReport],
    primary: JsonObject | None,
    logs: Sequence[tuple[str, str]],
    read: Callable[[str], bytes | None],
) -> tuple[LogReport, ...]:
    """A crash's reports: as stored, else re-derived from its stored log, else its primary alone.

    ``logs`` are the crash's files as (role, digest); ``read`` gives a blob's bytes (None when it is
    gone).  A crash stored before migration 0014 has no reports stored: triage runs again on its log
    (the one that was sent before the one read out of the dump), so its page lists them all.
    """
    if stored:
        return tuple(stored)
    from crashhub import triage  # noqa: PLC0415 - triage loads only for crashes stored before 0014

    for role in LOG_ROLES:
        for r, digest in logs:
            data = read(digest) if r == role else None
            if data:
                found = in_log_order(triage.parse(data))
                if found:
                    return found
    return (LogReport(report_from_dict(primary), primary=True),) if primary else ()


MAX_REDERIVE_BYTES = 64 << 20  # a log parsed again on a page view: a kernel ring is a few MiB


def crash_reports(crashes: Crashes, blobs: BlobStore, crash: CrashRecord) -> tuple[LogReport, ...]:
    """:func:`log_reports_of` for a stored crash: its rows, else its log from the blob store."""

    def read(digest: str) -> bytes | None:
        try:
            with blobs.open(digest) as fh:
                return fh.read(MAX_REDERIVE_BYTES)
        except OSError:  # evicted or never stored: the primary alone is shown
            return None

    logs = [(f.role, f.digest) for f in crash.files]
    return log_reports_of(crashes.log_reports(crash.id), crash.report, logs, read)
