"""The Celery task's bookkeeping without any server: leases, attempts, dead letters (SQLite)."""

# ruff: noqa: PLC0415 - imports where a test needs them

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from tests.need import need_module

from crashhub.jobs._celery_queue import Ledger, Limits, Runtime, release_queue, run_job
from crashhub.store import SqlStore
from crashhub.store import _models as models

need_module("celery", "celery is not installed (extra 'scale')")


class Retry(Exception):
    def __init__(self, countdown: float, exc: BaseException) -> None:
        self.countdown, self.exc = countdown, exc


def _retry(countdown: float, exc: BaseException) -> BaseException:
    return Retry(countdown, exc)


@pytest.fixture
def rt(tmp_path: Path) -> Runtime:
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    store = SqlStore(url)
    store.migrate()
    limits = Limits(soft_time=10, hard_time=20, max_attempts=3, backoff_base=2, backoff_max=5)
    return Runtime(store=store, handlers={}, ledger=Ledger(store.jobs), limits=limits, worker="w1")


def test_limits_and_names() -> None:
    lim = Limits(backoff_base=10, backoff_max=35, hard_time=100)
    for attempt, delay in ((1, 10), (2, 20), (3, 35), (9, 35)):  # doubled, capped, ±10% jitter
        assert 0.9 * delay <= lim.backoff(attempt) <= 1.1 * delay
    assert lim.lease == 115 and lim.visibility_timeout == 115 + 35 + 30
    assert release_queue("6.1.0-13-amd64") == "analyze.6.1.0-13-amd64"
    assert release_queue("5.14.0-362.el9.x86_64 evil/name") == "analyze.5.14.0-362.el9.x86_64_evil_name"


def test_claim_lease_and_states(rt: Runtime) -> None:
    led = rt.ledger
    assert led.claim("j1", "sleep", "w1", 60) == ("run", 1)  # never queued: row made on the fly
    assert led.claim("j1", "sleep", "w2", 60) == ("busy", 1)  # a duplicate delivery waits
    led.queued("j1", "sleep")  # a resend does not reset the attempts
    assert led.state("j1") == ("running", 1)
    assert isinstance(rt.store, SqlStore)
    with rt.store.engine.begin() as c:  # the holder died: its lease runs out
        c.execute(models.Base.metadata.tables["celery_jobs"].update().values(lease_until=time.time() - 1))
    assert led.claim("j1", "sleep", "w2", 60) == ("run", 2)
    led.mark("j1", "done")
    assert led.claim("j1", "sleep", "w3", 60) == ("done", 2)
    led.advertise("w1", ["6.1.0-13-amd64", "6.12.12-amd64"])
    led.advertise("w1", ["6.1.0-13-amd64"])  # a heartbeat replaces the advert
    assert led.live_releases() == {"6.1.0-13-amd64"} and led.live_releases(max_age=-1) == set()


def test_run_job_retries_then_dead_letter(rt: Runtime) -> None:
    calls: list[dict[str, Any]] = []

    def boom(p: dict[str, Any]) -> dict[str, Any]:
        calls.append(p)
        raise OSError("disk on fire")

    rt.handlers["boom"] = boom
    jid, _ = rt.store.jobs.enqueue_job("boom", {"n": 1}, key="boom:1")
    rt.ledger.queued(jid, "boom")
    with pytest.raises(Retry) as r1:
        run_job(rt, jid, "boom", {"n": 1}, _retry)
    assert 1.8 <= r1.value.countdown <= 2.2 and isinstance(r1.value.exc, OSError)
    with pytest.raises(Retry) as r2:
        run_job(rt, jid, "boom", {"n": 1}, _retry)
    assert 3.6 <= r2.value.countdown <= 4.4 and rt.ledger.state(jid) == ("retry", 2)
    assert run_job(rt, jid, "boom", {"n": 1}, _retry) is None  # third and last attempt
    job = rt.store.jobs.list_jobs(state="failed")[0]
    assert (
        job.id == jid
        and job.error is not None
        and job.error.startswith("dead letter after 3 attempt(s): OSError")
    )
    assert len(calls) == 3 and run_job(rt, jid, "boom", {"n": 1}, _retry) == {"skipped": "dead"}


def test_worker_dying_every_time_ends_as_dead_letter(rt: Runtime) -> None:
    """Attempts count even when no exception was raised (hard time limit or OOM killed the process)."""
    rt.handlers["hang"] = lambda p: {"never": True}
    jid, _ = rt.store.jobs.enqueue_job("hang", {}, key="hang:1")
    for _ in range(3):  # three deliveries, each killed mid-run: the lease is left behind and runs out
        assert rt.ledger.claim(jid, "hang", "w1", -1)[0] == "run"
    assert run_job(rt, jid, "hang", {}, _retry) is None
    job = rt.store.jobs.list_jobs(state="failed")[0]
    assert job.error is not None and "died in every attempt" in job.error and "3 attempt(s)" in job.error


def test_done_job_is_not_run_again_and_unknown_kind_is_dead(rt: Runtime) -> None:
    runs: list[int] = []
    rt.handlers["once"] = lambda p: {"n": runs.append(1) or len(runs)}
    jid, _ = rt.store.jobs.enqueue_job("once", {}, key="once:1")
    assert run_job(rt, jid, "once", {}, _retry) == {"n": 1}
    assert run_job(rt, jid, "once", {}, _retry) == {"skipped": "done"} and runs == [1]
    assert rt.store.jobs.list_jobs(state="done")[0].result == {"n": 1}
    other, _ = rt.store.jobs.enqueue_job("nope", {}, key="nope:1")
    assert run_job(rt, other, "nope", {}, _retry) is None
    assert "no handler for job kind 'nope'" in (rt.store.jobs.list_jobs(state="failed")[0].error or "")


def test_queue_from_settings(tmp_path: Path) -> None:
    from crashhub import config
    from crashhub.errors import ConfigError
    from crashhub.jobs import queue_from_settings

    settings = config.load(tmp_path, env={"CRASHHUB_ANALYZE_TIMEOUT": "100"})
    store = SqlStore(settings.db_url)
    store.migrate()
    with pytest.raises(ConfigError, match="needs a broker"):
        queue_from_settings(settings, store)
    env = {"CRASHHUB_ANALYZE_TIMEOUT": "100", "CRASHHUB_BROKER_URL": "redis://127.0.0.1:1/0"}
    q = queue_from_settings(config.load(tmp_path, env=env), store)  # nothing connects until a job is sent
    assert (q.limits.soft_time, q.limits.hard_time) == (100.0, 110.0)
    assert q.app.conf.task_acks_late and q.app.conf.broker_transport_options["visibility_timeout"] > 1800
    store.close()
