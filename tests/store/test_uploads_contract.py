"""The uploads repository's contract (store.uploads: uploads and spool items), on SQLite and
PostgreSQL alike."""

from __future__ import annotations

import threading
import time

from crashhub.store import Store


def test_uploads(store: Store) -> None:
    assert store.uploads.get_upload("c1") is None
    u = store.uploads.start_upload("c1", 100)
    assert u.size == 100 and store.uploads.start_upload("c1", None).size == 100
    store.uploads.end_upload("c1")
    assert store.uploads.get_upload("c1") is None


def test_abandoned_uploads_expire(store: Store) -> None:
    # upload_expiry counts from the end of an upload's last request; a held lease is never expired.
    store.uploads.start_upload("idle", None)
    assert store.uploads.claim_upload("busy", "node-a", 60)
    assert store.uploads.claim_upload("done", "node-a", 60)
    store.uploads.release_upload("done", "node-a")
    t = time.time()
    assert store.uploads.expire_uploads(t - 3600) == []  # all touched within the hour
    assert sorted(store.uploads.expire_uploads(t + 1)) == ["done", "idle"]
    assert store.uploads.get_upload("idle") is None and store.uploads.get_upload("done") is None
    assert store.uploads.get_upload("busy") is not None


def test_upload_lease(store: Store) -> None:
    # One node writes an upload at a time; a dead writer's lease runs out and another node resumes.
    assert store.uploads.claim_upload("c1", "node-a", 60)
    assert store.uploads.get_upload("c1") is not None  # the claim makes the record
    assert not store.uploads.claim_upload("c1", "node-b", 60)
    assert store.uploads.claim_upload("c1", "node-a", 60)  # renewal by its owner
    store.uploads.release_upload("c1", "node-b")  # not the owner: no effect
    assert not store.uploads.claim_upload("c1", "node-b", 60)
    store.uploads.release_upload("c1", "node-a")
    assert store.uploads.claim_upload("c1", "node-b", -1)  # taken, with a lease already over (b "dies")
    assert store.uploads.claim_upload("c1", "node-c", 60)
    assert store.release_claims() == 0  # the single node's start frees every upload lease
    assert store.uploads.claim_upload("c1", "node-d", 60)
    assert store.uploads.start_upload("c1", 500).size == 500
    assert [u.crash_id for u in store.uploads.list_uploads()] == ["c1"]
    store.uploads.end_upload("c1")
    assert store.uploads.list_uploads() == [] and store.uploads.get_upload("c1") is None


def test_upload_lease_race(store: Store) -> None:
    store.uploads.claim_upload("c9", "dead", -1)
    won: list[str] = []
    barrier = threading.Barrier(4)

    def take(name: str) -> None:
        barrier.wait()
        if store.uploads.claim_upload("c9", name, 60):
            won.append(name)

    ts = [threading.Thread(target=take, args=(f"n{i}",)) for i in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert len(won) == 1


def test_spool_items(store: Store) -> None:
    assert store.uploads.claim_spool_item("d|1", "a", 60)
    assert not store.uploads.claim_spool_item("d|1", "b", 60)
    store.uploads.finish_spool_item("d|1", crash_id="c1", error=None)
    assert store.uploads.spool_item_state("d|1") == "done"
    assert not store.uploads.claim_spool_item("d|1", "b", 60)
    assert store.uploads.claim_spool_item("d|2", "a", 60)
    assert store.release_claims() == 1
    assert store.uploads.spool_item_state("d|2") is None


def test_spool_lease_renewal(store: Store) -> None:
    assert store.uploads.claim_spool_item("d|r", "a", 0.5)
    assert store.uploads.renew_spool_item("d|r", "a", 60)
    assert not store.uploads.renew_spool_item("d|r", "b", 60)
    assert not store.uploads.claim_spool_item("d|r", "b", 60)  # renewed: still a's
    store.uploads.finish_spool_item("d|r", crash_id=None, error=None)
    assert not store.uploads.renew_spool_item("d|r", "a", 60)  # done items have no lease to renew
