"""The Celery queue on RabbitMQ: Debian's ``rabbitmq-server`` as broker (a private node per session, see
``rabbit.py``; a virtual host per test), PostgreSQL as the database, and real ``crashhub worker``
subprocesses, as a scaled-out hub runs them with ``broker_url = amqp://...``.

What differs from Redis and is checked here: RabbitMQ redelivers a killed worker's message as soon as its
connection drops (no visibility timeout), retries wait in the worker as unacknowledged ETA messages,
publishes are confirmed, queues and messages survive a broker crash, a worker reconnects by itself, and
one that holds a job past the broker's ``consumer_timeout`` exits (Celery 5.7) with nothing run twice.
The job kinds are ``scale_jobs.py``'s (``--register scale_jobs``); the first test runs the hub's own.
"""

# ruff: noqa: PLC0415 - kombu is optional; imported where a test needs it

from __future__ import annotations

import itertools
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.need import need_module
from tests.scale.rabbit import (  # noqa: F401 - the fixtures, imported to be used here
    RabbitNode,
    amqp_vhost_fixture,
    own_rabbit_fixture,
    rabbit_fixture,
)
from tests.scale.workers import Workers, job, lines, queue_for, wait_for

from crashhub.jobs._celery_queue import CeleryQueue, Limits, amqp_advice, is_amqp
from crashhub.store import SqlStore

need_module("celery", "celery is not installed (extra 'hub')")



@pytest.fixture
def env(tmp_path: Path, amqp_vhost: str, pg_url: str) -> Iterator[tuple[Workers, SqlStore, str]]:
    store = SqlStore(pg_url)
    store.migrate()
    w = Workers(tmp_path, amqp_vhost, pg_url)
    try:
        yield w, store, pg_url
    finally:
        w.stop_all()
        store.close()


def _ready_messages(url: str, queue: str) -> int:
    """Messages waiting in a queue, as the broker counts them (not those a worker holds)."""
    import kombu

    with kombu.Connection(url) as conn:
        _, count, _ = conn.default_channel.queue_declare(queue=queue, passive=True)
        return int(count)


def test_amqp_settings() -> None:
    """The RabbitMQ-only pieces of the app: publisher confirms on, the Redis-only option off, and the
    consumer_timeout the worker asks for covers its longest unacknowledged hold."""
    from crashhub.jobs import make_app

    assert is_amqp("amqp://u:p@mq:5672/crashhub") and is_amqp("AMQPS://mq//")
    assert not is_amqp("redis://r:6379/0") and not is_amqp("rediss://r/0")
    lim = Limits()
    amqp = make_app("amqp://guest:guest@127.0.0.1:1//", lim).conf.broker_transport_options
    redis = make_app("redis://127.0.0.1:1/0", lim).conf.broker_transport_options
    assert amqp == {"confirm_publish": True}
    assert redis == {"visibility_timeout": int(lim.visibility_timeout) + 1}
    # Defaults: lease 975 s; longest countdown the "busy" retry (975/4) over the last backoff (132 s).
    assert lim.max_unacked == pytest.approx(975 / 4 + 2 * 975)
    short, text = amqp_advice(lim)
    assert short and "at least 2193750 ms" in text  # the stock 30 min is too short for the defaults
    quick = Limits(soft_time=60, hard_time=66, backoff_base=30, max_attempts=4)
    assert not amqp_advice(quick)[0] and quick.max_unacked < 1800


def test_hub_jobs_run_on_a_worker_once_per_key(env: tuple[Workers, SqlStore, str]) -> None:
    w, store, db = env
    w.start("real", register=("crashhub.jobs._handlers",))
    q = queue_for(store, w, db)
    a = q.submit("kb-apply", {}, key="kb-apply:1")
    assert q.submit("kb-apply", {}, key="kb-apply:1") == a  # same key, one job (and one message)
    b = q.submit("analyze", {"crash_id": "c-missing"}, key="analyze:c-missing")
    assert q.drain(60), [(_j.kind, _j.state) for _j in store.jobs.list_jobs()]
    ja, jb = job(store, a), job(store, b)
    assert ja.state == "done" and ja.result is not None and "changed" in ja.result
    assert jb.state == "done" and jb.result == {"status": "skipped", "reason": "no crash c-missing"}
    assert q.ledger.state(a) == ("done", 1) and q.ledger.state(b) == ("done", 1)
    assert len(store.jobs.list_jobs()) == 2
    # The worker told what RabbitMQ's consumer_timeout must be for its limits.
    assert "consumer_timeout in rabbitmq.conf must be at least" in w.log("real")


def test_retries_dead_letter_and_routing(env: tuple[Workers, SqlStore, str], tmp_path: Path) -> None:
    """Countdown retries are ETA messages the worker holds unacknowledged on RabbitMQ; the last failure is
    the dead letter; an analysis of a release a worker advertises goes to its ``analyze.<R>`` queue."""
    w, store, db = env
    w.start(
        "w61", "--backoff", "0.5", "--max-attempts", "3", "--time-limit", "20", "--releases", "6.1.0-13-amd64"
    )
    q = queue_for(store, w, db)
    flaky_log, fail_log, route_log = tmp_path / "flaky.log", tmp_path / "fail.log", tmp_path / "route.log"
    ok = q.submit("flaky", {"fail_times": 2, "log": str(flaky_log)}, key="flaky:1")
    bad = q.submit("fail", {"log": str(fail_log)}, key="fail:1")
    assert q.route("analyze", {"release": "6.1.0-13-amd64"}) == "analyze.6.1.0-13-amd64"
    for i in range(2):
        q.submit("analyze", {"release": "6.1.0-13-amd64", "log": str(route_log)}, key=f"a61:{i}")
    assert q.drain(60), [(_j.kind, _j.state) for _j in store.jobs.list_jobs()]
    tries = [float(t[2]) for t in lines(flaky_log, "try")]
    assert len(tries) == 3 and len(lines(flaky_log, "end")) == 1
    gaps = [b - a for a, b in itertools.pairwise(tries)]
    assert 0.4 < gaps[0] < 5.0 and gaps[1] > 0.85 and gaps[1] > gaps[0] + 0.2, gaps  # 0.5 s, then 1 s
    assert job(store, ok).result == {"tries": 3} and q.ledger.state(ok) == ("done", 3)
    dead = job(store, bad)
    assert dead.state == "failed" and q.ledger.state(bad) == ("dead", 3)
    assert (dead.error or "").startswith("dead letter after 3 attempt(s): ValueError: this job always fails")
    assert [(ln[1], ln[2]) for ln in lines(route_log, "analyze")] == [("6.1.0-13-amd64", "w61")] * 2
    # Nothing left behind in the broker: every message, retries included, was acknowledged.
    for name in ("crashhub", "analyze", "analyze.6.1.0-13-amd64"):
        assert _ready_messages(w.broker, name) == 0, name


@pytest.mark.slow
def test_sigkill_mid_task_is_redelivered_and_finishes_once(
    env: tuple[Workers, SqlStore, str], tmp_path: Path
) -> None:
    w, store, db = env
    common = ("--time-limit", "2", "--backoff", "0.5")
    first = w.start("w1", *common)
    q = queue_for(store, w, db)
    log = tmp_path / "sleep.log"
    jid = q.submit("sleep", {"seconds": 1.5, "log": str(log)}, key="sleep:1")
    wait_for(lambda: len(lines(log, "start")) == 1, 30, "the job to start", w)
    w.kill9(first)  # the worker and its pool child, mid-task: the message was never acknowledged
    assert lines(log, "end") == [] and job(store, jid).state == "pending"
    # RabbitMQ requeued it when the connection dropped: it waits in the queue for the next worker.
    wait_for(lambda: _ready_messages(w.broker, "crashhub") == 1, 10, "the message to be requeued")
    w.start("w2", *common)
    wait_for(lambda: job(store, jid).state == "done", 60, "the job to be re-run", w)
    time.sleep(2.0)  # room for a duplicate delivery to show up, were there one
    starts, ends = lines(log, "start"), lines(log, "end")
    assert [s[1] for s in starts] == ["w1", "w2"] and [e[1] for e in ends] == ["w2"]
    assert q.ledger.state(jid) == ("done", 2) and _ready_messages(w.broker, "crashhub") == 0


def test_broker_down_at_submit_is_resent_later(tmp_path: Path, amqp_vhost: str) -> None:
    """No broker at submit: the job row waits, resend_pending() sends it once (the passive queue count,
    and RabbitMQ's NotFound for a queue never declared, answer whether a message is there)."""
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        dead_port = sock.getsockname()[1]
    db = f"sqlite:///{tmp_path / 'hub.db'}"
    store = SqlStore(db)
    store.migrate()
    try:
        down = CeleryQueue(store, f"amqp://guest:guest@127.0.0.1:{dead_port}//")
        t0 = time.monotonic()
        jid = down.submit("kb-apply", {}, key="kb-apply:outage")
        assert time.monotonic() - t0 < 30 and job(store, jid).state == "pending"
        assert down.ledger.state(jid) is None
        up = CeleryQueue(store, amqp_vhost)
        assert up._queue_empty("crashhub")  # never declared in this vhost: NotFound
        assert up.resend_pending() == 1 and up.resend_pending() == 0  # sent once
        assert _ready_messages(amqp_vhost, "crashhub") == 1 and up.ledger.state(jid) == ("queued", 0)
        assert not up._queue_empty("crashhub")
        assert up.resend_pending(stale_after=0) == 0  # stale, but its message is in the queue
    finally:
        store.close()


@pytest.mark.slow
def test_rabbitmq_crash_and_restart(tmp_path: Path, own_rabbit: RabbitNode, pg_url: str) -> None:
    """The node is killed (SIGKILL, as a crash) while a worker runs a job and another waits in the queue,
    and a job is submitted while it is down.  After its restart: the confirmed message is still there,
    the unsent job is sent by the sweep, the worker reconnects by itself, and each job runs to the end
    once (the one running across the crash is redelivered; the ledger drops the copy)."""
    store = SqlStore(pg_url)
    store.migrate()
    w = Workers(tmp_path, own_rabbit.url, pg_url)
    try:
        worker = w.start("w1", "--time-limit", "20", "--backoff", "0.5")
        q = CeleryQueue(store, own_rabbit.url, limits=Limits(soft_time=20, hard_time=25))
        log = tmp_path / "sleep.log"
        j1 = q.submit("sleep", {"seconds": 0.1, "log": str(log)}, key="sleep:before")
        wait_for(lambda: job(store, j1).state == "done", 60, "a first job", w)
        running = q.submit("sleep", {"seconds": 4, "log": str(log)}, key="sleep:across")
        wait_for(lambda: len(lines(log, "start")) == 2, 30, "the long job to start", w)
        waiting = q.submit("sleep", {"seconds": 0.1, "log": str(log)}, key="sleep:waiting")
        assert _ready_messages(own_rabbit.url, "crashhub") == 1  # behind the running one (prefetch 1)
        own_rabbit.stop(kill=True)
        unsent = q.submit("sleep", {"seconds": 0.1, "log": str(log)}, key="sleep:down")
        assert q.ledger.state(unsent) is None  # not sent: no broker
        own_rabbit.start()
        assert q.resend_pending() == 1  # the unsent one only: the waiting one's message survived
        after = q.submit("sleep", {"seconds": 0.1, "log": str(log)}, key="sleep:after")  # hub reconnects
        jobs = [j1, running, waiting, unsent, after]
        wait_for(lambda: all(job(store, j).state == "done" for j in jobs), 90, "every job to finish", w)
        time.sleep(2.0)  # room for a duplicate to show up, were there one
        assert worker.poll() is None, w.log("w1")[-2000:]  # reconnected rather than exited
        # Each job's handler ran once, the one across the crash too: its requeued message came back
        # and the ledger dropped it (done), or held it until the first run was done (busy).
        assert len(lines(log, "start")) == len(lines(log, "end")) == len(jobs)
        wlog = w.log("w1")
        assert "Connection to broker lost" in wlog and wlog.count("Connected to amqp://") >= 2
        assert f"job {running} is already done; this delivery is dropped" in wlog or (
            f"job {running} is running elsewhere" in wlog
        )
        assert all(q.ledger.state(j) is not None and q.ledger.state(j)[0] == "done" for j in jobs)  # type: ignore[index]
        assert _ready_messages(own_rabbit.url, "crashhub") == 0
    finally:
        w.stop_all()
        store.close()


@pytest.mark.slow
def test_past_consumer_timeout_the_worker_exits_and_nothing_runs_twice(tmp_path: Path, pg_url: str) -> None:
    """A job held unacknowledged past RabbitMQ's consumer_timeout: the broker closes the worker's channel
    and requeues the job.  Celery 5.7 takes that PRECONDITION_FAILED for an unrecoverable error: the
    worker lets the running job finish, then exits (status 1); its unit's Restart=always starts it
    again, and the requeued copy of the finished job is dropped.  Why docs/deploy.md says to set
    consumer_timeout above what the worker logs."""
    from tests.scale.rabbit import start_node

    node = start_node(
        tmp_path / "rabbit",
        conf="consumer_timeout = 2000\n",
        # The timeout is checked on each channel's tick, every 60 s by default: every second here.
        advanced="[{rabbit, [{channel_tick_interval, 1000}]}].\n",
    )
    store = SqlStore(pg_url)
    store.migrate()
    w = Workers(tmp_path, node.url, pg_url)
    try:
        first = w.start("w1", "--time-limit", "30", "--backoff", "0.5")
        q = CeleryQueue(store, node.url, limits=Limits(soft_time=30, hard_time=35))
        log = tmp_path / "sleep.log"
        jid = q.submit("sleep", {"seconds": 5, "log": str(log)}, key="sleep:long")
        wait_for(lambda: first.poll() is not None, 60, "the worker to exit", w)
        assert first.returncode != 0
        assert "delivery acknowledgement on channel 1 timed out" in w.log("w1")
        assert job(store, jid).state == "done" and len(lines(log, "end")) == 1  # finished before exiting
        assert _ready_messages(node.url, "crashhub") == 1  # ...and requeued by the broker all the same
        w.start("w1-restarted", "--time-limit", "30", "--backoff", "0.5")  # what systemd does
        later = q.submit("sleep", {"seconds": 0.1, "log": str(log)}, key="sleep:later")
        wait_for(lambda: job(store, later).state == "done", 60, "a later job", w)
        wait_for(lambda: _ready_messages(node.url, "crashhub") == 0, 30, "the requeued copy to be taken", w)
        assert f"job {jid} is already done; this delivery is dropped" in w.log("w1-restarted")
        assert len(lines(log, "start")) == len(lines(log, "end")) == 2
        assert q.ledger.state(jid) == ("done", 1)
    finally:
        w.stop_all()
        store.close()
        node.close()
