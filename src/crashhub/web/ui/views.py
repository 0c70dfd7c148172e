"""Pure helpers behind the pages: KB status, SVG charts, the oops excerpt, filters.

Models in, plain values out; no request, no store.  Charts are inline SVG computed here (points and
bars in a fixed viewBox), so a page needs no JavaScript and no chart library.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from crashhub import i18n
from crashhub.analyze import Analysis, AnalysisRecord, Finding
from crashhub.model import JsonObject
from crashhub.store import kb_status

__all__ = ["kb_status"]  # re-exported: the templates' KB status is the store's

# Colours for per-release series: distinguishable, colour-blind friendly (Okabe-Ito).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")


def days_back(today: str, n: int) -> list[str]:
    d = datetime.strptime(today, "%Y-%m-%d").replace(tzinfo=UTC)
    return [(d - timedelta(days=n - 1 - i)).strftime("%Y-%m-%d") for i in range(n)]


def sparkline(days: Mapping[str, int], today: str, n: int = 14, w: int = 80, h: int = 18) -> str:
    """SVG polyline points for the last ``n`` days' counts (empty days are 0)."""
    vals = [int(days.get(d, 0)) for d in days_back(today, n)]
    top = max(vals) or 1
    step = w / max(1, n - 1)
    return " ".join(f"{i * step:.1f},{h - 1 - (v / top) * (h - 2):.1f}" for i, v in enumerate(vals))


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    w: float
    h: float
    color: str
    label: str


@dataclass(frozen=True, slots=True)
class Chart:
    width: int
    height: int
    bars: list[Bar]
    legend: list[tuple[str, str]]  # (colour, label)
    xlabels: list[tuple[float, str]]
    ymax: int


def stacked_days(
    series: Mapping[str, Mapping[str, int]], days: Sequence[str], width: int = 720, height: int = 160
) -> Chart:
    """A stacked bar chart: one bar per day, one colour per series (e.g. per kernel release)."""
    names = sorted(series, key=lambda k: -sum(series[k].values()))
    if len(names) > len(PALETTE):  # the tail goes into one "other" series
        head, tail = names[: len(PALETTE) - 1], names[len(PALETTE) - 1 :]
        merged: dict[str, int] = {}
        for t in tail:
            for d, v in series[t].items():
                merged[d] = merged.get(d, 0) + v
        series = {**{k: series[k] for k in head}, "other": merged}
        names = [*head, "other"]
    totals = [sum(int(series[k].get(d, 0)) for k in names) for d in days]
    ymax = max(totals, default=0) or 1
    pad_b, pad_t = 18, 4
    bw = width / max(1, len(days))
    bars: list[Bar] = []
    for i, d in enumerate(days):
        y = float(height - pad_b)
        for j, k in enumerate(names):
            v = int(series[k].get(d, 0))
            if not v:
                continue
            bh = v / ymax * (height - pad_b - pad_t)
            y -= bh
            bars.append(Bar(i * bw + 1, y, max(1.0, bw - 2), bh, PALETTE[j % len(PALETTE)], f"{d} {k}: {v}"))
    every = max(1, len(days) // 6)
    xl = [(i * bw + bw / 2, d[5:]) for i, d in enumerate(days) if i % every == 0]
    legend = [(PALETTE[j % len(PALETTE)], k) for j, k in enumerate(names)]
    return Chart(width, height, bars, legend, xl, ymax)


def per_day_by_release(crashes: Iterable[Any]) -> dict[str, dict[str, int]]:
    """``{release: {day: count}}`` from crash records (``crash_time`` else ``received_at``)."""
    out: dict[str, dict[str, int]] = {}
    for c in crashes:
        t = c.crash_time or c.received_at
        day = datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d")
        rel = c.release or "?"
        out.setdefault(rel, {})
        out[rel][day] = out[rel].get(day, 0) + 1
    return out


@dataclass(frozen=True, slots=True)
class Line:
    no: int
    text: str
    guilty: bool


def oops_excerpt(report: JsonObject | None, limit: int = 80) -> list[Line]:
    """The oops text with the guilty line(s) marked: the guilty frame's line, else the RIP's."""
    if not report:
        return []
    text = str(report.get("text") or "")
    start = int(report.get("start_line") or 0) + 1  # 0-based in the report, 1-based as editors count
    lines = text.splitlines()[:limit]
    g = report.get("guilty") or report.get("rip") or {}
    func = g.get("function") if isinstance(g, Mapping) else None
    pat = re.compile(r"(?<![\w.])" + re.escape(func) + r"\+0x") if func else None
    out: list[Line] = []
    marked = False
    for i, ln in enumerate(lines):
        hit = bool(pat and pat.search(ln)) and not marked
        # Mark the first trace line naming the function, and the RIP line that names it too.
        if hit and not ln.lstrip().startswith("RIP"):
            marked = True
        out.append(Line(start + i, ln, hit or bool(pat and ln.lstrip().startswith("RIP") and pat.search(ln))))
    return out


def frames_of(report: JsonObject | None) -> list[dict[str, Any]]:
    """The log's frames as a table shows them: the RIP's function first (x86 prints it on the RIP
    line, not in the Call Trace: a NULL deref's own function would be missing), then the trace."""
    if not report:
        return []
    fr = [dict(f) for f in report.get("frames") or [] if isinstance(f, Mapping)]
    rip = report.get("rip")
    first = fr[0].get("function") if fr else None
    if isinstance(rip, Mapping) and rip.get("function") and rip["function"] != first:
        fr.insert(0, dict(rip))
    return fr[:64]


DUMP_FACT_KEYS = (
    "format",
    "compression",
    "arch",
    "release",
    "version",
    "build_id",
    "crash_time",
    "cpus",
    "dump_level",
    "partial",
    "incomplete",
    "pages_present",
    "max_pfn",
    "file_size",
    "ram_bytes",
)


def dump_facts(facts: JsonObject | None, _: Callable[[str], str] = str) -> list[tuple[str, str]]:
    """(label, value) rows; ``_`` translates the labels (the field names) and yes/no."""
    if not facts:
        return []
    out = []
    for k in DUMP_FACT_KEYS:
        v = facts.get(k)
        if v is None:
            continue
        if k == "crash_time" and isinstance(v, int | float):
            v = datetime.fromtimestamp(v, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        if isinstance(v, bool):
            v = _("yes" if v else "no")
        out.append((_(k), str(v)))
    return out


def _log_names(report: JsonObject | None) -> int:
    """Frames the log's report names: its RIP and the reliable Call Trace entries."""
    if not report:
        return 0
    frames = [f for f in report.get("frames") or [] if isinstance(f, Mapping)]
    rip = report.get("rip")
    named = sum(1 for f in frames if f.get("function") and f.get("reliable", True))
    return named + (1 if isinstance(rip, Mapping) and rip.get("function") else 0)


def _localized(f: Finding, lang: str) -> Finding:
    claim, detail = i18n.finding_text(f.claim, f.detail, lang)
    return f if (claim, detail) == (f.claim, f.detail) else replace(f, claim=claim, detail=detail)


def analysis_view(analysis: JsonObject | None, report: JsonObject | None = None, lang: str = "en"
                  ) -> dict[str, Any]:
    """Flatten the analysis job's record (rows of every age, through ``AnalysisRecord.from_dict``):
    status, stack, findings, sources and raw engine outputs.  The stack is left out (the page shows
    the log's frames) when it names fewer frames than triage's ``report`` does: rows analysed before
    the stack was merged with the log may hold raw addresses where the log names every frame.
    The findings' claims and details are given in ``lang`` (``i18n.finding_text``)."""
    if not analysis:
        return {}
    rec = AnalysisRecord.from_dict(dict(analysis))
    res = rec.result or Analysis()
    # Real frames only: the log has one line per return address, DWARF may add inline frames to any.
    named = sum(1 for f in res.stack if f.function and not f.function.startswith("0x") and not f.inline)
    stack = res.stack[:64] if named >= _log_names(report) else ()
    outputs: dict[str, str] = {}
    crash_eng = res.engines.get("crash")
    for k, v in ((crash_eng.section("outputs") if crash_eng else None) or {}).items():
        outputs[f"crash {k}"] = str(v)
    drgn_eng = res.engines.get("drgn")
    if drgn_eng is not None and drgn_eng.failure:
        outputs["drgn (failure)"] = drgn_eng.failure
    return {
        "status": rec.status,
        "error": rec.error,
        "engine": res.engine,
        "panic_message": res.panic_message,
        "panic_task": res.panic_task,
        "stack": stack,
        "findings": tuple(_localized(f, lang) for f in res.findings),
        "sources": res.sources,
        "outputs": outputs,
        "seconds": rec.seconds,
    }


def since_of(window: str | None, now: float) -> float | None:
    """``24h``/``7d``/``30d``/``all`` -> a start time."""
    table = {"24h": 86400, "7d": 7 * 86400, "30d": 30 * 86400, "90d": 90 * 86400}
    return now - table[window] if window in table else None


def fmt_time(t: float | None) -> str:
    if t is None:
        return ""
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M")


def human_size(n: int | None) -> str:
    if n is None:
        return ""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return str(n)
