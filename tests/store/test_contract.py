"""The store contract at the level of the whole store (its schema, claims put back across
repositories); each repository has its own file (test_<repository>_contract.py).  Every Store
implementation (SQLite, PostgreSQL) must pass these."""

from __future__ import annotations

from crashhub.store import Store
from crashhub.store._migrate import current


def test_schema_is_at_head(store: Store) -> None:
    assert current(store.engine) == "0017"  # type: ignore[attr-defined]
    store.migrate()  # idempotent


def test_release_claims_puts_back_every_claim(store: Store) -> None:
    """A restarted embedded hub (the only node) frees what its dead run held, in every repository."""
    jid, _ = store.jobs.enqueue_job("analyze", {"crash_id": "c1"})
    assert store.jobs.claim_job("w1", 600) is not None
    assert store.uploads.claim_spool_item("d|1", "w1", 600)
    assert store.uploads.claim_upload("c1", "w1", 600)
    assert store.release_claims() == 2  # the job and the spool item; upload leases are not counted
    job = store.jobs.claim_job("w2", 600)
    assert job is not None and job.id == jid and job.attempts == 2
    assert store.uploads.spool_item_state("d|1") is None
    assert store.uploads.claim_upload("c1", "w2", 600)
    assert store.release_claims() == 1 and store.release_claims() == 0
