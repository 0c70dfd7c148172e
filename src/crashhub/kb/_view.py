"""What the knowledge base says about a crash or a bucket *now*: the one answer every page, report,
bundle, command and API shows.

Matches stored with a crash are of the KB of the moment it arrived; an entry written later must
change what every consumer says at once.  :func:`kb_view` is pure (entries, a report, releases in,
a :class:`KbView` out), so it is computed when read, and the bucket's stored matches are a cache of
it refreshed by the events that change it (an ingest, a KB edit).

The answer, defined once:

- ``regression`` (shown "Regressed"): a matching entry's range says a kernel the bucket's crashes
  ran is at or past its ``fixed_in``.  Any crash of the bucket is enough and it stays so (sticky):
  a later crash on an older kernel does not make the fix true again.
- ``known``: an entry that is *specific* (``generic: false``) matches, whatever its own ``status``
  field says (investigating, fixed, wontfix: the KB still knows this bug and has its advice).
- ``new``: nothing matches, or only *generic* entries (the starter KB's one entry per crash kind,
  which explain the kind, not this bug).

A match's own label follows the same rule (:func:`match_answer`): the command line's ``[known]``
is the bucket page's badge.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal, get_args

from crashhub.kb._match import match, match_entry, skipped_bounds
from crashhub.kb._schema import KbEntry, KbMatch
from crashhub.model import CrashReport

Answer = Literal["known", "new", "regression"]
ANSWERS: tuple[Answer, ...] = get_args(Answer)


def match_answer(m: KbMatch) -> Answer:
    """One match's label: its range says regressed, a generic entry says nothing new, else known."""
    if m.regression:
        return "regression"
    return "new" if m.generic else "known"


def answer_of(matches: Iterable[KbMatch]) -> Answer:
    ms = list(matches)
    if any(m.regression for m in ms):
        return "regression"
    return "known" if any(not m.generic for m in ms) else "new"


@dataclass(frozen=True, slots=True)
class KbView:
    """The KB's answer for a crash (with its bucket's kernels) or a bucket, best match first."""

    answer: Answer
    matches: tuple[KbMatch, ...] = ()
    # Why it is regressed: the first regressed match's comparison (None unless ``regression``).
    comparison: str | None = None
    # Entries whose other rules match but whose every release range is for another series (or
    # upstream bounds for a kernel with no known upstream version): shown, never silent.
    skipped: tuple[str, ...] = ()

    @property
    def regressed(self) -> bool:
        return self.answer == "regression"

    @property
    def best(self) -> KbMatch | None:
        """The entry shown as the answer: the first specific match, else the first generic one."""
        return next((m for m in self.matches if not m.generic), None) or next(iter(self.matches), None)

    def to_dict(self) -> dict[str, Any]:
        best = self.best
        return {"answer": self.answer, "regressed": self.regressed, "comparison": self.comparison,
                "entry": best.entry_id if best is not None else None,
                "matches": [match_json(m) for m in self.matches], "skipped": list(self.skipped)}

    @classmethod
    def from_dict(cls, d: Any) -> KbView:
        answer = d.get("answer")
        if answer not in ANSWERS:
            raise ValueError(f"unknown KB answer {answer!r}")
        return cls(answer, tuple(KbMatch.from_dict(m) for m in d.get("matches") or ()),
                   None if d.get("comparison") is None else str(d["comparison"]),
                   tuple(str(x) for x in d.get("skipped") or ()))


def match_json(m: KbMatch) -> dict[str, Any]:
    """A match as stored and served (``id`` is the entry id, per the API contract)."""
    d = m.to_dict()
    d["id"] = m.entry_id
    return d


def view_of(matches: Sequence[KbMatch], skipped: Sequence[str] = ()) -> KbView:
    """The view of matches already made (a bucket's cached ones, say), ranked as :func:`match` ranks."""
    ms = sorted(matches, key=lambda m: (m.generic, -m.score, m.entry_id))
    reg = next((m for m in ms if m.regression), None)
    return KbView(answer_of(ms), tuple(ms), reg.comparison if reg is not None else None, tuple(skipped))


def kb_view(entries: Sequence[KbEntry], report: CrashReport | None, *, release: str | None,
            hardware: str | None = None, releases: Iterable[str] = ()) -> KbView:
    """The KB's answer for ``report`` (run on ``release``), given every kernel ``releases`` its
    bucket's crashes ran: an entry regressed on any of them is regressed here too.

    Only entries with release ranges are matched again per kernel, so a bucket with many kernels
    costs one pass over the KB plus one per kernel over the few entries that name releases.
    """
    if report is None:
        return KbView("new")
    found = {m.entry_id: m for m in match(entries, report, release=release, hardware=hardware)}
    ranged = [e for e in entries if e.rule.releases]
    # Another kernel's version line is not this report's: its upstream version is unknown here.
    other = replace(report, version=None)
    for r in sorted(set(releases) - {release or report.release or ""} - {""}):
        for e in ranged:
            have = found.get(e.id)
            if have is not None and have.regression:
                continue
            m = match_entry(e, other, release=r, hardware=hardware)
            if m is not None and m.regression:
                found[e.id] = m
    skipped = []
    own = release or report.release
    for e in ranged:
        # Matched, or would match but for its releases: say which bounds were left out for this
        # crash's kernel, and why (a bound of another series is never silently ignored).
        if e.id not in found and match_entry(replace(e, rule=replace(e.rule, releases=())), report,
                                             hardware=hardware) is None:
            continue
        skipped += [f"{e.id}: {s}" for s in skipped_bounds(e.rule, own, report.version)]
    return view_of(list(found.values()), skipped)

