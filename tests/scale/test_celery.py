"""The Celery queue against real servers: Debian's redis-server as broker, PostgreSQL as the database,
and real ``crashhub worker`` subprocesses (Celery prefork pools), as a scaled-out hub runs them.

The job kinds of these tests are in ``scale_jobs.py`` (loaded with ``--register scale_jobs``); the first
test runs the hub's own handlers (``kb-apply``, ``analyze``).
"""

# ruff: noqa: PLC0415 - celery is optional; imported where a test needs it

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.need import need_module
from tests.scale.workers import Workers, job, lines, queue_for, wait_for

from crashhub.jobs._celery_queue import CeleryQueue, Limits
from crashhub.store import SqlStore
from crashhub.store import _models as models

need_module("celery", "celery is not installed (extra 'scale')")
REDIS_OPTIONS = ("--loglevel", "INFO", "--restore-interval", "1")  # --restore-interval: Redis only


@pytest.fixture
def env(tmp_path: Path, redis_url: str, pg_url: str) -> Iterator[tuple[Workers, SqlStore, str]]:
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    store = SqlStore(pg_url)
    store.migrate()
    w = Workers(tmp_path, redis_url, pg_url, REDIS_OPTIONS)
    try:
        yield w, store, pg_url
    finally:
        w.stop_all()
        store.close()


def test_hub_jobs_run_on_a_worker_once_per_key(env: tuple[Workers, SqlStore, str]) -> None:
    w, store, db = env
    w.start("real", register=("crashhub.jobs._handlers",))
    q = queue_for(store, w, db)
    a = q.submit("kb-apply", {}, key="kb-apply:1")
    assert q.submit("kb-apply", {}, key="kb-apply:1") == a  # same key, one job (and one message)
    b = q.submit("analyze", {"crash_id": "c-missing"}, key="analyze:c-missing")
    assert q.route("analyze", {"crash_id": "c-missing"}) == "analyze"  # unknown release: generic queue
    assert q.drain(60), [(_j.kind, _j.state) for _j in store.jobs.list_jobs()]
    ja, jb = job(store, a), job(store, b)
    assert ja.state == "done" and ja.result is not None and "changed" in ja.result
    assert jb.state == "done" and jb.result == {"status": "skipped", "reason": "no crash c-missing"}
    assert q.ledger.state(a) == ("done", 1) and len(store.jobs.list_jobs()) == 2


@pytest.mark.slow
def test_sigkill_mid_task_reruns_and_finishes_once(
    env: tuple[Workers, SqlStore, str], tmp_path: Path
) -> None:
    w, store, db = env
    common = ("--time-limit", "2", "--visibility-timeout", "9", "--backoff", "0.5")
    first = w.start("w1", *common)
    q = queue_for(store, w, db)
    log = tmp_path / "sleep.log"
    jid = q.submit("sleep", {"seconds": 1.5, "log": str(log)}, key="sleep:1")
    wait_for(lambda: len(lines(log, "start")) == 1, 30, "the job to start")
    w.kill9(first)  # the worker and its pool child, mid-task: the message was never acknowledged
    assert lines(log, "end") == [] and job(store, jid).state == "pending"
    w.start("w2", *common)
    wait_for(lambda: job(store, jid).state == "done", 60, "the job to be re-run")
    time.sleep(2.0)  # room for a duplicate delivery to show up, were there one
    starts, ends = lines(log, "start"), lines(log, "end")
    assert [s[1] for s in starts] == ["w1", "w2"] and [e[1] for e in ends] == ["w2"]
    assert q.ledger.state(jid) == ("done", 2)


def test_retries_back_off_then_dead_letter(env: tuple[Workers, SqlStore, str], tmp_path: Path) -> None:
    w, store, db = env
    w.start("w1", "--backoff", "0.5", "--max-attempts", "3", "--time-limit", "20")
    q = queue_for(store, w, db)
    flaky_log, fail_log = tmp_path / "flaky.log", tmp_path / "fail.log"
    ok = q.submit("flaky", {"fail_times": 2, "log": str(flaky_log)}, key="flaky:1")
    bad = q.submit("fail", {"log": str(fail_log)}, key="fail:1")
    assert q.drain(60)
    tries = [float(t[2]) for t in lines(flaky_log, "try")]
    assert len(tries) == 3 and len(lines(flaky_log, "end")) == 1
    gaps = [b - a for a, b in itertools.pairwise(tries)]
    # 0.5 s then 1 s (±10% jitter), each plus the worker's own latency.
    assert 0.4 < gaps[0] < 5.0 and gaps[1] > 0.85 and gaps[1] > gaps[0] + 0.2, gaps
    assert job(store, ok).state == "done" and job(store, ok).result == {"tries": 3}
    dead = job(store, bad)
    assert dead.state == "failed" and dead.error is not None
    assert dead.error.startswith("dead letter after 3 attempt(s): ValueError: this job always fails")
    assert len(lines(fail_log, "try")) == 3 and q.ledger.state(bad) == ("dead", 3)
    assert [j.id for j in store.jobs.list_jobs(state="failed")] == [
        bad
    ]  # what GET /api/v1/jobs?state=failed lists


def test_routing_by_release(env: tuple[Workers, SqlStore, str], tmp_path: Path) -> None:
    w, store, db = env
    w.start("w61", "--releases", "6.1.0-13-amd64")
    w.start("w612", "--releases", "6.12.12-amd64")
    q = queue_for(store, w, db)
    assert q.route("analyze", {"release": "6.1.0-13-amd64"}) == "analyze.6.1.0-13-amd64"
    assert q.route("analyze", {"release": "5.10.0-9-amd64"}) == "analyze"  # nobody holds it
    assert q.route("kb-apply", {}) == "crashhub"
    log = tmp_path / "route.log"
    for i in range(4):
        q.submit("analyze", {"release": "6.1.0-13-amd64", "log": str(log)}, key=f"a61:{i}")
        q.submit("analyze", {"release": "6.12.12-amd64", "log": str(log)}, key=f"a612:{i}")
    assert q.drain(60)
    ran = {(ln[1], ln[2]) for ln in lines(log, "analyze")}
    assert ran == {("6.1.0-13-amd64", "w61"), ("6.12.12-amd64", "w612")}
    assert len(lines(log, "analyze")) == 8


def test_time_and_memory_limits(env: tuple[Workers, SqlStore, str], tmp_path: Path) -> None:
    w, store, db = env
    w.start("w1", "--time-limit", "1", "--max-memory-mb", "400", "--max-attempts", "1")
    q = queue_for(store, w, db)
    log = tmp_path / "limits.log"
    slow = q.submit("sleep", {"seconds": 30, "log": str(log)}, key="slow:1")
    hog = q.submit("hog", {"mb": 600, "log": str(log)}, key="hog:1")
    small = q.submit("hog", {"mb": 50, "log": str(log)}, key="hog:2")
    assert q.drain(60)
    assert (job(store, slow).error or "").startswith("dead letter after 1 attempt(s): SoftTimeLimitExceeded")
    assert (job(store, hog).error or "").startswith("dead letter after 1 attempt(s): MemoryError")
    assert job(store, small).state == "done" and job(store, small).result == {"allocated": 50 << 20}


def test_broker_down_at_submit_is_resent_later(tmp_path: Path, redis_url: str) -> None:
    """The job row outlives a broker outage: resend_pending() sends it once the broker answers."""
    import socket

    import redis

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        dead_port = sock.getsockname()[1]
    db = f"sqlite:///{tmp_path / 'hub.db'}"
    store = SqlStore(db)
    store.migrate()
    r = redis.Redis.from_url(redis_url)
    r.flushdb()
    down = CeleryQueue(store, f"redis://127.0.0.1:{dead_port}/0")
    t0 = time.monotonic()
    jid = down.submit("kb-apply", {}, key="kb-apply:outage")
    assert time.monotonic() - t0 < 30 and job(store, jid).state == "pending"
    assert down.ledger.state(jid) is None and r.llen("crashhub") == 0
    up = CeleryQueue(store, redis_url)
    assert up.resend_pending() == 1 and up.resend_pending() == 0  # sent once
    assert r.llen("crashhub") == 1 and up.ledger.state(jid) == ("queued", 0)
    store.close()


def test_redis_restart_loses_no_job(tmp_path: Path, own_redis: Any, pg_url: str) -> None:
    """A Redis without persistence restarts and forgets its queues: the hub's sweep re-sends the jobs
    still waiting, the worker reconnects by itself, and each job runs once."""
    store = SqlStore(pg_url)
    store.migrate()
    w = Workers(tmp_path, own_redis.url, pg_url, REDIS_OPTIONS)
    try:
        q = CeleryQueue(store, own_redis.url)
        log = tmp_path / "sleep.log"
        jid = q.submit("sleep", {"seconds": 0.1, "log": str(log)}, key="sleep:restart")
        assert q.resend_pending(stale_after=0) == 0  # its message is in the queue: nothing to resend
        own_redis.stop()
        own_redis.start()  # same port, empty
        worker = w.start("w1", "--backoff", "0.5")
        time.sleep(1.0)
        assert job(store, jid).state == "pending" and not log.exists()  # the message is gone
        assert q.resend_pending(stale_after=0) == 1
        wait_for(lambda: job(store, jid).state == "done", 60, "the resent job")
        assert len(lines(log, "end")) == 1 and q.resend_pending(stale_after=0) == 0
        # The worker outlives a second restart (Celery reconnects) and takes new work.
        own_redis.stop()
        own_redis.start()
        j2 = q.submit("sleep", {"seconds": 0.1, "log": str(log)}, key="sleep:after")
        wait_for(lambda: job(store, j2).state == "done", 60, "a job after the restart")
        assert worker.poll() is None and len(lines(log, "end")) == 2
    finally:
        w.stop_all()
        store.close()


@pytest.mark.slow
def test_postgres_down_at_the_end_of_a_job(
    env: tuple[Workers, SqlStore, str], tmp_path: Path, pg_control: Any
) -> None:
    """PostgreSQL dies while a job runs, so its result cannot be stored: the task tries again until the
    database is back, and the job ends done once (its idempotent handler may run twice)."""
    w, store, db = env
    w.start("w1", "--time-limit", "2", "--backoff", "0.5")
    q = queue_for(store, w, db)
    log = tmp_path / "pg.log"
    jid = q.submit("sleep", {"seconds": 1.5, "log": str(log)}, key="sleep:pg")
    wait_for(lambda: len(lines(log, "start")) == 1, 30, "the job to start")
    pg_control.stop()
    wait_for(lambda: len(lines(log, "end")) == 1, 30, "the handler to return")
    time.sleep(2.0)  # the task fails to record it, and retries against a dead database
    pg_control.start()
    wait_for(lambda: job(store, jid).state == "done", 60, "the job to be recorded once the database is back")
    assert q.ledger.state(jid) is not None and q.ledger.state(jid)[0] == "done"  # type: ignore[index]
    assert len(store.jobs.list_jobs()) == 1 and job(store, jid).result is not None


def test_a_dropped_claimed_job_is_resent(tmp_path: Path, redis_url: str) -> None:
    """A job claimed long ago that never finished (its message was dropped) is sent again by the sweep."""
    import redis

    db = f"sqlite:///{tmp_path / 'hub.db'}"
    store = SqlStore(db)
    store.migrate()
    r = redis.Redis.from_url(redis_url)
    r.flushdb()
    q = CeleryQueue(store, redis_url, limits=Limits(visibility=5))
    jid = q.submit("kb-apply", {}, key="kb-apply:dropped")
    r.flushdb()  # the message is gone...
    assert q.ledger.claim(jid, "kb-apply", "w-dead", 1) == ("run", 1)  # ...after a worker took it
    assert q.resend_pending() == 0  # not stale yet
    with store.engine.begin() as c:
        c.execute(models.Base.metadata.tables["celery_jobs"].update().values(updated_at=time.time() - 3600))
    assert q.resend_pending() == 1 and r.llen("crashhub") == 1
    assert q.resend_pending() == 0  # its clock restarted: one resend per period, not one per sweep
    store.close()
