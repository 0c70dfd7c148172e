"""The grouping repository's contract (SQLite and PostgreSQL): key aliases, users' merges and splits
as rules that hold for later crashes, rule deletion, and a re-key plan applied with its ledger."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest
from tests.store.contract import crash

from crashhub.classify import Condition, CrashKey, Plan, plan, subject_of
from crashhub.errors import StoreError
from crashhub.store import Store, bucket_id_for

NEW = "sig:test2"


def test_a_key_leads_to_its_bucket(store: Store) -> None:
    c, _ = store.crashes.add_crash(crash("1", key="x"))
    assert store.grouping.resolve(c.bucket_id) == c.bucket_id
    assert store.grouping.resolve("x") == c.bucket_id
    assert store.grouping.resolve("nothing") is None
    assert [(a.algorithm, a.key, a.origin) for a in store.grouping.aliases(c.bucket_id)] == [
        ("sig:test", "x", "ingest")]


def test_a_users_merge_is_a_rule_for_later_crashes_and_can_be_undone(store: Store) -> None:
    a, _ = store.crashes.add_crash(crash("1", key="x"))
    b, _ = store.crashes.add_crash(crash("2", key="y"))
    store.buckets.merge_buckets(a.bucket_id, b.bucket_id, "admin")
    (rule,) = store.grouping.rules(bucket=b.bucket_id)
    assert (rule.action, rule.algorithm, rule.key, rule.target, rule.created_by) == (
        "merge", "sig:test", "x", b.bucket_id, "admin")
    assert store.grouping.resolve(a.bucket_id) == b.bucket_id == store.grouping.resolve("x")
    assert {x.key for x in store.grouping.aliases(b.bucket_id)} == {"x", "y"}
    later, _ = store.crashes.add_crash(crash("3", key="x"))
    assert later.bucket_id == b.bucket_id

    store.grouping.delete_rule(rule.id, "admin")
    assert store.grouping.rules(bucket=b.bucket_id) == []
    assert [r.id for r in store.grouping.rules(include_retired=True)] == [rule.id]
    back = store.buckets.get_bucket(a.bucket_id)
    assert back is not None and back.merged_into is None and back.count == 2
    assert store.buckets.get_bucket(b.bucket_id).count == 1  # type: ignore[union-attr]
    assert store.crashes.add_crash(crash("4", key="x"))[0].bucket_id == a.bucket_id
    assert "rule-delete" in [e.action for e in store.buckets.bucket_events(a.bucket_id)]
    with pytest.raises(StoreError):
        store.grouping.delete_rule(rule.id, "admin")


def test_a_split_by_condition_holds_for_later_crashes(store: Store) -> None:
    first, _ = store.crashes.add_crash(crash("1", host="web1"))
    store.crashes.add_crash(crash("2", host="db1"))
    store.crashes.add_crash(crash("3", host="web2"))
    bid = first.bucket_id
    new = store.buckets.split_bucket(bid, [], "admin", title="the db bug", when=[Condition("host", "db*")])
    assert new.count == 1 and new.title == "the db bug"
    (rule,) = store.grouping.rules(bucket=new.id)
    assert (rule.action, rule.source, rule.when) == ("split", bid, (Condition("host", "db*"),))
    assert store.crashes.add_crash(crash("4", host="db7"))[0].bucket_id == new.id
    assert store.crashes.add_crash(crash("5", host="web9"))[0].bucket_id == bid
    with pytest.raises(StoreError):  # would take every crash left
        store.buckets.split_bucket(bid, [], "admin", when=[Condition("host", "*")])

    store.grouping.delete_rule(rule.id, "admin")
    assert store.buckets.get_bucket(bid).count == 5  # type: ignore[union-attr]
    assert store.grouping.resolve(new.id) == bid  # the emptied split bucket is an alias now
    assert store.crashes.add_crash(crash("6", host="db8"))[0].bucket_id == bid


def test_a_split_of_picked_crashes_names_them(store: Store) -> None:
    c1, _ = store.crashes.add_crash(crash("1"))
    c2, _ = store.crashes.add_crash(crash("2"))
    new = store.buckets.split_bucket(c1.bucket_id, [c2.id], "admin")
    (rule,) = store.grouping.rules(bucket=new.id)
    assert rule.when == (Condition("crash", c2.id),)
    assert store.crashes.add_crash(crash("3"))[0].bucket_id == c1.bucket_id  # others stay


# --------------------------------------------------------------------------- re-keys


def _rekey(store: Store, new_key: Callable[[str], str]) -> Plan:
    """Plan and apply a re-key to ``NEW`` where a crash of old key k gets ``new_key(k)``."""
    state = store.grouping.rekey_state()
    crashes = [
        CrashKey(c.id, c.bucket_id, c.algorithm, c.key, c.key if c.algorithm == NEW else new_key(c.key),
                 subject_of(c.id, title=c.title, host=c.host), title=f"title {c.key}", seen=c.seen)
        for c in store.grouping.rekey_crashes(limit=10_000)
    ]
    ids = itertools.count()
    p = plan(NEW, crashes, state.buckets, state.rules, aliases=state.aliases,
             new_bucket_id=lambda k: bucket_id_for(NEW, k), new_rule_id=lambda: f"rk{next(ids)}")
    store.grouping.apply_rekey(p, {c.id: c.new_key for c in crashes}, run="run1", actor="rekey")
    return p


def test_a_rekey_renames_splits_and_merges_with_a_ledger(store: Store) -> None:
    x1, _ = store.crashes.add_crash(crash("1", key="x", host="h1"))
    store.crashes.add_crash(crash("2", key="x", host="h2"))
    store.crashes.add_crash(crash("3", key="x", host="h3"))
    y, _ = store.crashes.add_crash(crash("4", key="y"))
    z, _ = store.crashes.add_crash(crash("5", key="z"))  # y and z merge into W
    store.crashes.add_crash(crash("6", key="z"))
    store.buckets.set_bucket_workflow(x1.bucket_id, status="investigating", owner="ana", actor="admin")
    store.buckets.set_bucket_workflow(y.bucket_id, owner="bo", advice="upgrade", actor="admin")
    assert store.grouping.algorithms() == {"sig:test": 3}

    p = _rekey(store, {"x": "X1", "y": "W", "z": "W"}.__getitem__)
    assert p.moves == {y.id: z.bucket_id}
    # x kept its bucket (1:1 here); z (two crashes) took y's crash, y is retired into it.
    assert store.grouping.algorithms() == {NEW: 2}
    survivor = store.buckets.get_bucket(z.bucket_id)
    assert survivor is not None and survivor.count == 3 and survivor.algorithm == NEW and survivor.key == "W"
    assert survivor.owner == "bo" and survivor.advice == "upgrade"  # what it lacked, from the retired one
    gone = store.buckets.get_bucket(y.bucket_id)
    assert gone is not None and gone.merged_into == z.bucket_id
    assert store.grouping.resolve("y") == z.bucket_id == store.grouping.resolve(y.bucket_id)
    kept = store.buckets.get_bucket(x1.bucket_id)
    assert kept is not None
    assert (kept.key, kept.count, kept.status, kept.owner) == ("X1", 3, "investigating", "ana")
    assert kept.title == "title x"
    ledger = store.grouping.ledger(run="run1")
    assert {(e.old_key, e.new_key, e.change, e.crashes) for e in ledger} == {
        ("x", "X1", "rename", 3), ("y", "W", "merge", 1), ("z", "W", "merge", 2)}
    assert "rekey" in [e.action for e in store.buckets.bucket_events(y.bucket_id)]
    # A later crash under the new key lands in the survivor; an old node's crash under y too.
    assert store.crashes.add_crash(crash("7", key="W", algorithm=NEW))[0].bucket_id == z.bucket_id
    assert store.crashes.add_crash(crash("8", key="y"))[0].bucket_id == z.bucket_id


def test_a_rekey_split_gives_the_new_bucket_the_old_ones_state(store: Store) -> None:
    a, _ = store.crashes.add_crash(crash("1", key="x", host="h1"))
    store.crashes.add_crash(crash("2", key="x", host="h1"))
    store.crashes.add_crash(crash("3", key="x", host="h2"))
    store.buckets.set_bucket_workflow(a.bucket_id, status="investigating", owner="ana", actor="admin")
    by_host = {c.id: c.host for c in store.crashes.list_crashes()}
    state = store.grouping.rekey_state()
    rows = store.grouping.rekey_crashes()
    crashes = [CrashKey(c.id, c.bucket_id, c.algorithm, c.key, "X-" + by_host[c.id],
                        subject_of(c.id, title=c.title, host=c.host), seen=c.seen) for c in rows]
    p = plan(NEW, crashes, state.buckets, state.rules, aliases=state.aliases,
             new_bucket_id=lambda k: bucket_id_for(NEW, k), new_rule_id=lambda: "r-new")
    out = store.grouping.apply_rekey(p, {c.id: c.new_key for c in crashes}, run="r2", actor="rekey")
    assert (out.moved, out.new_buckets, out.rekeyed) == (1, 1, 3)
    new_id = bucket_id_for(NEW, "X-h2")
    new = store.buckets.get_bucket(new_id)
    old = store.buckets.get_bucket(a.bucket_id)
    assert new is not None and old is not None and (new.count, old.count) == (1, 2)
    assert (new.status, new.owner) == ("investigating", "ana")
    assert sum(new.days.values()) == 1 and new.hosts == ("h2",)  # aggregates counted again
    assert store.crashes.add_crash(crash("4", key="X-h2", algorithm=NEW))[0].bucket_id == new_id
    assert store.crashes.add_crash(crash("5", key="x"))[0].bucket_id == a.bucket_id  # an old node's key
    assert {e.change for e in store.grouping.ledger(bucket=new_id)} == {"split"}


def test_a_users_merge_survives_a_rekey(store: Store) -> None:
    a, _ = store.crashes.add_crash(crash("1", key="x"))
    b, _ = store.crashes.add_crash(crash("2", key="y"))
    store.buckets.merge_buckets(a.bucket_id, b.bucket_id, "admin")
    p = _rekey(store, {"x": "X", "y": "Y"}.__getitem__)
    assert p.moves == {} and len(p.new_rules) == 1
    (rule,) = store.grouping.rules()
    assert (rule.algorithm, rule.key, rule.target, rule.created_by) == (NEW, "X", b.bucket_id, "admin")
    assert store.crashes.add_crash(crash("3", key="X", algorithm=NEW))[0].bucket_id == b.bucket_id
    assert store.buckets.get_bucket(b.bucket_id).count == 3  # type: ignore[union-attr]


def test_rekey_pages_and_an_empty_second_round(store: Store) -> None:
    for i in range(5):
        store.crashes.add_crash(crash(str(i), key=f"k{i % 2}"))
    first = store.grouping.rekey_crashes(limit=2)
    rest = store.grouping.rekey_crashes(after=first[-1].id, limit=10)
    assert len(first) == 2 and len(rest) == 3 and all(c.log_digest == "a" * 64 for c in first + rest)
    _rekey(store, str.upper)
    assert _rekey(store, str.upper).empty


def test_two_nodes_making_one_new_key_make_one_bucket(store: Store) -> None:
    """Eight threads on two store instances (two hub nodes) store crashes of one new key at once:
    one bucket, one alias, every crash counted in it."""
    import threading  # noqa: PLC0415

    from crashhub.store import SqlStore  # noqa: PLC0415

    assert isinstance(store, SqlStore)
    other = SqlStore(store.url)
    errors: list[BaseException] = []

    def worker(st: Store, i: int) -> None:
        try:
            st.crashes.add_crash(crash(f"race{i}", key="fresh"))
        except BaseException as e:  # reported below
            errors.append(e)

    try:
        threads = [threading.Thread(target=worker, args=(store if i % 2 else other, i)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not errors, errors
        (b,) = store.buckets.list_buckets()
        assert b.count == 8 and [a.key for a in store.grouping.aliases(b.id)] == ["fresh"]
    finally:
        other.close()
