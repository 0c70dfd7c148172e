"""The knowledge-base vocabulary: an entry, its match rules, and a match with its explanation.

An entry is data (one YAML file per known issue, see ``load.py``); these classes hold it after
validation.  Regexes stay strings here (so entries compare, hash and round-trip) and are compiled
once, through :func:`compiled`, by the validator and the matcher.

Rule regexes run under RE2 (``google-re2``), whose time is linear in the text: a pattern such as
``(a+)+$`` written by an admin (or pasted from a forum) cannot stall the hub on a crafted log line,
as Python's backtracking ``re`` would.  What RE2 cannot run (backreferences, lookaround) is refused
when the entry is loaded or written, with the reason.

``SCHEMA_ID`` names the file format an entry was written in; ``MATCH_ALGORITHM`` names the matching
rules of ``match.py``.  The store records both with every match, so a later change to either is
visible instead of silently re-interpreting old matches (Sentry's dated grouping ids, applied here).
"""

from __future__ import annotations

import dataclasses
import functools
import re
from dataclasses import dataclass, field
from typing import Any, Protocol

import re2

from crashhub.errors import PatternError
from crashhub.kernel import TAINT_LETTERS as KERNEL_TAINT_LETTERS
from crashhub.triage import KINDS as _TRIAGE_KINDS

SCHEMA_ID = "crashhub-kb/1"
SCHEMA_IDS = (SCHEMA_ID,)
MATCH_ALGORITHM = "kb-match:2026-11-26"

# The crash kinds come from the triage core's table (its single source): a rule naming another
# kind is a typo, and a kind added there becomes usable here at once.
KINDS: tuple[str, ...] = tuple(_TRIAGE_KINDS)
STATUSES = ("known", "investigating", "fixed", "wontfix")
TOOLS = ("crash", "drgn", "shell")
# Taint letters as the kernel prints them (crashhub.kernel's table of kernel/panic.c).
TAINT_LETTERS = KERNEL_TAINT_LETTERS

MAX_PATTERN = 512  # characters in one regex: a rule names a title or a function, not a novel
MAX_TEXT = 64 * 1024  # cause / advice
MAX_LIST = 64  # items in kinds, modules, references, commands, releases


class Pattern(Protocol):
    """What the matcher uses of a compiled rule regex."""

    def search(self, text: str) -> object | None: ...


@functools.lru_cache(maxsize=4096)
def compiled(pattern: str) -> Pattern:
    """The compiled form of a rule's regex, under RE2 (linear time whatever the pattern and text).

    Python's ``re`` reads the pattern first, for its syntax errors (they say where); RE2 then refuses
    what it has no linear-time algorithm for.
    """
    try:
        re.compile(pattern)
    except re.error as e:
        raise PatternError(f"{e.msg} at position {e.pos}") from None
    try:
        engine: Pattern = re2.compile(pattern)
    except re2.error as e:
        why = e.args[0] if e.args else ""
        why = why.decode("utf-8", "replace") if isinstance(why, bytes) else str(why)
        raise PatternError(
            f"not supported by the linear-time matcher RE2 ({why}); backreferences and lookaround "
            "cannot be used"
        ) from None
    return engine


@dataclass(frozen=True, slots=True)
class ReleaseRange:
    """Kernels ``introduced_in <= release``; at or past ``fixed_in`` a match is a regression."""

    introduced_in: str | None = None
    fixed_in: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in (("introduced_in", self.introduced_in), ("fixed_in", self.fixed_in))
                if v is not None}

    @classmethod
    def from_dict(cls, d: Any) -> ReleaseRange:
        return cls(_opt_str(d.get("introduced_in")), _opt_str(d.get("fixed_in")))


@dataclass(frozen=True, slots=True)
class Rule:
    """The ``match:`` block.  Every rule given must hold; a list matches when any item does."""

    kinds: tuple[str, ...] = ()
    title: str | None = None  # regex searched in the title, the oops line and the panic message
    function: str | None = None  # regex searched in the guilty function (else the RIP's)
    frame: str | None = None  # regex searched in every frame's function
    modules: tuple[str, ...] = ()  # a frame of the stack is in one of these modules
    loaded: tuple[str, ...] = ()  # one of these modules is in "Modules linked in"
    taint: str = ""  # every letter must be set
    releases: tuple[ReleaseRange, ...] = ()
    hardware: str | None = None  # regex searched in the "Hardware name:" line

    def is_empty(self) -> bool:
        return not (self.kinds or self.title or self.function or self.frame or self.modules
                    or self.loaded or self.taint or self.releases or self.hardware)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {}
        if self.kinds:
            d["kinds"] = list(self.kinds)
        for name in ("title", "function", "frame"):
            if getattr(self, name) is not None:
                d[name] = getattr(self, name)
        if self.modules:
            d["modules"] = list(self.modules)
        if self.loaded:
            d["loaded"] = list(self.loaded)
        if self.taint:
            d["taint"] = self.taint
        if self.releases:
            d["releases"] = [r.to_dict() for r in self.releases]
        if self.hardware is not None:
            d["hardware"] = self.hardware
        return d

    @classmethod
    def from_dict(cls, d: Any) -> Rule:
        """The rule of :meth:`to_dict` (already validated: the loader checks what a user writes)."""
        return cls(
            kinds=tuple(str(k) for k in d.get("kinds") or ()), title=_opt_str(d.get("title")),
            function=_opt_str(d.get("function")), frame=_opt_str(d.get("frame")),
            modules=tuple(str(x) for x in d.get("modules") or ()),
            loaded=tuple(str(x) for x in d.get("loaded") or ()), taint=str(d.get("taint") or ""),
            releases=tuple(ReleaseRange.from_dict(r) for r in d.get("releases") or ()),
            hardware=_opt_str(d.get("hardware")),
        )


@dataclass(frozen=True, slots=True)
class Command:
    """A command that answers the entry's question in a vmcore (or on the host)."""

    tool: str  # "crash", "drgn" or "shell"
    run: str
    why: str = ""

    def to_dict(self) -> dict[str, Any]:
        d = {"tool": self.tool, "run": self.run}
        if self.why:
            d["why"] = self.why
        return d

    @classmethod
    def from_dict(cls, d: Any) -> Command:
        return cls(str(d["tool"]), str(d["run"]), str(d.get("why") or ""))


@dataclass(frozen=True, slots=True)
class KbText:
    """An entry's text in another language (``zh:`` in the YAML): the same fields as the English
    ones, each optional; a field left out is shown in English.  ``why`` holds each command's
    ``why``, in the order of ``commands`` (the commands themselves are not translated)."""

    title: str = ""
    cause: str = ""
    advice: str = ""  # Markdown
    why: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {k: getattr(self, k) for k in TEXT_FIELDS if getattr(self, k)}
        if self.why:
            d["why"] = list(self.why)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> KbText:
        """The text ``to_dict`` gave (already checked: the YAML loader validates ``zh:`` blocks)."""
        return cls(**{k: str(d.get(k) or "") for k in TEXT_FIELDS},
                   why=tuple(str(w) for w in d.get("why") or ()))


# The text fields a translation may give, in the order the YAML keeps them (then ``why``).
TEXT_FIELDS = ("title", "cause", "advice")


@dataclass(frozen=True, slots=True)
class KbEntry:
    """One known issue (or, with ``generic``, what a kind of crash usually means)."""

    id: str
    title: str
    rule: Rule
    status: str = "known"
    generic: bool = False
    cause: str = ""
    advice: str = ""  # Markdown
    references: tuple[str, ...] = ()
    commands: tuple[Command, ...] = ()
    schema: str = SCHEMA_ID
    path: str | None = field(default=None, compare=False)  # where it was loaded from
    zh: KbText | None = None  # Simplified Chinese title/cause/advice, shown to zh readers

    def localized(self, lang: str) -> KbEntry:
        """The entry as a reader of ``lang`` sees it: the translated fields in place of the English
        ones (each field falls back to English when the translation lacks it)."""
        t = self.zh if lang == "zh" else None
        if t is None:
            return self
        # One ``why`` per command (the loader holds it so); a command without one keeps its English.
        whys = [*t.why, *([""] * len(self.commands))]
        commands = tuple(dataclasses.replace(c, why=whys[i] or c.why) for i, c in enumerate(self.commands))
        return dataclasses.replace(self, title=t.title or self.title, cause=t.cause or self.cause,
                                   advice=t.advice or self.advice, commands=commands)

    def to_dict(self) -> dict[str, Any]:
        """The entry as its YAML file holds it (field order as documented in docs/kb.md)."""
        d: dict[str, Any] = {"schema": self.schema, "id": self.id, "title": self.title,
                             "status": self.status, "generic": self.generic, "match": self.rule.to_dict()}
        if self.cause:
            d["cause"] = self.cause
        if self.advice:
            d["advice"] = self.advice
        if self.commands:
            d["commands"] = [c.to_dict() for c in self.commands]
        if self.references:
            d["references"] = list(self.references)
        if self.zh is not None and self.zh.to_dict():
            d["zh"] = self.zh.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: Any, path: str | None = None) -> KbEntry:
        """Validate a mapping exactly as the YAML loader does (without line numbers)."""
        # load.py imports this module; importing it at call time avoids the cycle.
        from crashhub.kb._load import entry_from_data  # noqa: PLC0415

        return entry_from_data(d, path or "<dict>", {})


@dataclass(frozen=True, slots=True)
class KbMatch:
    """An entry that matched a report, and why."""

    entry_id: str
    title: str
    status: str
    generic: bool
    matched_rules: list[str]  # e.g. ["kind=soft_lockup", "function ~ ^ext4_"]
    regression: bool  # the release is at or past the applicable range's fixed_in
    score: int
    fixed_in: str | None = None  # the bound that made it a regression
    unchecked: list[str] = field(default_factory=list)  # rules that could not be evaluated
    algorithm: str = MATCH_ALGORITHM
    # How the release was compared with ``fixed_in`` when it is a regression
    # ("6.12.117+deb12 ≥ fixed_in 6.12.115 (series deb12, as upstream 6.12.117)").
    comparison: str | None = None
    skipped: list[str] = field(default_factory=list)  # release bounds left out, and why

    def to_dict(self) -> dict[str, Any]:
        return {"entry_id": self.entry_id, "title": self.title, "status": self.status,
                "generic": self.generic, "matched_rules": list(self.matched_rules),
                "regression": self.regression, "score": self.score, "fixed_in": self.fixed_in,
                "unchecked": list(self.unchecked), "algorithm": self.algorithm,
                "comparison": self.comparison, "skipped": list(self.skipped)}

    @classmethod
    def from_dict(cls, d: Any) -> KbMatch:
        """A stored match (a bucket's or a crash's ``kb`` item; the API's ``id`` names the entry
        too, and rows from before ``comparison`` existed read with none)."""
        def text(k: str, default: str) -> str:
            v = d.get(k)
            return default if v is None else str(v)

        return cls(
            entry_id=text("entry_id", text("id", "")), title=text("title", ""),
            status=text("status", "known"), generic=bool(d.get("generic")),
            matched_rules=[str(x) for x in d.get("matched_rules") or ()],
            regression=bool(d.get("regression")), score=int(d.get("score") or 0),
            fixed_in=_opt_str(d.get("fixed_in")), unchecked=[str(x) for x in d.get("unchecked") or ()],
            algorithm=text("algorithm", MATCH_ALGORITHM), comparison=_opt_str(d.get("comparison")),
            skipped=[str(x) for x in d.get("skipped") or ()],
        )


def _opt_str(v: Any) -> str | None:
    return None if v is None else str(v)
