"""The contract of what nodes share (``store.cluster``, ``store.kb``), on SQLite and PostgreSQL alike."""

from __future__ import annotations

import threading

from crashhub.store import KbRecord, SqlStore

T = 1_800_000_000.0


def test_a_lease_has_one_holder_until_it_expires(store: SqlStore) -> None:
    c = store.cluster
    assert c.lease_holder("tick", now=T) is None
    assert c.try_lease("tick", "a", 60, now=T)
    assert not c.try_lease("tick", "b", 60, now=T + 30)  # a holds it
    assert c.try_lease("tick", "a", 60, now=T + 30)  # the holder extends it to T + 90
    assert not c.try_lease("tick", "b", 60, now=T + 89)
    assert c.lease_holder("tick", now=T + 89) == "a"
    assert c.try_lease("tick", "b", 60, now=T + 91)  # expired: b takes it over
    assert not c.renew_lease("tick", "a", 60, now=T + 92)  # a lost it and cannot renew
    assert c.renew_lease("tick", "b", 60, now=T + 92)
    assert not c.release_lease("tick", "a") and c.release_lease("tick", "b")
    assert c.lease_holder("tick", now=T + 93) is None
    assert c.try_lease("tick", "a", 60, now=T + 93) and c.try_lease("gc", "b", 60, now=T + 93)


def test_racing_nodes_take_a_lease_once(store: SqlStore) -> None:
    other = SqlStore(store.url)  # a second node on the same database
    try:
        won: list[str] = []
        barrier = threading.Barrier(8)

        def node(i: int) -> None:
            s = store if i % 2 else other
            barrier.wait()
            if s.cluster.try_lease("tick", f"n{i}", 60, now=T):
                won.append(f"n{i}")

        threads = [threading.Thread(target=node, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(won) == 1 and store.cluster.lease_holder("tick", now=T) == won[0]
    finally:
        other.close()


def test_keys_are_claimed_once_per_window(store: SqlStore) -> None:
    c = store.cluster
    assert c.key_time("alert:x") is None
    assert c.claim_key("alert:x", T, since=T - 600)
    assert not c.claim_key("alert:x", T + 10, since=T + 10 - 600)  # inside the window
    assert c.key_time("alert:x") == T
    assert c.claim_key("alert:x", T + 700, since=T + 700 - 600)  # the window passed
    assert c.key_time("alert:x") == T + 700
    assert c.claim_key("advice:b:v:dba", T) and not c.claim_key("advice:b:v:dba", T + 10**6)  # forever
    for i in range(3):
        assert c.claim_key(f"rate:hook:{i}", T + i)
    assert c.claim_key("rate:hook_2:0", T)  # '_' is not a wildcard
    assert c.count_keys("rate:hook:", T + 1) == 2 and c.count_keys("rate:hook:", T) == 3
    assert c.forget_keys("rate:hook:", T + 2) == 2
    assert c.count_keys("rate:", 0) == 2 and c.key_time("alert:x") == T + 700


def test_cursors_hold_json_values(store: SqlStore) -> None:
    c = store.cluster
    assert c.get_cursor("advice") is None
    assert c.init_cursor("advice", {"cursor": T}) == {"cursor": T}
    assert c.init_cursor("advice", {"cursor": T + 5}) == {"cursor": T}  # the first node's value stays
    c.set_cursor("advice", {"cursor": T + 9, "pending": {"b1": 1}})
    assert c.get_cursor("advice") == {"cursor": T + 9, "pending": {"b1": 1}}
    c.set_cursor("n", 3)
    assert c.get_cursor("n") == 3


def test_kb_entries_with_a_revision_per_write(store: SqlStore) -> None:
    kb = store.kb
    assert kb.revision() == 0 and kb.list() == [] and kb.get("a") is None
    a = kb.put("a", "id: a\n", by="ui:alice")
    assert a is not None and (a.id, a.revision, a.updated_by) == ("a", 1, "ui:alice")
    assert kb.put("a", "id: a\nother\n", replace=False) is None  # an import keeps the edit
    kb.put("b", "id: b\n")
    assert [r.id for r in kb.list()] == ["a", "b"] and kb.revision() == 2
    a2 = kb.put("a", "id: a\ntitle: t\n")
    assert a2 is not None and a2.revision == 3 and kb.get("a") == a2
    assert kb.delete("a", by="api") and not kb.delete("a") and not kb.delete("none")
    assert kb.get("a") is None and [r.id for r in kb.list()] == ["b"]
    assert kb.revision() == 4  # a delete is a write a node's cache must notice
    back = kb.put("a", "id: a\n", replace=False)  # a deleted entry may be imported again
    assert back is not None and back.revision == 5
    assert KbRecord.from_dict(back.to_dict()) == back


def test_concurrent_kb_writes_get_distinct_revisions(store: SqlStore) -> None:
    other = SqlStore(store.url)
    try:
        def write(s: SqlStore, i: int) -> None:
            for j in range(5):
                s.kb.put(f"e{i}-{j}", f"id: e{i}-{j}\n")

        threads = [threading.Thread(target=write, args=(store if i % 2 else other, i)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        revs = [r.revision for r in store.kb.list()]
        assert len(revs) == 20 and sorted(revs) == list(range(1, 21)) and store.kb.revision() == 20
    finally:
        other.close()
