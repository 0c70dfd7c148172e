"""The jobs repository's contract (store.jobs: the queue and the Celery ledger), on SQLite and
PostgreSQL alike."""

from __future__ import annotations

import threading

from crashhub.store import Store


def test_jobs(store: Store) -> None:
    j1, new1 = store.jobs.enqueue_job("analyze", {"crash_id": "c1"}, key="analyze:c1")
    j2, new2 = store.jobs.enqueue_job("analyze", {"crash_id": "c1"}, key="analyze:c1")
    assert new1 and not new2 and j1 == j2
    assert store.jobs.job_depth() == 1
    job = store.jobs.claim_job("w1", 60)
    assert job is not None and job.payload == {"crash_id": "c1"} and job.attempts == 1
    assert store.jobs.claim_job("w2", 60) is None  # leased
    assert store.release_claims() == 1  # a restart puts it back
    job = store.jobs.claim_job("w2", 60)
    assert job is not None and job.attempts == 2
    store.jobs.finish_job(job.id, ok=True, result={"status": "done"})
    assert store.jobs.job_depth() == 0
    assert store.jobs.list_jobs(state="done")[0].result == {"status": "done"}


def test_expired_job_lease_is_taken_over(store: Store) -> None:
    store.jobs.enqueue_job("analyze", {})
    assert store.jobs.claim_job("w1", -1) is not None  # lease already over: as if w1 died
    assert store.jobs.claim_job("w2", 60) is not None


def test_ledger_leases_a_delivery_once(store: Store) -> None:
    jobs = store.jobs
    assert jobs.ledger_state("j1") is None and jobs.ledger_claim("j1", "w1", 60) is None  # unknown job
    jobs.ledger_queued("j1", "analyze")
    info = jobs.ledger_info("j1")
    assert jobs.ledger_state("j1") == ("queued", 0) and info is not None and info[0] == "queued"
    assert jobs.ledger_claim("j1", "w1", 60) == ("run", 1)
    assert jobs.ledger_claim("j1", "w2", 60) == ("running", 1)  # a duplicate delivery: lease is live
    jobs.ledger_queued("j1", "analyze")  # a resend keeps attempts and lease
    assert jobs.ledger_state("j1") == ("running", 1)
    jobs.ledger_mark("j1", "retry", "boom")
    assert jobs.ledger_claim("j1", "w2", -1) == ("run", 2)  # its lease is over at once: w2 "dies"
    assert jobs.ledger_claim("j1", "w3", 60) == ("run", 3)
    jobs.ledger_mark("j1", "done")
    assert jobs.ledger_claim("j1", "w4", 60) == ("done", 3)
    jobs.ledger_queued("j1", "analyze")  # a late resend of a finished job changes nothing
    assert jobs.ledger_state("j1") == ("done", 3)


def test_ledger_claims_race_to_one_run(store: Store) -> None:
    store.jobs.ledger_queued("race", "analyze")
    got: list[tuple[str, int] | None] = []
    barrier = threading.Barrier(4)

    def take(worker: str) -> None:
        barrier.wait()
        got.append(store.jobs.ledger_claim("race", worker, 60))

    ts = [threading.Thread(target=take, args=(f"w{i}",)) for i in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert sorted(got) == [("run", 1)] + [("running", 1)] * 3  # type: ignore[operator]


def test_workers_advertise_releases(store: Store) -> None:
    store.jobs.advertise_worker("w1", ["6.12.12-amd64", "6.1.0-13-amd64", "6.1.0-13-amd64"])
    store.jobs.advertise_worker("w2", [])
    assert store.jobs.live_releases() == {"6.1.0-13-amd64", "6.12.12-amd64"}
    store.jobs.advertise_worker("w1", ["6.1.0-13-amd64"])  # a heartbeat replaces the advert
    assert store.jobs.live_releases() == {"6.1.0-13-amd64"}
    assert store.jobs.live_releases(max_age=-1) == set()  # no worker heard from in the future
