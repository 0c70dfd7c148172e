"""The diagnosis as the reports show it, and which crash speaks for a bucket.

Pure: stored analysis rows in, the report's ``analysis`` dict and Markdown lines out.  A claim,
its evidence and its command are data read from a dump, so every one goes through Markdown
escaping or a code span/fence long enough to hold it; the HTML report renders that Markdown with
raw HTML off, so nothing from a dump becomes markup.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from crashhub import i18n
from crashhub.analyze import AnalysisRecord
from crashhub.model import JsonObject
from crashhub.store import CrashRecord

# How many of a bucket's newest crashes are looked at for an analysed one (the bucket page lists as many).
REPRESENTATIVE_SCAN = 50


def md_escape(s: Any) -> str:
    return "".join("\\" + ch if ch in "\\`*_[]<>|#" else ch for ch in str(s if s is not None else ""))


def _ticks(text: str, least: int) -> str:
    """A backtick run longer than any in ``text`` (CommonMark's rule for spans and fences)."""
    runs = [len(r) for r in re.findall(r"`+", text)]
    return "`" * max(least, max(runs, default=0) + 1)


def code_span(text: str) -> str:
    # A span is one line (evidence is one line a value anyway); spaces inside are kept (crash's
    # aligned columns).
    t = str(text).replace("\r\n", " ").replace("\n", " ").strip()
    if not t:
        return ""
    fence = _ticks(t, 1)
    pad = " " if t.startswith("`") or t.endswith("`") else ""
    return f"{fence}{pad}{t}{pad}{fence}"


def code_block(text: str) -> list[str]:
    fence = _ticks(text, 3)
    return [fence, str(text).rstrip("\n"), fence]


def analysed(c: CrashRecord) -> bool:
    """The crash has an analysis that answered (a result, whatever it found)."""
    if not c.analysis:
        return False
    rec = AnalysisRecord.from_dict(dict(c.analysis))
    return rec.status == "done" and rec.result is not None


def representative(crashes: Iterable[CrashRecord]) -> CrashRecord | None:
    """The crash whose diagnosis a bucket shows: the newest analysed one.  ``crashes`` come newest
    first (``list_crashes``); most crashes come without a dump, so the newest crash is often not
    analysed while an older one of the same bug is."""
    return next((c for c in crashes if analysed(c)), None)


def analysis_doc(c: CrashRecord) -> JsonObject | None:
    """The report's ``analysis``: the crash it is of, status, engine and the findings as
    ``Finding.to_dict`` gives them (docs/analysis.md)."""
    if not c.analysis:
        return None
    rec = AnalysisRecord.from_dict(dict(c.analysis))
    res = rec.result
    return {
        "crash": c.id,
        "status": rec.status,
        "error": rec.error,
        "engine": res.engine if res else None,
        "findings": [f.to_dict() for f in res.findings] if res else [],
    }


def _culprit(c: JsonObject, _: Callable[[str], str]) -> str:
    parts = []
    if c.get("function"):
        parts.append(code_span(str(c["function"])))
    if c.get("cpu") is not None:
        parts.append(f"CPU {c['cpu']}")
    if c.get("pid") is not None or c.get("comm"):
        task = f"{_('task')} {c.get('pid') if c.get('pid') is not None else '?'}"
        parts.append(task + (f" ({md_escape(c['comm'])})" if c.get("comm") else ""))
    return " · ".join(parts)


def finding_md(i: int, f: JsonObject, _: Callable[[str], str], lang: str = "en") -> list[str]:
    sev = str(f.get("severity") or "info")
    claim, detail = i18n.finding_text(str(f.get("title") or ""), str(f.get("detail") or ""), lang)
    out = [f"### {i}. {md_escape(_(sev).upper())}: {md_escape(claim)}", ""]
    if detail:
        out += [md_escape(detail), ""]
    culprit = f.get("culprit")
    if isinstance(culprit, dict) and (line := _culprit(culprit, _)):
        out += [f"**{_('Culprit')}:** {line}", ""]
    evidence = [str(e) for e in f.get("evidence") or ()]
    if evidence:
        out += [f"**{_('Evidence')}:**", ""] + [f"- {code_span(e)}" for e in evidence] + [""]
    if f.get("command"):
        out += [f"**{_('Command')}:**", "", *code_block(str(f["command"])), ""]
    return out


def diagnosis_md(an: JsonObject | None, _: Callable[[str], str], *, bucket: bool = False, lang: str = "en"
                 ) -> list[str]:
    """The ``## Diagnosis`` section: every finding, worst first as the checks ordered them."""
    out = [f"## {_('Diagnosis')}", ""]
    if not an:
        if bucket:
            return [*out, _("No crash of this bucket has been analysed yet."), ""]
        return [*out, _("Not analysed (no dump, or the analysis has not run yet)."), ""]
    if bucket:
        out += [_("From crash {id}, the newest analysed crash of this bucket.").format(id=an["crash"]), ""]
    if an.get("status") != "done":
        err = f": {md_escape(an['error'])}" if an.get("error") else ""
        return [*out, f"{_('Status')}: {md_escape(_(str(an.get('status'))))}{err}", ""]
    findings = an.get("findings") or []
    if not findings:
        return [*out, _("The analysis found nothing to report."), ""]
    for i, f in enumerate(findings, 1):
        out += finding_md(i, f, _, lang)
    return out
