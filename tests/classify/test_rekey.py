"""The re-key plan: renames keep bucket ids, splits and merges go where the keys say, rules hold,
and a plan applied then planned again changes nothing."""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass, field, replace

from hypothesis import given, settings
from hypothesis import strategies as st

from crashhub.classify import BucketInfo, Condition, CrashKey, GroupingRule, Plan, Subject, plan

OLD, NEW = "sig:2026-11", "sig:2027-01"


def crash(cid: str, bucket: str, old: str, new: str, frames: tuple[str, ...] = ()) -> CrashKey:
    return CrashKey(cid, bucket, OLD, old, new, Subject(cid, "t", "h", frames=frames), title=f"T {new}",
                    frames=(new,), kind="oops", seen=float(int(cid[1:]) if cid[1:].isdigit() else 0))


@dataclass
class Hub:
    """A store in miniature: what the plan reads, and the plan applied to it."""

    crashes: list[CrashKey]
    buckets: dict[str, BucketInfo]
    rules: list[GroupingRule] = field(default_factory=list)
    keys: dict[tuple[str, str], str] = field(default_factory=dict)
    ids: itertools.count[int] = field(default_factory=itertools.count)

    def plan(self) -> Plan:
        return plan(NEW, self.crashes, self.buckets, self.rules, aliases=self.keys,
                    new_bucket_id=lambda k: f"B-{k}", new_rule_id=lambda: f"n{next(self.ids)}")

    def apply(self, p: Plan) -> None:
        for s in p.survivors:
            if s.new:
                self.buckets[s.bucket] = BucketInfo(s.bucket, True, 0.0)
        for b, into in p.retired.items():
            self.buckets[b] = replace(self.buckets[b], merged_into=into)
        self.crashes = [replace(c, bucket=p.moves.get(c.id, c.bucket), old_algorithm=NEW, old_key=c.new_key)
                        for c in self.crashes]
        self.rules = [r for r in self.rules if r.id not in p.retired_rules] + list(p.new_rules)
        self.keys.update({(NEW, k): b for k, b in p.keys.items()})

    def where(self) -> dict[str, str]:
        return {c.id: c.bucket for c in self.crashes}


def test_a_rename_keeps_the_bucket_and_its_id() -> None:
    hub = Hub([crash("c1", "b1", "a", "A"), crash("c2", "b1", "a", "A")], {"b1": BucketInfo("b1", True, 1.0)})
    p = hub.plan()
    assert p.moves == {} and p.keys == {"A": "b1"} and not p.retired
    assert [(s.bucket, s.key, s.new) for s in p.survivors] == [("b1", "A", False)]
    assert [(f.old_key, f.new_key, f.crashes, f.change) for f in p.flows] == [("a", "A", 2, "rename")]


def test_a_split_keeps_the_larger_part_and_the_new_bucket_inherits() -> None:
    hub = Hub([crash("c1", "b1", "a", "A1"), crash("c2", "b1", "a", "A1"), crash("c3", "b1", "a", "A2")],
              {"b1": BucketInfo("b1", True, 1.0)})
    p = hub.plan()
    assert p.moves == {"c3": "B-A2"}
    new = next(s for s in p.survivors if s.new)
    assert (new.bucket, new.heir) == ("B-A2", "b1")
    assert {f.change for f in p.flows} == {"split"}


def test_a_merge_retires_the_smaller_bucket_into_the_larger() -> None:
    hub = Hub([crash("c1", "b1", "a", "K"), crash("c2", "b1", "a", "K"), crash("c3", "b2", "b", "K")],
              {"b1": BucketInfo("b1", True, 2.0), "b2": BucketInfo("b2", True, 1.0)})
    p = hub.plan()
    assert p.moves == {"c3": "b1"} and p.retired == {"b2": "b1"}
    assert {f.change for f in p.flows} == {"merge"}


def test_a_users_merge_holds_across_the_new_keys() -> None:
    """Key a was merged into bucket t (key b): its crashes stay in t under their new key."""
    rule = GroupingRule("m1", "merge", "t", algorithm=OLD, key="a", created_at=1.0)
    hub = Hub([crash("c1", "t", "a", "A"), crash("c2", "t", "b", "B"), crash("c3", "t", "b", "B")],
              {"t": BucketInfo("t", True, 1.0), "s": BucketInfo("s", True, 0.5, merged_into="t")}, [rule])
    p = hub.plan()
    assert p.moves == {} and p.retired_rules == ("m1",)
    (carried,) = p.new_rules
    assert (carried.algorithm, carried.key, carried.target, carried.parent) == (NEW, "A", "t", "m1")
    assert p.keys == {"B": "t", "A": "t"}
    assert next(f for f in p.flows if f.new_key == "A").rule == carried.id


def test_a_users_split_holds_and_follows_its_buckets_crashes() -> None:
    """Bucket b1 splits under the new algorithm; its split rule (frame foo -> s) goes with both parts."""
    rule = GroupingRule("s1", "split", "s", source="b1", when=(Condition("frame", "foo"),), created_at=1.0)
    hand = GroupingRule("s2", "split", "s", source="b1", when=(Condition("crash", "c9"),), created_at=2.0)
    crashes = [crash("c1", "b1", "a", "A1"), crash("c2", "b1", "a", "A1"), crash("c3", "b1", "a", "A2"),
               crash("c4", "s", "a", "A2", frames=("foo",)), crash("c5", "s", "a", "A1", frames=("foo",)),
               crash("c9", "s", "a", "A1")]
    hub = Hub(crashes, {"b1": BucketInfo("b1", True, 1.0), "s": BucketInfo("s", False, 2.0)}, [rule, hand])
    p = hub.plan()
    assert p.moves == {"c3": "B-A2"}  # the foo crashes and the hand-picked one stay split off
    assert {(r.parent, r.source) for r in p.new_rules} == {("s1", "B-A2"), ("s2", "B-A2")}
    assert p.bucket_keys["s"] == "A1" and not p.retired
    hub.apply(p)
    hub.crashes.append(crash("c10", "B-A2", "x", "A2", frames=("foo",)))  # a later foo crash of A2
    assert hub.plan().moves == {"c10": "s"}


def test_the_state_an_ingest_made_meanwhile_is_joined() -> None:
    """A crash ingested under the new algorithm before the re-key applied made its own bucket; the
    next round moves it to the surviving bucket and retires the stray one."""
    hub = Hub([crash("c1", "b1", "a", "A"), crash("c2", "b1", "a", "A")], {"b1": BucketInfo("b1", True, 1.0)})
    hub.apply(hub.plan())
    stray = CrashKey("c3", "B-A", NEW, "A", "A", Subject("c3", "t", "h"), seen=3.0)
    hub.crashes.append(stray)
    hub.buckets["B-A"] = BucketInfo("B-A", True, 3.0)
    p = hub.plan()
    assert p.moves == {"c3": "b1"} and p.retired == {"B-A": "b1"}


# --------------------------------------------------------------------------- properties

_keys = st.sampled_from(["k1", "k2", "k3", "k4"])


@st.composite
def hubs(draw: st.DrawFn) -> Hub:
    nb = draw(st.integers(1, 4))
    buckets = {f"b{i}": BucketInfo(f"b{i}", draw(st.booleans()) or i == 0, float(i)) for i in range(nb)}
    crashes = [
        CrashKey(f"c{i}", draw(st.sampled_from(sorted(buckets))), OLD, draw(_keys), draw(_keys),
                 Subject(f"c{i}", "t", "h", frames=tuple(draw(st.lists(st.sampled_from("fgh"), max_size=2)))),
                 seen=float(i))
        for i in range(draw(st.integers(1, 12)))
    ]
    primary = sorted(b for b, info in buckets.items() if info.primary)
    aliases = {(OLD, c.old_key): draw(st.sampled_from(primary)) for c in crashes}
    rules: list[GroupingRule] = []
    split = sorted(set(buckets) - set(primary))  # a split always makes a bucket of its own
    for j in range(draw(st.integers(0, 3))):
        if draw(st.booleans()):
            target = draw(st.sampled_from(primary))
            rules.append(GroupingRule(f"r{j}", "merge", target, algorithm=OLD, key=draw(_keys), created_at=j))
        elif split:
            source, target = draw(st.sampled_from(primary)), draw(st.sampled_from(split))
            if source != target:
                cond = Condition("frame", draw(st.sampled_from("fgh")))
                rules.append(GroupingRule(f"r{j}", "split", target, source=source, when=(cond,),
                                          created_at=j))
    return Hub(crashes, buckets, rules, aliases)


@settings(max_examples=300, deadline=None)
@given(hubs())
def test_a_plan_applied_is_a_fixed_point(hub: Hub) -> None:
    before = Counter(c.bucket for c in hub.crashes)
    p = hub.plan()
    hub.apply(p)
    # No crash lost, every crash in a live bucket, every emptied bucket an alias of a live one.
    assert len(hub.where()) == sum(before.values())
    live = {b for b, info in hub.buckets.items() if info.merged_into is None}
    assert set(hub.where().values()) <= live
    assert all(hub.buckets[into].merged_into is None for into in p.retired.values())
    # The ledger accounts for every crash that moved.
    assert sum(f.crashes for f in p.flows if f.old_bucket != f.new_bucket) == len(p.moves)
    # Carried rules are whole rules again, and planning once more changes nothing.
    again = hub.plan()
    assert again.moves == {} and not again.retired and not again.new_rules, again


@settings(max_examples=300, deadline=None)
@given(hubs())
def test_merge_rules_decide_their_keys(hub: Hub) -> None:
    p = hub.plan()
    hub.apply(p)
    merges = {r.key: r for r in sorted(hub.rules, key=lambda r: (r.created_at, r.id))
              if r.action == "merge" and r.algorithm == NEW}
    for c in hub.crashes:
        rule = merges.get(c.new_key)
        if rule is None:
            continue
        target = rule.target
        while hub.buckets[target].merged_into:
            target = hub.buckets[target].merged_into  # type: ignore[assignment]
        split = [r for r in hub.rules if r.action == "split" and r.source == target and r.takes(c.subject)]
        assert c.bucket == target or split, (c, rule)
