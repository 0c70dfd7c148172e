"""What the bucket page shows besides the bucket: its representative crash inline (the oops header,
the report's lines from the stored log, the frames), the steps to older and newer crashes, the
breakdowns with percentages, and one sorted page of its crash list.

The representative is the newest crash, or the one ``?crash=ID`` names (Sentry's event view: one
event shown whole, with its neighbours a click away).
"""

from __future__ import annotations

import contextlib
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlencode

from crashhub.errors import PageError
from crashhub.kernel import TAINT
from crashhub.model import JsonObject
from crashhub.store import CRASH_SORTS, Breakdown, BucketRecord, CrashRecord, Share
from crashhub.web.ui import views
from crashhub.web.ui.base import UI

CRASH_PAGE = 50
# The report's lines read from the stored log: a report is tens of lines; a log file a few MB at
# most (anything longer is not read past this).
MAX_LOG_BYTES = 8 << 20
MAX_OOPS_LINES = 200

Order = Literal["asc", "desc"]


@dataclass(frozen=True, slots=True)
class ShareRow:
    """One line of a breakdown: the value, its crashes, their share of the bucket, a link."""

    value: str | None
    count: int
    pct: float
    href: str | None = None
    note: str = ""  # e.g. what taint letters mean


@dataclass(frozen=True, slots=True)
class Steps:
    """Where "older" and "newer" lead from the representative crash (None at either end)."""

    older: str | None
    newer: str | None
    newest: str | None  # the newest crash, when the one shown is not it


@dataclass(frozen=True, slots=True)
class CrashPage:
    """One page of the bucket's crash list."""

    crashes: list[CrashRecord]
    total: int
    offset: int
    sort: str
    order: Order


def representative(ui: UI, bucket_id: str, crash_id: str) -> CrashRecord | None:
    """The crash shown whole: ``crash_id`` when given (it must be of this bucket), else the newest."""
    if crash_id:
        c = ui.store.crashes.get_crash(crash_id)
        if c is None or c.bucket_id != bucket_id:
            raise PageError(404, "Bucket {bucket} has no crash {crash}.", bucket=repr(bucket_id),
                            crash=repr(crash_id))
        return c
    newest = ui.store.crashes.list_crashes(bucket=bucket_id, limit=1)
    return ui.store.crashes.get_crash(newest[0].id) if newest else None


def steps(ui: UI, rep: CrashRecord | None, newest: str | None) -> Steps:
    if rep is None:
        return Steps(None, None, None)
    older, newer = ui.store.crashes.crash_neighbours(rep.id)
    return Steps(older, newer, newest if newest and newest != rep.id else None)


def log_lines(ui: UI, c: CrashRecord) -> list[views.Line]:
    """The report's lines as the stored log has them (timestamps and all, numbered as in the file),
    the guilty line marked; the report's own text when the log is gone or does not line up."""
    report = c.report or {}
    start, end = int(report.get("start_line") or 0), int(report.get("end_line") or 0)
    f = next((x for x in c.files if x.role == "log"), None) or next(
        (x for x in c.files if x.role == "log_from_dump"), None
    )
    raw: list[str] = []
    if f is not None and 0 <= start <= end:
        with contextlib.suppress(OSError, KeyError, ValueError), ui.ctx.hub.blobs.open(f.digest) as fh:
            lines = fh.read(MAX_LOG_BYTES).decode("utf-8", "replace").splitlines()
            raw = lines[start : min(end + 1, start + MAX_OOPS_LINES)]
    first = str(report.get("text") or "").split("\n", 1)[0].strip()
    if raw and first and first in raw[0]:
        return views.oops_excerpt({**report, "text": "\n".join(raw), "start_line": start + 1}, MAX_OOPS_LINES)
    return views.oops_excerpt(c.report, MAX_OOPS_LINES)


def _taint_meanings(letters: str, _: Callable[[str], str]) -> str:
    """Each taint letter's meaning in the reader's language (the kernel's table, in the catalog)."""
    return "; ".join(f"{ch}: {_(TAINT[ch].meaning)}" for ch in letters if ch in TAINT)


def header(c: CrashRecord, _: Callable[[str], str] = str) -> list[tuple[str, str]]:
    """The oops's header lines as label and value: what, where (RIP), who (process, CPU), taint."""
    r = c.report or {}
    rows: list[tuple[str, str]] = [("Title", c.title)]
    rip = r.get("rip") if isinstance(r.get("rip"), dict) else None
    if rip and rip.get("function"):
        off = rip.get("offset")
        at = f"{rip['function']}+{off:#x}" if isinstance(off, int) else str(rip["function"])
        rows.append(("RIP", at + (f" [{rip['module']}]" if rip.get("module") else "")))
    proc = r.get("process") if isinstance(r.get("process"), dict) else None
    if proc and (proc.get("comm") or proc.get("pid") is not None):
        rows.append(("Process", f"{proc.get('comm') or '?'} (pid {proc.get('pid', '?')})"))
    if r.get("cpu") is not None:
        rows.append(("CPU", str(r["cpu"])))
    taint = r.get("taint") if isinstance(r.get("taint"), dict) else None
    if taint and taint.get("letters"):
        flags = _taint_meanings(str(taint["letters"]), _)
        rows.append(("Taint", f"{taint['letters']}" + (f" ({flags})" if flags else "")))
    message = r.get("panic_message") or r.get("message")
    if message:
        rows.append(("Message", str(message)))
    return rows


def stack(c: CrashRecord) -> tuple[dict[str, Any], list[Any]]:
    """The analysis view and the frames the crash page shows: the analysed stack unless it names
    fewer frames than the log (``views.analysis_view`` leaves it out then), else the log's."""
    an = views.analysis_view(c.analysis, c.report)
    return an, list(an.get("stack") or ()) or views.frames_of(c.report)


def _pct(n: int, total: int) -> float:
    return 100.0 * n / total if total else 0.0


def breakdown_rows(bd: Breakdown, bucket_id: str, _: Callable[[str], str] = str) -> dict[str, Any]:
    """Each breakdown as rows with percentages of the bucket's crashes; hosts and kernels link to the
    crash list filtered to them (whole values, never a part)."""

    def rows(shares: tuple[Share, ...], key: str | None = None, base: int = bd.total) -> list[ShareRow]:
        out = []
        for s in shares:
            href = None
            if key and s.value is not None:
                href = "/ui/crashes?" + urlencode({"bucket": bucket_id, key: s.value})
            out.append(ShareRow(s.value, s.count, _pct(s.count, base), href))
        return out

    # Modules and taint are counted over the reports read (the newest ``sampled`` crashes).
    read = bd.sampled or bd.total
    taints = [
        ShareRow(s.value, s.count, _pct(s.count, read),
                 note=_taint_meanings(s.value or "", _))
        for s in bd.taints
    ]
    return {
        "kernels": rows(bd.kernels, "kernel"),
        "hosts": rows(bd.hosts, "host"),
        "hardware": rows(bd.hardware),
        "modules": rows(bd.modules, base=read),
        "taints": taints,
        "sampled": bd.sampled if bd.sampled < bd.total else 0,
    }


_Kept = OrderedDict[tuple[str, int, float], tuple[float, Breakdown | None]]
# Per UI (one app): the breakdowns last shown, so a second app in the same process (tests, bench)
# never sees another store's.
_BREAKDOWNS: weakref.WeakKeyDictionary[UI, _Kept] = weakref.WeakKeyDictionary()
_BREAKDOWNS_KEPT = 512
_BREAKDOWN_TTL = 300.0
_BREAKDOWNS_LOCK = threading.Lock()  # pages run in a thread pool


def breakdown(ui: UI, b: BucketRecord) -> Breakdown | None:
    """The bucket's breakdowns, kept (for the last 512 buckets looked at) until a crash arrives in it
    (its count or last seen moves) or five minutes pass: the module and taint counts read a few
    hundred reports.  A merge or split changes the count, so it is never shown stale."""
    key = (b.id, b.count, b.last_seen)
    now = time.monotonic()
    with _BREAKDOWNS_LOCK:
        kept = _BREAKDOWNS.setdefault(ui, OrderedDict())
        hit = kept.get(key)
        if hit is not None and now - hit[0] < _BREAKDOWN_TTL:
            kept.move_to_end(key)
            return hit[1]
    bd = ui.store.buckets.bucket_breakdown(b.id)
    with _BREAKDOWNS_LOCK:
        kept[key] = (now, bd)
        while len(kept) > _BREAKDOWNS_KEPT:
            kept.popitem(last=False)
    return bd


def crash_page(
    ui: UI, bucket_id: str, *, sort: str, order: str, offset: int, first: list[CrashRecord] | None = None
) -> CrashPage:
    """One page of the bucket's crashes; ``first``: the newest crashes, already read (the page's
    default order and first page)."""
    if sort not in CRASH_SORTS:
        raise PageError(400, "unknown sort {value} ({known})", value=repr(sort), known=", ".join(CRASH_SORTS))
    if order not in ("asc", "desc"):
        raise PageError(400, "unknown order {value} (asc, desc)", value=repr(order))
    rows = first if first is not None else ui.store.crashes.list_crashes(
        bucket=bucket_id, sort=sort, descending=order == "desc", limit=CRASH_PAGE, offset=offset
    )
    total = ui.store.crashes.count_crashes(bucket=bucket_id)
    return CrashPage(rows, total, offset, sort, "desc" if order == "desc" else "asc")


def report_of(c: CrashRecord | None) -> JsonObject:
    return (c.report if c is not None else None) or {}
