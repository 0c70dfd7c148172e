"""Matching a CrashReport against knowledge-base entries: pure, with an explanation.

Every rule an entry gives must hold (AND); inside a list rule (kinds, modules) one item is enough
(OR).  A rule that cannot be checked because the report lacks the data (no release line, no
"Hardware name:" line) is not a failure: it is listed in ``unchecked`` and adds nothing to the score,
so a log cut short still finds its entry, but ranks below a full match.

Ranking: specific entries before generic ones, then by score (the sum of the weights of the rules
that matched: a function or title says more about the bug than its kind does), then by id.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from crashhub.kb import _release as rel
from crashhub.kb._schema import KbEntry, KbMatch, Rule, compiled
from crashhub.model import CrashReport, Frame

WEIGHTS = {"kind": 1, "title": 3, "function": 4, "frame": 3, "module": 2, "loaded": 1, "taint": 1,
           "release": 2, "hardware": 2}
_TAINT_SUFFIX = re.compile(r"\([A-Z]+\)$")  # "crashmod(OE)" in "Modules linked in"
MAX_SUBJECT = 1024  # characters of a title/function a regex is run on (bounds backtracking)


def _search(pattern: str, subject: str | None) -> bool:
    return subject is not None and compiled(pattern).search(subject[:MAX_SUBJECT]) is not None


def _stack(report: CrashReport) -> list[Frame]:
    frames = [f for f in (report.guilty, report.rip) if f is not None]
    return frames + list(report.frames)


def _norm_module(name: str) -> str:
    # "Modules linked in" prints underscores; a rule may be written with the file name's hyphens.
    return name.replace("-", "_")


class _Verdict:
    def __init__(self) -> None:
        self.matched: list[str] = []
        self.unchecked: list[str] = []
        self.score = 0
        self.regression = False
        self.fixed_in: str | None = None
        self.comparison: str | None = None
        self.skipped: list[str] = []

    def hit(self, weight: str, text: str) -> None:
        self.matched.append(text)
        self.score += WEIGHTS[weight]


def compared(r: rel.Release, op: str, side: str, bound: str) -> str:
    """How a release was compared with a bound, as the user reads it:
    ``6.12.117+deb12 ≥ fixed_in 6.12.115 (series deb12, as upstream 6.12.117)``."""
    how = f"series {r.series}"
    if rel.is_upstream_bound(bound):
        how += f", as upstream {r.upstream}"
    return f"{r.key} {op} {side} {bound} ({how})"


def not_compared(r: rel.Release, side: str, bound: str) -> str:
    """Why a bound was left out for a release (it is written for another series, or the release
    has no upstream version to compare with an upstream bound)."""
    if rel.is_upstream_bound(bound):
        return (f"{r.raw} (series {r.series}) has no known upstream version: {side} {bound} "
                "(an upstream version) not compared")
    return f"{r.raw} (series {r.series}) not compared with {side} {bound} (series {rel.bound_series(bound)})"


def _check_release(rule: Rule, v: _Verdict, release: str | None, version: str | None) -> bool:
    if not rule.releases:
        return True
    if not release:
        v.unchecked.append("release (the report names no kernel release)")
        return True
    r = rel.parse_release(release, version)
    fixed: list[tuple[str, str]] = []
    for rng in rule.releases:
        lo = rel.compare_to_bound(r, rng.introduced_in) if rng.introduced_in else None
        hi = rel.compare_to_bound(r, rng.fixed_in) if rng.fixed_in else None
        if rng.introduced_in and lo is None:
            v.skipped.append(not_compared(r, "introduced_in", rng.introduced_in))
            continue  # the range is written for another series
        if rng.fixed_in and hi is None:
            v.skipped.append(not_compared(r, "fixed_in", rng.fixed_in))
            continue
        if lo is not None and lo < 0:
            continue  # older than the bug
        if hi is not None and hi >= 0:
            assert rng.fixed_in is not None
            fixed.append((rng.fixed_in, compared(r, "≥", "fixed_in", rng.fixed_in)))
            continue
        bounds = [f">= {rng.introduced_in}" if rng.introduced_in else "",
                  f"< {rng.fixed_in}" if rng.fixed_in else ""]
        v.hit("release", f"release {release} {' '.join(b for b in bounds if b)}")
        return True
    if fixed:
        v.regression = True
        v.fixed_in, v.comparison = fixed[0]
        v.hit("release", f"release {release} >= fixed_in {fixed[0][0]} (regression)")
        return True
    return False


def skipped_bounds(rule: Rule, release: str | None, version: str | None) -> list[str]:
    """The release bounds of ``rule`` that do not apply to ``release``, each with the reason."""
    v = _Verdict()
    _check_release(rule, v, release, version)
    return v.skipped


def match_entry(entry: KbEntry, report: CrashReport, *, release: str | None = None,
                hardware: str | None = None) -> KbMatch | None:
    """The match of one entry, or None.  ``release``/``hardware`` override the report's own."""
    rule, v = entry.rule, _Verdict()
    if rule.kinds:
        if report.kind not in rule.kinds:
            return None
        v.hit("kind", f"kind={report.kind}")
    if rule.title is not None:
        where = next((name for name, text in (("title", report.title), ("message", report.message),
                                               ("panic", report.panic_message))
                      if _search(rule.title, text)), None)
        if where is None:
            return None
        v.hit("title", f"{where} ~ {rule.title}")
    if rule.function is not None:
        guilty = report.guilty or report.rip
        name = guilty.function if guilty is not None else None
        if name is None:
            v.unchecked.append("function (the report has no guilty frame)")
        elif _search(rule.function, name):
            v.hit("function", f"function ~ {rule.function} ({name})")
        else:
            return None
    stack = _stack(report)
    if rule.frame is not None:
        hit = next((f.function for f in stack if _search(rule.frame, f.function)), None)
        if hit is None:
            if not stack:
                v.unchecked.append("frame (the report has no stack)")
            else:
                return None
        else:
            v.hit("frame", f"frame ~ {rule.frame} ({hit})")
    if rule.modules:
        wanted = {_norm_module(m) for m in rule.modules}
        mod = next((f.module for f in stack if f.module and _norm_module(f.module) in wanted), None)
        if mod is not None:
            v.hit("module", f"module={mod} (in the stack)")
        elif stack:
            return None
        else:
            v.unchecked.append("modules (the report has no stack)")
    if rule.loaded:
        wanted = {_norm_module(m) for m in rule.loaded}
        loaded = {_norm_module(_TAINT_SUFFIX.sub("", m.strip("[]"))) for m in report.modules}
        found = sorted(wanted & loaded)
        if not found:
            return None
        v.hit("loaded", f"loaded={found[0]}")
    if rule.taint:
        letters = report.taint.letters if report.taint is not None else None
        if letters is None:
            v.unchecked.append("taint (the report has no taint line)")
        elif all(t in letters for t in rule.taint):
            v.hit("taint", f"taint ⊇ {rule.taint}")
        else:
            return None
    if not _check_release(rule, v, release or report.release, report.version):
        return None
    if rule.hardware is not None:
        hw = hardware or report.hardware
        if hw is None:
            v.unchecked.append("hardware (the report has no Hardware name line)")
        elif _search(rule.hardware, hw):
            v.hit("hardware", f"hardware ~ {rule.hardware}")
        else:
            return None
    if not v.matched:  # every rule was unchecked: no evidence at all
        return None
    return KbMatch(entry_id=entry.id, title=entry.title, status=entry.status, generic=entry.generic,
                   matched_rules=v.matched, regression=v.regression, score=v.score,
                   fixed_in=v.fixed_in, unchecked=v.unchecked, comparison=v.comparison,
                   skipped=v.skipped)


def match(entries: Iterable[KbEntry], report: CrashReport, *, release: str | None = None,
          hardware: str | None = None) -> list[KbMatch]:
    """Every entry matching ``report``, best first (specific before generic, then score, then id)."""
    found = [m for e in entries
             if (m := match_entry(e, report, release=release, hardware=hardware)) is not None]
    found.sort(key=lambda m: (m.generic, -m.score, m.entry_id))
    return found


def would_match(entry: KbEntry, reports: Sequence[CrashReport] | Iterable[CrashReport]) -> int:
    """How many of ``reports`` (say, one per bucket) ``entry`` would match."""
    return sum(1 for r in reports if match_entry(entry, r) is not None)
