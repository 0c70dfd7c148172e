"""Re-keying: how stored crashes regroup under a new signature algorithm, worked out as a plan.

Pure: the store gives every crash with its old and new key (``CrashKey``), the buckets, the rules
and the new algorithm's key aliases; :func:`plan` says where each crash goes and what becomes of
each bucket.  The store applies the plan in one transaction (``crashhub.store``), the job
(``crashhub.jobs._rekey``) computes the new keys.

How a plan is made:

1. **Merge rules** move on to the new keys of their crashes: "key A into T" becomes "A' into T" for
   every new key A' that A's crashes have now; their crashes go to T.
2. **Natural groups**: the other crashes grouped by new key.  Largest group first, each takes a
   *surviving bucket*: the one the new key already names (a re-run), else the bucket holding most
   of its crashes that no larger group took (ties: the older, then the smaller id).  Only buckets a
   key made qualify, not the ones a split made.  A group that finds none gets a new bucket, which
   starts with the workflow state of the bucket most of its crashes come from (its ``heir``).
   Surviving buckets keep their ids, so a 1:1 re-key changes no URL.
3. **Split rules** follow their source bucket's crashes: a rule of bucket S applies to every
   bucket S's crashes went to, and is carried over to each (a copy whose ``parent`` is the rule).
4. A bucket left with no crash that no group took is **retired** into the bucket that took most
   of its crashes: an alias, so its URL and its old keys still lead somewhere.

Every (old key, old bucket) -> (new key, new bucket) flow is a ledger row (``Flow``), named by the
shape of the key change: ``rename`` (one old key, one new), ``split`` (one old key, several new),
``merge`` (several old keys, one new), ``regroup`` (both), ``same`` (key unchanged; recorded only
when a rule moved the crashes).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from crashhub.classify._rules import GroupingRule, Subject, split_rule

Change = Literal["same", "rename", "merge", "split", "regroup"]


@dataclass(frozen=True, slots=True)
class CrashKey:
    """One stored crash as a re-key sees it: where it is, its old key and its new one."""

    id: str
    bucket: str  # the live bucket holding it now
    old_algorithm: str
    old_key: str
    new_key: str  # under the plan's algorithm
    subject: Subject
    title: str = ""  # its signature's normalised title under the new algorithm
    frames: tuple[str, ...] = ()  # its key frames under the new algorithm
    kind: str = ""
    seen: float = 0.0  # crash time (else received): the newest crash of a group names its bucket


@dataclass(frozen=True, slots=True)
class BucketInfo:
    id: str
    primary: bool  # made by a key (False: made by a split)
    first_seen: float
    merged_into: str | None = None


@dataclass(frozen=True, slots=True)
class Survivor:
    """The bucket of a new key: an existing one (keeps its id) or a new one."""

    bucket: str
    key: str
    title: str
    frames: tuple[str, ...]
    kind: str
    new: bool
    heir: str | None = None  # a new bucket's workflow state comes from this old bucket


@dataclass(frozen=True, slots=True)
class Flow:
    """Crashes that went from (old key, old bucket) to (new key, new bucket): one ledger row."""

    old_algorithm: str
    old_key: str
    old_bucket: str
    new_key: str
    new_bucket: str
    crashes: int
    change: Change
    rule: str | None = None  # the rule that sent them there, if one did


@dataclass(frozen=True, slots=True)
class Plan:
    algorithm: str
    moves: dict[str, str] = field(default_factory=dict)  # crash id -> its new bucket (changes only)
    survivors: tuple[Survivor, ...] = ()
    retired: dict[str, str] = field(default_factory=dict)  # emptied bucket -> the bucket it aliases
    keys: dict[str, str] = field(default_factory=dict)  # new key -> the bucket it sends crashes to
    bucket_keys: dict[str, str] = field(default_factory=dict)  # every bucket holding crashes -> key
    new_rules: tuple[GroupingRule, ...] = ()  # rules carried over (``parent`` names the original)
    retired_rules: tuple[str, ...] = ()
    flows: tuple[Flow, ...] = ()

    @property
    def empty(self) -> bool:
        """Nothing to do: no crash moves, no bucket or rule changes, no key to record."""
        return not (self.moves or self.retired or self.new_rules or self.retired_rules
                    or any(s.new for s in self.survivors) or self.flows)


@dataclass
class _Work:
    """The plan under construction."""

    algorithm: str
    crashes: Sequence[CrashKey]
    buckets: Mapping[str, BucketInfo]
    new_rule_id: Callable[[], str]
    default: dict[str, str] = field(default_factory=dict)  # crash -> bucket before split rules
    routed_by: dict[str, str] = field(default_factory=dict)  # crash -> merge rule id
    new_rules: list[GroupingRule] = field(default_factory=list)
    retired_rules: list[str] = field(default_factory=list)

    def resolve(self, bucket: str) -> str:
        seen: set[str] = set()
        while bucket in self.buckets and bucket not in seen:
            nxt = self.buckets[bucket].merged_into
            if not nxt:
                break
            seen.add(bucket)
            bucket = nxt
        return bucket

    def eligible(self, bucket: str) -> bool:
        b = self.buckets.get(bucket)
        return b is not None and b.primary and b.merged_into is None

    def carry(self, rule: GroupingRule, *, key: str | None = None, source: str | None = None) -> GroupingRule:
        """A copy of ``rule`` for a new key (under the plan's algorithm) or a new source bucket."""
        new = replace(rule, id=self.new_rule_id(), parent=rule.id)
        if key is not None:
            new = replace(new, algorithm=self.algorithm, key=key)
        if source is not None:
            new = replace(new, source=source)
        self.new_rules.append(new)
        return new


def plan(
    algorithm: str,
    crashes: Sequence[CrashKey],
    buckets: Mapping[str, BucketInfo],
    rules: Sequence[GroupingRule],
    *,
    aliases: Mapping[tuple[str, str], str],
    new_bucket_id: Callable[[str], str],
    new_rule_id: Callable[[], str],
) -> Plan:
    """Where every crash goes under ``algorithm`` (see the module docstring).

    ``rules`` are the live rules; ``aliases`` maps every (algorithm, key) a bucket took to that
    bucket (the new algorithm's: a re-run, or crashes ingested under it meanwhile);
    ``new_bucket_id(key)`` names the bucket a new key makes (the store's deterministic id, so two
    nodes agree).
    """
    w = _Work(algorithm, crashes, buckets, new_rule_id)
    current_keys = {k: b for (a, k), b in aliases.items() if a == algorithm}
    merge_for = _merge_rules(w, rules)
    groups: dict[str, list[CrashKey]] = defaultdict(list)
    for c in crashes:
        rule = merge_for.get(c.new_key)
        if rule is not None:
            w.default[c.id] = w.resolve(rule.target)
            w.routed_by[c.id] = rule.id
        else:
            groups[c.new_key].append(c)
    survivors = _survivors(w, groups, current_keys, new_bucket_id)
    for s in survivors:
        for c in groups[s.key]:
            w.default[c.id] = s.bucket
    splits = _split_rules(w, rules, survivors)
    final: dict[str, str] = {}
    split_by: dict[str, str] = {}
    for c in crashes:
        d = w.default[c.id]
        rule = split_rule(splits.get(d, ()), c.subject)
        if rule is not None and w.resolve(rule.target) != d:
            final[c.id] = w.resolve(rule.target)
            split_by[c.id] = rule.id
        else:
            final[c.id] = d
    keys = {s.key: s.bucket for s in survivors}
    keys.update({k: w.resolve(r.target) for k, r in merge_for.items() if k not in keys})
    return Plan(
        algorithm=algorithm,
        moves={c.id: final[c.id] for c in crashes if final[c.id] != c.bucket},
        survivors=tuple(survivors),
        retired=_retired(w, final, {s.bucket for s in survivors} | set(w.default.values())),
        keys=keys,
        bucket_keys=_bucket_keys(crashes, final, survivors),
        new_rules=tuple(w.new_rules),
        retired_rules=tuple(w.retired_rules),
        flows=_flows(w, final, {**w.routed_by, **split_by}),
    )


def _merge_rules(w: _Work, rules: Sequence[GroupingRule]) -> dict[str, GroupingRule]:
    """The merge rule of each new key, rules of older algorithms carried over to new keys."""
    new_keys: dict[tuple[str, str], set[str]] = defaultdict(set)
    for c in w.crashes:
        new_keys[(c.old_algorithm, c.old_key)].add(c.new_key)
    out: dict[str, GroupingRule] = {}
    for r in sorted((r for r in rules if r.action == "merge"), key=lambda r: (r.created_at, r.id)):
        assert r.algorithm is not None and r.key is not None
        if r.algorithm == w.algorithm:
            out[r.key] = r
            continue
        targets = new_keys.get((r.algorithm, r.key))
        if not targets:
            continue  # no crash of its key is left to say where the key went: it stays as it is
        for k in sorted(targets):
            out[k] = w.carry(r, key=k)
        w.retired_rules.append(r.id)
    return out


def _survivors(
    w: _Work,
    groups: Mapping[str, list[CrashKey]],
    current_keys: Mapping[str, str],
    new_bucket_id: Callable[[str], str],
) -> list[Survivor]:
    claimed: set[str] = set()
    out: list[Survivor] = []

    def rank(b: str, votes: Counter[str]) -> tuple[int, float, str]:
        info = w.buckets.get(b)
        return (-votes[b], info.first_seen if info else 0.0, b)

    for key in sorted(groups, key=lambda k: (-len(groups[k]), k)):
        group = groups[key]
        votes = Counter(c.bucket for c in group)
        pick: str | None = None
        known = current_keys.get(key)
        if known is not None and w.eligible(w.resolve(known)) and w.resolve(known) not in claimed:
            pick = w.resolve(known)
        else:
            pick = next((b for b in sorted(votes, key=lambda b: rank(b, votes))
                         if w.eligible(b) and b not in claimed), None)
        # Named by its newest crash that was given a title by the new algorithm (others kept theirs).
        newest = max(group, key=lambda c: (bool(c.title), c.seen, c.id))
        if pick is None:
            bid = new_bucket_id(key)
            heir = min(votes, key=lambda b: rank(b, votes))
            out.append(Survivor(bid, key, newest.title, newest.frames, newest.kind,
                                new=bid not in w.buckets, heir=heir if bid != heir else None))
            pick = bid
        else:
            out.append(Survivor(pick, key, newest.title, newest.frames, newest.kind, new=False))
        claimed.add(pick)
    return out


def _split_rules(
    w: _Work, rules: Sequence[GroupingRule], survivors: Sequence[Survivor]
) -> dict[str, list[GroupingRule]]:
    """The split rules in force for each default bucket.

    A rule stays with its source while the source still takes crashes by key, and is copied to the
    new buckets that inherit the source; a source that lost its key (it takes no crash any more)
    hands its rules on to the bucket that takes most of its crashes.  A rule whose source is a
    split's bucket is inert (such a bucket takes no crash by key) and stays where it is.  So
    planning again once a plan is applied carries nothing twice.
    """
    defaults = set(w.default.values())
    inherit: dict[str, list[str]] = defaultdict(list)
    for s in survivors:
        if s.new and s.heir:
            inherit[s.heir].append(s.bucket)
    located: dict[str, Counter[str]] = defaultdict(Counter)
    for c in w.crashes:
        located[c.bucket][w.default[c.id]] += 1
    out: dict[str, list[GroupingRule]] = defaultdict(list)
    for r in rules:
        if r.action != "split":
            continue
        assert r.source is not None
        info = w.buckets.get(r.source)
        if info is not None and not info.primary:
            out[r.source].append(r)  # a split's bucket takes no crash by key: the rule is inert
            continue
        src = w.resolve(r.source)
        if src in defaults or not located[src]:
            goes = [src, *inherit[src]]  # still its source's (or waiting there: it holds no crash)
        else:
            cnt = located[src]
            goes = [min(cnt, key=lambda b: (-cnt[b], b)), *inherit[src]]
        for b in goes:
            if b == r.source:
                out[b].append(r)
            elif w.resolve(r.target) != b:
                out[b].append(w.carry(r, source=b))
        if r.source not in goes:
            w.retired_rules.append(r.id)
    return out


def _retired(w: _Work, final: Mapping[str, str], keep: set[str]) -> dict[str, str]:
    """Buckets that held crashes, hold none after the plan and take none by key or merge rule."""
    went: dict[str, Counter[str]] = defaultdict(Counter)
    for c in w.crashes:
        went[c.bucket][final[c.id]] += 1
    after = Counter(final.values())
    return {
        b: min(cnt, key=lambda t: (-cnt[t], t))
        for b, cnt in went.items()
        if not after[b] and b not in keep
    }


def _bucket_keys(crashes: Sequence[CrashKey], final: Mapping[str, str],
                 survivors: Sequence[Survivor]) -> dict[str, str]:
    """Each bucket holding crashes after the plan, with its key: a survivor's own, else (a bucket
    made by a split or a merge target) the commonest new key of its crashes."""
    per: dict[str, Counter[str]] = defaultdict(Counter)
    for c in crashes:
        per[final[c.id]][c.new_key] += 1
    out = {b: min(cnt, key=lambda k: (-cnt[k], k)) for b, cnt in per.items()}
    out.update({s.bucket: s.key for s in survivors})
    return out


def _flows(w: _Work, final: Mapping[str, str], rule_of: Mapping[str, str]) -> tuple[Flow, ...]:
    targets: dict[str, set[str]] = defaultdict(set)
    sources: dict[str, set[str]] = defaultdict(set)
    for c in w.crashes:
        targets[c.old_key].add(c.new_key)
        sources[c.new_key].add(c.old_key)
    count: Counter[tuple[str, str, str, str, str, str | None]] = Counter()
    for c in w.crashes:
        count[(c.old_algorithm, c.old_key, c.bucket, c.new_key, final[c.id], rule_of.get(c.id))] += 1
    out: list[Flow] = []
    for (alg, ok, ob, nk, nb, rule), n in sorted(count.items(), key=lambda x: tuple(map(str, x[0]))):
        change = _change(alg == w.algorithm and ok == nk, len(targets[ok]), len(sources[nk]))
        if change == "same" and ob == nb:
            continue  # nothing happened to these crashes
        out.append(Flow(alg, ok, ob, nk, nb, n, change, rule))
    return tuple(out)


def _change(same_key: bool, targets: int, sources: int) -> Change:
    if same_key:
        return "same"
    if targets > 1:
        return "regroup" if sources > 1 else "split"
    return "merge" if sources > 1 else "rename"
