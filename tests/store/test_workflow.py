"""Store contract, continued: the response workflow, the bucket list's filters, the dashboard's and
the KB's aggregates. Runs on SQLite and PostgreSQL like test_contract.py."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import create_engine, text
from tests.store.contract import crash as _crash

from crashhub.errors import InputError, StoreError
from crashhub.store import NewCrash, SqlStore, Store, day_of
from crashhub.store._migrate import upgrade

KNOWN = [{"id": "crashmod-null", "title": "the test module"}]
GENERIC = [{"id": "generic-null", "title": "t", "generic": True}]
T0 = 1_790_000_000.0


def crash(identity: str, **kw: Any) -> NewCrash:
    """test_contract's crash, matched by a generic (starter) entry only: a bucket awaiting advice."""
    new = _crash(identity, **kw)
    new.kb = list(GENERIC)
    return new


def test_new_bucket_workflow_defaults(store: Store) -> None:
    c, _ = store.crashes.add_crash(crash("1", when=T0))
    b = store.buckets.get_bucket(c.bucket_id)
    assert b is not None
    assert b.status == "new" and b.owner is None and b.advice is None
    assert b.advice_deadline == pytest.approx(T0 + 4 * 3600)
    d = b.to_dict()
    assert d["status"] == "new" and d["advice_deadline"].endswith("Z") and d["kb_status"] == "new"


def test_set_workflow_records_who_changed_what(store: Store) -> None:
    c, _ = store.crashes.add_crash(crash("1", when=T0))
    bid = c.bucket_id
    b = store.buckets.set_bucket_workflow(bid, status="investigating", owner="alice", actor="ui:alice")
    assert (b.status, b.owner) == ("investigating", "alice")
    b = store.buckets.set_bucket_workflow(
        bid, status="advice given", advice="Unload **crashmod**.", actor="ui:bob"
    )
    assert b.status == "advice_given" and b.advice == "Unload **crashmod**." and b.owner == "alice"
    store.buckets.set_bucket_workflow(bid, status="advice_given", actor="ui:bob")  # no change: no event
    store.buckets.set_bucket_workflow(bid, owner="", actor="ui:bob")  # "" clears
    b = store.buckets.get_bucket(bid)
    assert b is not None and b.owner is None
    ev = [e for e in store.buckets.bucket_events(bid) if e.action == "workflow"]
    assert [e.actor for e in ev] == ["ui:alice", "ui:bob", "ui:bob"]
    assert ev[0].detail == {"status": ["new", "investigating"], "owner": [None, "alice"]}
    assert ev[1].detail["status"] == ["investigating", "advice_given"]
    assert ev[1].detail["advice"] == [0, len("Unload **crashmod**.")]
    assert ev[2].detail == {"owner": ["alice", None]}


def test_set_workflow_refuses_bad_input(store: Store) -> None:
    c, _ = store.crashes.add_crash(crash("1"))
    with pytest.raises(InputError):
        store.buckets.set_bucket_workflow(c.bucket_id, status="done", actor="x")
    with pytest.raises(InputError):
        store.buckets.set_bucket_workflow(c.bucket_id, owner="a\nb", actor="x")
    with pytest.raises(StoreError):
        store.buckets.set_bucket_workflow("nope", status="fixed", actor="x")
    assert not [e for e in store.buckets.bucket_events(c.bucket_id) if e.action == "workflow"]


def test_kb_match_answers_a_new_bucket(store: Store) -> None:
    new = crash("1")
    new.kb = KNOWN
    c, _ = store.crashes.add_crash(new)
    b = store.buckets.get_bucket(c.bucket_id)
    assert b is not None and b.status == "known_issue" and b.kb_status == "known"
    c2, _ = store.crashes.add_crash(crash("2", key="k2"))  # generic only: new, awaiting advice
    assert store.buckets.get_bucket(c2.bucket_id).status == "new"  # type: ignore[union-attr]
    store.buckets.set_bucket_kb(c2.bucket_id, KNOWN)  # a KB entry written later answers it
    b2 = store.buckets.get_bucket(c2.bucket_id)
    assert b2 is not None and b2.status == "known_issue" and b2.kb_status == "known"
    ev = store.buckets.bucket_events(c2.bucket_id)
    assert ev[-1].actor == "kb" and ev[-1].detail["status"] == ["new", "known_issue"]
    # A bucket someone works on keeps its status when an entry starts to match.
    c3, _ = store.crashes.add_crash(crash("3", key="k3"))
    store.buckets.set_bucket_workflow(c3.bucket_id, status="investigating", actor="ui:a")
    store.buckets.set_bucket_kb(c3.bucket_id, KNOWN)
    assert store.buckets.get_bucket(c3.bucket_id).status == "investigating"  # type: ignore[union-attr]


def test_list_buckets_filters(store: Store) -> None:
    a = crash("1", key="ka", host="web1.dc2", release="6.1.0-56-cloud-amd64", when=T0)
    a.kb = KNOWN
    store.crashes.add_crash(a)
    store.crashes.add_crash(crash("2", key="kb", host="db7", release="6.12.117", when=T0 + 86400))
    store.crashes.add_crash(
        crash("3", key="kb", host="web9", release="6.1.0-56-cloud-amd64", when=T0 + 2 * 86400)
    )
    store.crashes.add_crash(crash("4", key="kc", host="db100%", release="6.12.117", when=T0 + 3 * 86400))

    def keys(**kw: object) -> list[str]:
        rows = store.buckets.list_buckets(sort="last_seen", today="2026-09-30", **kw)  # type: ignore[arg-type]
        assert store.buckets.count_buckets(**kw) == len(rows)  # type: ignore[arg-type]
        return sorted(b.key for b in rows)

    assert keys() == ["ka", "kb", "kc"]
    assert keys(kernel="6.1.0-56-cloud-amd64") == ["ka", "kb"]
    assert keys(kernel="6.12.117") == ["kb", "kc"]
    # A host is a whole name; parts of names are the free-text search's.
    assert keys(host="web1.dc2") == ["ka"]
    assert keys(host="web") == []
    assert keys(host="db100%") == ["kc"]
    assert keys(search="web") == ["ka", "kb"]
    assert keys(search="dc2") == ["ka"]
    assert keys(search="db1") == ["kc"]
    assert keys(search="b%") == []  # LIKE wildcards in the input are plain characters
    assert keys(search="100%") == ["kc"]
    assert keys(kb_status="known") == ["ka"]
    assert keys(kb_status="new") == ["kb", "kc"]
    assert keys(kb_status="regression") == []
    assert keys(since=T0 + 2 * 86400) == ["kb", "kc"]
    assert keys(kernel="6.12.117", search="db", since=T0 + 3 * 86400) == ["kc"]
    trend = store.buckets.list_buckets(sort="trend", kernel="6.12.117", today="2026-09-30")
    assert sorted(b.key for b in trend) == ["kb", "kc"]
    with pytest.raises(InputError):
        store.buckets.list_buckets(kb_status="maybe")


def test_list_buckets_by_workflow_status(store: Store) -> None:
    a = crash("1", key="ka", when=T0)
    a.kb = KNOWN  # answered by the KB at once: known_issue
    store.crashes.add_crash(a)
    store.crashes.add_crash(crash("2", key="kb", when=T0 + 60))
    store.crashes.add_crash(crash("3", key="kc", when=T0 + 120))

    def keys(status: str) -> list[str]:
        rows = store.buckets.list_buckets(sort="last_seen", status=status)
        assert store.buckets.count_buckets(status=status) == len(rows)
        return sorted(b.key for b in rows)

    assert (keys("new"), keys("known_issue")) == (["kb", "kc"], ["ka"])
    kb = next(b for b in store.buckets.list_buckets() if b.key == "kb")
    store.buckets.set_bucket_workflow(kb.id, status="investigating", actor="test")
    assert (keys("new"), keys("investigating")) == (["kc"], ["kb"])
    # Buckets from before the workflow (no status) count as effective_status says.
    with store.engine.begin() as conn:  # type: ignore[attr-defined]
        conn.execute(text("UPDATE buckets SET status = NULL WHERE key IN ('ka', 'kc')"))
    assert (keys("new"), keys("known_issue")) == (["kc"], ["ka"])
    with pytest.raises(InputError):
        store.buckets.list_buckets(status="maybe")


def test_bucket_events_since(store: Store) -> None:
    import time  # noqa: PLC0415

    a, _ = store.crashes.add_crash(crash("1", key="ka"))
    b, _ = store.crashes.add_crash(crash("2", key="kb"))
    t0 = time.time() - 1
    store.buckets.set_bucket_workflow(a.bucket_id, status="investigating", actor="t")
    store.buckets.set_bucket_workflow(b.bucket_id, advice="Update the BIOS.", actor="t")
    store.buckets.set_bucket_workflow(
        a.bucket_id, status="advice_given", advice="Unload crashmod.", actor="t"
    )
    evs = store.buckets.bucket_events_since(t0, action="workflow")
    assert [(e.bucket_id, e.action) for e in evs] == [
        (a.bucket_id, "workflow"), (b.bucket_id, "workflow"), (a.bucket_id, "workflow")]
    assert [e.at for e in evs] == sorted(e.at for e in evs)
    assert evs[1].detail["advice"] == [0, len("Update the BIOS.")]
    assert store.buckets.bucket_events_since(t0, action="merge") == []
    assert len(store.buckets.bucket_events_since(t0, limit=2)) == 2
    assert store.buckets.bucket_events_since(evs[-1].at) == []


def test_crashes_per_day_by_release(store: Store) -> None:
    day = 86400.0
    base = (T0 // day) * day  # midnight UTC
    store.crashes.add_crash(crash("1", when=base + 10, release="6.1"))
    store.crashes.add_crash(crash("2", when=base + day - 1, release="6.1"))
    store.crashes.add_crash(crash("3", when=base + day + 5, release="6.12"))
    store.crashes.add_crash(crash("4", key="k2", when=base + 5, release=None))  # type: ignore[arg-type]
    got = store.crashes.crashes_per_day_by_release(since=0)
    d0, d1 = day_of(base), day_of(base + day)
    assert got == {"6.1": {d0: 2}, "6.12": {d1: 1}, "?": {d0: 1}}
    assert store.crashes.crashes_per_day_by_release(since=2**40) == {}
    assert store.crashes.crash_releases() == ["6.1", "6.12"]


def test_latest_crashes(store: Store) -> None:
    a1, _ = store.crashes.add_crash(crash("1", key="ka"))
    a2, _ = store.crashes.add_crash(crash("2", key="ka"))
    b1, _ = store.crashes.add_crash(crash("3", key="kb"))
    got = store.crashes.latest_crashes()
    assert {k: v.id for k, v in got.items()} == {
        a1.bucket_id: store.crashes.latest_crash_of_bucket(a1.bucket_id).id,  # type: ignore[union-attr]
        b1.bucket_id: b1.id,
    }
    assert got[a1.bucket_id].id in (a1.id, a2.id)
    assert set(store.crashes.latest_crashes([b1.bucket_id])) == {b1.bucket_id}
    assert store.crashes.latest_crashes([]) == {}
    store.buckets.merge_buckets(b1.bucket_id, a1.bucket_id, "t")
    assert set(store.crashes.latest_crashes()) == {a1.bucket_id}


def test_migration_0003_on_old_buckets(tmp_path: object) -> None:
    """A database made at 0002 keeps its buckets: status derived, default deadline, KB status."""
    url = f"sqlite:///{tmp_path}/old.db"
    eng = create_engine(url)
    upgrade(eng, "0002")
    with eng.begin() as c:
        for bid, kb in (("b1", '[{"id": "x", "generic": false}]'), ("b2", "[]")):
            c.execute(
                text(
                    "INSERT INTO buckets (id, algorithm, key, \"primary\", kind, title, frames, count, dumps,"
                    " first_seen, last_seen, kb, created_at) VALUES (:i, 'a', :i, 1, 'oops', 't', '[]', 1, 0,"
                    " 1000.0, 1000.0, :kb, 1000.0)"
                ),
                {"i": bid, "kb": kb},
            )
    eng.dispose()
    s = SqlStore(url)
    s.migrate()
    b1, b2 = s.buckets.get_bucket("b1"), s.buckets.get_bucket("b2")
    assert b1 is not None and b2 is not None
    assert (b1.status, b1.kb_status, b1.advice_deadline) == ("known_issue", "known", 1000.0 + 14400)
    assert (b2.status, b2.kb_status) == ("new", "new")
    assert [b.id for b in s.buckets.list_buckets(kb_status="known")] == ["b1"]
    s.close()
