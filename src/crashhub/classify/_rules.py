"""Grouping rules: a user's merge or split, kept as data so it holds for every later crash.

Bucket keys decide the grouping, except where a user said otherwise.  What a user says is a rule:

- **merge**: "crashes of key K (under algorithm A) go to bucket T" (``crashhub`` records one per
  key of the merged bucket when a user merges it into T);
- **split**: "crashes that would land in bucket S and match any of these conditions go to bucket
  T" (T is the bucket the split made).  A condition is a field and a glob (``fnmatch``, case
  sensitive): ``frame`` (any function of the stack, base names as ``crashhub.kernel.base_name``
  gives them), ``guilty``, ``module`` (any module of the stack), ``title``, ``release``, ``host``,
  ``hardware``, or ``crash`` (one crash id: a split of hand-picked crashes).

Ingest applies the rules to every crash (``crashhub.store``: merge rules by key, then the split
rules of the bucket that gives), and the re-key job re-applies them after a new signature
algorithm (``crashhub.classify._rekey``): merge rules move on to the new keys of their crashes,
split rules to the buckets their source's crashes went to.  Globs, not regular expressions: what
an admin types into a form must not be able to make ingest slow.

A rule carries ``version`` (``RULE_VERSION``), the version of this vocabulary it was written in.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any, Literal, get_args

from crashhub.errors import InputError
from crashhub.kernel import base_name, strip_prefix
from crashhub.model import CrashReport

RULE_VERSION = 1
RuleAction = Literal["merge", "split"]
Field = Literal["frame", "guilty", "module", "title", "release", "host", "hardware", "crash"]
FIELDS: tuple[str, ...] = get_args(Field)
ACTIONS: tuple[str, ...] = get_args(RuleAction)
MAX_PATTERN = 200
MAX_CONDITIONS = 1000  # a split of hand-picked crashes has one condition per crash


@dataclass(frozen=True, slots=True)
class Subject:
    """What a split rule's conditions look at, for one crash."""

    crash: str
    title: str
    host: str
    release: str | None = None
    hardware: str | None = None
    guilty: str | None = None
    frames: tuple[str, ...] = ()  # base names, the stack's order
    modules: tuple[str, ...] = ()

    def values(self, field: Field) -> tuple[str, ...]:
        one = {
            "crash": self.crash,
            "title": self.title,
            "host": self.host,
            "release": self.release,
            "hardware": self.hardware,
            "guilty": self.guilty,
        }
        if field == "frame":
            return self.frames
        if field == "module":
            return self.modules
        v = one[field]
        return (v,) if v else ()


def _base(function: str) -> str:
    return strip_prefix(base_name(function))


def subject_of(
    crash: str,
    *,
    title: str,
    host: str,
    release: str | None = None,
    hardware: str | None = None,
    report: CrashReport | None = None,
) -> Subject:
    """The subject of a crash from what the store keeps of it (its primary report, if any)."""
    if report is None:
        return Subject(crash, title, host, release, hardware)
    frames = tuple(_base(f.function) for f in report.frames if f.function)
    modules = {f.module for f in report.frames if f.module}
    guilty = report.guilty
    if guilty is not None and guilty.module:
        modules.add(guilty.module)
    return Subject(
        crash,
        title,
        host,
        release,
        hardware,
        guilty=_base(guilty.function) if guilty is not None and guilty.function else None,
        frames=frames,
        modules=tuple(sorted(modules)),
    )


@dataclass(frozen=True, slots=True)
class Condition:
    """``field`` matches the glob ``pattern`` (for ``frame`` and ``module``: any one of them does)."""

    field: Field
    pattern: str

    def holds(self, subject: Subject) -> bool:
        return any(fnmatchcase(v, self.pattern) for v in subject.values(self.field))

    def to_dict(self) -> dict[str, Any]:
        return {"field": self.field, "pattern": self.pattern}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Condition:
        field, pattern = d.get("field"), d.get("pattern")
        if field not in FIELDS:
            raise InputError(f"unknown rule field {field!r} (one of {', '.join(FIELDS)})", "field")
        if not isinstance(pattern, str) or not pattern.strip() or len(pattern) > MAX_PATTERN:
            raise InputError(f"a rule pattern is 1 to {MAX_PATTERN} characters", "pattern")
        return cls(field, pattern.strip())


@dataclass(frozen=True, slots=True)
class GroupingRule:
    """A merge (``algorithm``/``key`` -> ``target``) or a split (``source`` + ``when`` -> ``target``)."""

    id: str
    action: RuleAction
    target: str  # the bucket the rule's crashes go to
    algorithm: str | None = None  # merge: the algorithm of ``key``
    key: str | None = None  # merge
    source: str | None = None  # split: the bucket whose crashes it takes from
    when: tuple[Condition, ...] = ()  # split: any of these
    created_at: float = 0.0
    created_by: str = ""
    note: str = ""
    parent: str | None = None  # the rule this one was carried over from by a re-key
    version: int = RULE_VERSION

    def takes(self, subject: Subject) -> bool:
        """Whether a split rule takes this crash (a merge rule is decided by the key alone)."""
        return self.action == "split" and any(c.holds(subject) for c in self.when)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "action": self.action,
            "target": self.target,
            "algorithm": self.algorithm,
            "key": self.key,
            "source": self.source,
            "when": [c.to_dict() for c in self.when],
            "created_at": self.created_at,
            "created_by": self.created_by,
            "note": self.note,
            "parent": self.parent,
            "version": self.version,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GroupingRule:
        """A rule as ``to_dict`` gave it, checked (``InputError`` names the bad field)."""
        action = d.get("action")
        if action not in ACTIONS:
            raise InputError(f"unknown rule action {action!r} (merge or split)", "action")
        when = d.get("when") or []
        if not isinstance(when, list) or len(when) > MAX_CONDITIONS:
            raise InputError(f"when: a list of at most {MAX_CONDITIONS} conditions", "when")
        rule = cls(
            id=str(d.get("id") or ""),
            action=action,
            target=_text(d, "target"),
            algorithm=_opt(d, "algorithm"),
            key=_opt(d, "key"),
            source=_opt(d, "source"),
            when=tuple(Condition.from_dict(c) for c in when),
            created_at=float(d.get("created_at") or 0.0),
            created_by=str(d.get("created_by") or ""),
            note=str(d.get("note") or ""),
            parent=_opt(d, "parent"),
            version=int(d.get("version") or RULE_VERSION),
        )
        check(rule)
        return rule


def _text(d: dict[str, Any], name: str) -> str:
    v = d.get(name)
    if not isinstance(v, str) or not v:
        raise InputError(f"{name}: a non-empty string", name)
    return v


def _opt(d: dict[str, Any], name: str) -> str | None:
    v = d.get(name)
    if v is None:
        return None
    if not isinstance(v, str):
        raise InputError(f"{name}: a string", name)
    return v


def check(rule: GroupingRule) -> None:
    """Refuse a rule that cannot work: a merge names a key, a split a source and conditions."""
    if rule.action == "merge" and not (rule.algorithm and rule.key):
        raise InputError("a merge rule names the algorithm and key it groups", "key")
    if rule.action == "split":
        if not rule.source or not rule.when:
            raise InputError("a split rule names its source bucket and at least one condition", "when")
        if rule.source == rule.target:
            raise InputError("a split rule's target must differ from its source", "target")
    if rule.version > RULE_VERSION:
        raise InputError(f"rule version {rule.version} is newer than this hub's {RULE_VERSION}", "version")


def split_rule(rules: Iterable[GroupingRule], subject: Subject) -> GroupingRule | None:
    """The newest split rule among ``rules`` (one source's) that takes the crash."""
    best: GroupingRule | None = None
    for r in rules:
        if r.takes(subject) and (best is None or (r.created_at, r.id) > (best.created_at, best.id)):
            best = r
    return best
