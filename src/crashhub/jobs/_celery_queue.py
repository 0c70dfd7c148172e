"""The job queue on Celery (issue 9): jobs run on ``crashhub worker`` processes behind a broker.

Every job goes through one Celery task, ``crashhub.run_job(job_id, kind, payload, key)``, which looks
the handler up in the same registry the in-process queue uses (``Queue.handlers``, filled by
``crashhub.jobs._handlers.register``), so a handler never knows which queue ran it.

What makes a job run once, and only once to completion:

- The job is first written to the store's ``jobs`` table (``Store.jobs.enqueue_job``, unique by key), then
  sent to the broker: two hub nodes submitting the same key make one job and one message.  A send that
  fails (broker down) leaves the row; :meth:`CeleryQueue.resend_pending` re-sends it later.
- Late acks (``task_acks_late``) and ``task_reject_on_worker_lost``: a message is acknowledged only once
  its task has finished, so a worker killed with SIGKILL mid-task leaves it to be delivered again
  (Redis: after ``visibility_timeout``; RabbitMQ: as soon as the worker's connection drops; a killed
  pool child: at once).
- A ledger (table ``celery_jobs``, kept by the store's jobs repository) gives each job a
  lease and an attempt count: a redelivered or duplicate message of a job that is done is dropped, one
  whose lease is still live waits, and attempts count even when the worker died and no exception was
  ever raised (a job that kills its worker every time ends as a dead letter instead of looping).
- Failures are retried with exponential backoff; after the last attempt the job is finished in the store
  as ``failed`` with the error (the dead-letter record, listed by ``GET /api/v1/jobs?state=failed``).

Routing by kernel release: ``analyze`` jobs go to the queue ``analyze.<release>`` when a live worker
advertises that release (table ``celery_workers``, refreshed by each worker's heartbeat), so the
worker whose debuginfo cache holds that kernel gets it; otherwise to ``analyze``, which every worker
consumes, so no job waits for a worker that does not exist.  Other kinds go to ``crashhub``.
"""

# ruff: noqa: PLC0415 - Celery is imported lazily: the embedded hub runs without it.

from __future__ import annotations

import logging
import random
import re
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from crashhub.errors import ConfigError, StoreError
from crashhub.jobs._base import Queue

if TYPE_CHECKING:
    from celery import Celery  # type: ignore[import-untyped,unused-ignore]

    from crashhub.config import Settings
    from crashhub.store import Jobs, Store

log = logging.getLogger("crashhub.jobs.celery")

TASK_NAME = "crashhub.run_job"
INFRA_RETRIES = 100  # deliveries retried while the database fails (60 s apart at most: over 1.5 h)
DEFAULT_QUEUE = "crashhub"
ANALYZE_QUEUE = "analyze"
_RELEASE_OK = re.compile(r"[^A-Za-z0-9._+~-]")


def release_queue(release: str) -> str:
    """The queue name of one kernel release (characters a broker may dislike become ``_``)."""
    return f"{ANALYZE_QUEUE}.{_RELEASE_OK.sub('_', release)[:200]}"


@dataclass(frozen=True)
class Limits:
    """Per-task limits; the broker's visibility timeout is derived from them."""

    soft_time: float = 900.0  # SoftTimeLimitExceeded is raised in the task
    hard_time: float = 960.0  # the pool kills the child process
    max_memory_mb: int = 16384  # RLIMIT_DATA in each pool child; 0 = unlimited
    max_attempts: int = 4  # first run + 3 retries
    backoff_base: float = 30.0  # seconds before the first retry, doubled each time
    backoff_max: float = 1800.0
    visibility: float | None = None  # override of the derived broker visibility timeout (tests)

    def backoff(self, attempt: int) -> float:
        """Delay before the retry following ``attempt`` (1-based), with ±10% jitter against herds."""
        d = min(self.backoff_max, self.backoff_base * 2 ** max(0, attempt - 1))
        return float(d * random.uniform(0.9, 1.1))

    @property
    def lease(self) -> float:
        # No run outlives the hard limit, so a lease a little past it is free again once its holder died.
        return self.hard_time + min(15.0, self.hard_time / 4)

    @property
    def max_unacked(self) -> float:
        """Longest a worker may hold one message unacknowledged (what RabbitMQ's consumer_timeout must
        exceed): the longest retry countdown (an ETA message waits in the worker, unacknowledged),
        then a wait for a pool slot busy with a run already under way, then its own run."""
        last = max(1, self.max_attempts - 1)  # the last retry follows this attempt
        countdown = max(
            min(self.backoff_max, self.backoff_base * 2.0 ** (last - 1)) * 1.1,  # +10% jitter
            self.lease / 4,  # "busy": another delivery holds the lease
            60.0,  # the database-outage retries of install_task
        )
        return countdown + 2 * self.lease

    @property
    def visibility_timeout(self) -> float:
        # Redis redelivers an unacked message after this; it must outlast a run and a retry's countdown
        # (countdown messages sit unacked in the worker) or a live job is delivered twice.
        if self.visibility is not None:
            return self.visibility
        return self.lease + self.backoff_max + 30.0


def is_amqp(broker_url: str) -> bool:
    """Whether the URL names an AMQP 0-9-1 broker (RabbitMQ) rather than Redis."""
    return broker_url.split("://", 1)[0].lower() in ("amqp", "amqps", "pyamqp")


# RabbitMQ closes a channel (PRECONDITION_FAILED, "delivery acknowledgement timed out") whose oldest
# unacknowledged delivery is older than consumer_timeout: since 3.8.15; 30 min by default since 3.8.17.
RABBITMQ_CONSUMER_TIMEOUT_MS = 1_800_000


def amqp_advice(limits: Limits) -> tuple[bool, str]:
    """(whether RabbitMQ's default consumer_timeout is too short, the advice) for a worker's log."""
    need = int(limits.max_unacked * 1000)
    text = (
        f"RabbitMQ broker: consumer_timeout in rabbitmq.conf must be at least {need} ms "
        f"(2 x hard time limit {limits.hard_time:.0f} s + lease margin + longest retry delay); "
        f"the default is {RABBITMQ_CONSUMER_TIMEOUT_MS} ms. Past it RabbitMQ closes the channel and "
        "requeues its jobs, and this worker exits once its running jobs end (Celery takes it for an "
        "unrecoverable error; its unit restarts it); the ledger keeps the copies from running twice"
    )
    return need > RABBITMQ_CONSUMER_TIMEOUT_MS, text


def make_app(broker_url: str, limits: Limits, *, transport_options: dict[str, Any] | None = None) -> Celery:
    from celery import Celery

    app = Celery("crashhub", broker=broker_url, set_as_current=False)
    opts: dict[str, Any]
    if is_amqp(broker_url):
        # RabbitMQ: basic.publish is asynchronous, so without publisher confirms a send that "worked"
        # may still be lost (broker dying, or rejecting it) while the ledger says "queued" and the
        # hub's sweep waits for an empty queue before sending it again.  With confirms, send_task
        # returns once the broker holds the message (on disk: Celery's queues are durable and its
        # messages persistent), which is what the store-first submit relies on.  Redelivery needs no
        # option: RabbitMQ requeues a consumer's unacknowledged messages when its channel closes.
        # (visibility_timeout is a Redis/SQS transport option; py-amqp would ignore it.)
        opts = {"confirm_publish": True}
    else:
        opts = {"visibility_timeout": int(limits.visibility_timeout) + 1}
    opts.update(transport_options or {})
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,  # a long analysis never holds a second job hostage
        task_ignore_result=True,  # results live in the store, not in a result backend
        task_serializer="json",
        accept_content=["json"],
        task_default_queue=DEFAULT_QUEUE,
        task_soft_time_limit=limits.soft_time,
        task_time_limit=limits.hard_time,
        broker_transport_options=opts,
        broker_connection_retry_on_startup=True,
        # On a lost broker connection (a RabbitMQ restart) the broker requeues the messages of running
        # late-ack tasks.  Let those runs finish rather than cancel them (Celery 6's planned default):
        # the ledger's lease makes the redelivered copy wait ("busy") and then drop as "done", whereas a
        # cancelled run would leave its lease held and the job stalled until the lease ran out.
        worker_cancel_long_running_tasks_on_connection_loss=False,
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
    )
    return app


class Ledger:
    """Attempts, leases and worker adverts of the jobs a broker delivers, kept by the store's jobs
    repository (``Jobs.ledger_*``; tables ``celery_jobs`` and ``celery_workers``, migration 0005).

    Apart from the job's own row because a delivery may come before the ledger knows the job (a
    message sent before an upgrade), twice (a resend racing a redelivery) or after it ended.
    """

    def __init__(self, jobs: Jobs) -> None:
        self.jobs = jobs

    def state(self, job_id: str) -> tuple[str, int] | None:
        return self.jobs.ledger_state(job_id)

    def queued(self, job_id: str, kind: str) -> None:
        self.jobs.ledger_queued(job_id, kind)

    def info(self, job_id: str) -> tuple[str, float] | None:
        """(state, when it last changed) of a job the ledger knows."""
        return self.jobs.ledger_info(job_id)

    def claim(self, job_id: str, kind: str, worker: str, lease: float) -> tuple[str, int]:
        """``("run", attempt)``, or ``("done"|"dead"|"busy", attempts)`` when this delivery must not run."""
        for _ in range(3):
            got = self.jobs.ledger_claim(job_id, worker, lease)
            if got is not None:
                verdict, attempts = got
                return ("busy" if verdict == "running" else verdict), attempts
            self.queued(job_id, kind)  # sent before the ledger existed, or its row was lost
        raise StoreError(f"cannot claim job {job_id}")

    def mark(self, job_id: str, state: str, error: str | None = None) -> None:
        self.jobs.ledger_mark(job_id, state, error)

    def advertise(self, worker: str, releases: Iterable[str]) -> None:
        self.jobs.advertise_worker(worker, releases)

    def live_releases(self, max_age: float = 120.0) -> set[str]:
        return self.jobs.live_releases(max_age)


class CeleryQueue(Queue):
    """The ``Queue`` of a scaled-out hub: jobs recorded in the store, run by ``crashhub worker``."""

    def __init__(
        self,
        store: Store,
        broker_url: str,
        *,
        limits: Limits | None = None,
        transport_options: dict[str, Any] | None = None,
        release_of: Callable[[dict[str, Any]], str | None] | None = None,
    ) -> None:
        super().__init__()
        self.store = store
        self.limits = limits or Limits()
        self.app = make_app(broker_url, self.limits, transport_options=transport_options)
        self.ledger = Ledger(store.jobs)
        self._release_of = release_of or self._crash_release
        self._routes: tuple[float, set[str]] = (0.0, set())
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -------------------------------------------------------------- routing
    def _crash_release(self, payload: dict[str, Any]) -> str | None:
        if payload.get("release"):
            return str(payload["release"])
        if "crash_id" in payload:
            crash = self.store.crashes.get_crash(str(payload["crash_id"]))
            return crash.release if crash is not None else None
        return None

    def route(self, kind: str, payload: dict[str, Any]) -> str:
        if kind not in ("analyze", "analyze-crash"):  # both read the dump with its kernel's debuginfo
            return DEFAULT_QUEUE
        release = self._release_of(payload)
        if not release:
            return ANALYZE_QUEUE
        at, live = self._routes
        if time.monotonic() - at > 15.0:
            live = self.ledger.live_releases()
            self._routes = (time.monotonic(), live)
        return release_queue(release) if release in live else ANALYZE_QUEUE

    # -------------------------------------------------------------- Queue
    def submit(self, kind: str, payload: dict[str, Any], key: str | None = None) -> str:
        jid, created = self.store.jobs.enqueue_job(kind, payload, key)
        if created:
            self._send(jid, kind, payload, key)
        return jid

    def _send(self, jid: str, kind: str, payload: dict[str, Any], key: str | None) -> bool:
        try:
            self.app.send_task(
                TASK_NAME,
                args=[jid, kind, payload, key],
                queue=self.route(kind, payload),
                retry=True,
                retry_policy={"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5},
            )
        except Exception as e:
            # The job row is in the store; resend_pending() sends it once the broker is back.
            log.warning("job %s (%s) not sent to the broker yet: %s", jid, kind, e)
            return False
        self.ledger.queued(jid, kind)
        return True

    def resend_pending(self, *, limit: int = 500, stale_after: float = 120.0) -> int:
        """Send again the store's pending jobs whose message is not in the broker.

        That is a job never sent (the broker was down at submit), or one sent more than ``stale_after``
        seconds ago that no worker has taken while its queue is empty: its message was lost (a Redis
        restarted without persistence).  A message resent needlessly costs one dropped delivery: the
        ledger lets only one run.
        """
        n = 0
        empty: dict[str, bool] = {}
        lost_after = self.limits.visibility_timeout + 60.0
        for job in self.store.jobs.list_jobs(state="pending", limit=limit):
            info = self.ledger.info(job.id)
            send = info is None
            if info is not None and info[0] in ("running", "retry") and time.time() - info[1] > lost_after:
                # Claimed long ago, never finished, and the broker would have re-delivered it by now:
                # its message was dropped (a task that failed outside its job, or a broker that lost it).
                send = True
            since = info[1] if info is not None and info[0] == "queued" else None
            if since is not None and time.time() - since >= stale_after:
                name = self.route(job.kind, job.payload)
                if name not in empty:
                    empty[name] = self._queue_empty(name)
                send = empty[name]
            if send and self._send(job.id, job.kind, job.payload, job.key):
                n += 1
        return n

    def _queue_empty(self, name: str) -> bool:
        """Whether the broker holds no message in queue ``name`` (False when the broker cannot tell)."""
        from kombu.exceptions import ChannelError

        try:
            with self.app.connection_for_write() as conn:
                conn.ensure_connection(max_retries=1)
                _, count, _ = conn.default_channel.queue_declare(queue=name, passive=True)
                return int(count) == 0
        except ChannelError:
            return True  # no such queue: Redis drops an empty list, and a restarted broker has none
        except Exception as e:
            if type(e).__name__ == "NotFound":  # RabbitMQ's answer to a passive declare of no queue
                return True
            log.warning("cannot count the messages of queue %s: %s", name, e)
            return False

    def depth(self) -> int:
        return self.store.jobs.job_depth()

    def start(self) -> None:
        def sweep() -> None:
            while not self._stop.wait(30.0):
                try:
                    self.resend_pending()
                except Exception:
                    log.exception("resending pending jobs failed")

        self._thread = threading.Thread(target=sweep, name="crashhub-celery-resend", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def drain(self, timeout: float = 60.0) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.depth() == 0:
                return True
            time.sleep(0.2)
        return self.depth() == 0


def queue_from_settings(settings: Settings, store: Store) -> CeleryQueue:
    """The hub's queue when the setting ``queue`` is ``celery`` (for ``build_context``).

    The broker is the setting ``broker_url`` (``$CRASHHUB_BROKER_URL`` in the environment, as for every
    setting).
    """
    url = settings.broker_url
    if not url:
        raise ConfigError(
            "queue 'celery' needs a broker: set broker_url or CRASHHUB_BROKER_URL", "broker_url"
        )
    soft = settings.analyze_timeout
    limits = Limits(soft_time=soft, hard_time=soft + max(5.0, min(60.0, soft * 0.1)))
    return CeleryQueue(store, url, limits=limits)


# ------------------------------------------------------------------ the worker side
@dataclass
class Runtime:
    """What one worker process needs to run jobs: the store, the handlers and the ledger."""

    store: Store
    handlers: dict[str, Callable[[dict[str, Any]], dict[str, Any] | None]]
    ledger: Ledger
    limits: Limits
    worker: str


def run_job(
    rt: Runtime,
    job_id: str,
    kind: str,
    payload: dict[str, Any],
    retry: Callable[[float, BaseException], BaseException],
) -> dict[str, Any] | None:
    """The body of the Celery task (``retry(countdown, exc)`` is the task's ``self.retry``)."""
    from celery.exceptions import SoftTimeLimitExceeded  # type: ignore[import-untyped,unused-ignore]

    verdict, attempt = rt.ledger.claim(job_id, kind, rt.worker, rt.limits.lease)
    if verdict in ("done", "dead"):
        log.info("job %s is already %s; this delivery is dropped", job_id, verdict)
        return {"skipped": verdict}
    if verdict == "busy":
        # Another delivery holds a live lease (a resend, or a redelivery racing a slow run).
        raise retry(rt.limits.lease / 4, RuntimeError(f"job {job_id} is running elsewhere"))
    if attempt > rt.limits.max_attempts:
        # The previous runs died without a word (hard time limit, OOM kill, SIGKILL of the worker).
        _dead(rt, job_id, kind, attempt - 1, "the worker died in every attempt (time/memory limit or kill)")
        return None
    handler = rt.handlers.get(kind)
    if handler is None:
        _dead(rt, job_id, kind, attempt, f"no handler for job kind {kind!r} on worker {rt.worker}")
        return None
    try:
        result = handler(payload)
    except (Exception, SoftTimeLimitExceeded) as e:
        err = f"{type(e).__name__}: {e}\n" + "".join(traceback.format_exc(limit=5))
        if attempt >= rt.limits.max_attempts:
            _dead(rt, job_id, kind, attempt, err)
            return None
        delay = rt.limits.backoff(attempt)
        log.warning("job %s (%s) attempt %d failed, retry in %.0fs: %s", job_id, kind, attempt, delay, e)
        rt.ledger.mark(job_id, "retry", err)
        raise retry(delay, e) from e
    # Store first, ledger second: a kill between the two re-runs an idempotent handler, whereas the
    # other order could leave the store's job pending for ever.
    rt.store.jobs.finish_job(job_id, ok=True, result=result)
    rt.ledger.mark(job_id, "done")
    return result


def _dead(rt: Runtime, job_id: str, kind: str, attempts: int, error: str) -> None:
    log.error(
        "job %s (%s) is a dead letter after %d attempts: %s", job_id, kind, attempts, error.splitlines()[0]
    )
    rt.store.jobs.finish_job(job_id, ok=False, error=f"dead letter after {attempts} attempt(s): {error}")
    rt.ledger.mark(job_id, "dead", error)


def install_task(app: Celery, runtime: Callable[[], Runtime]) -> None:
    """Define ``crashhub.run_job`` on a worker's app; ``runtime()`` gives this process's Runtime."""

    @app.task(name=TASK_NAME, bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None)  # type: ignore[untyped-decorator,unused-ignore]
    def _task(self: Any, job_id: str, kind: str, payload: dict[str, Any], key: str | None = None) -> Any:
        def retry(countdown: float, exc: BaseException) -> BaseException:
            r: BaseException = self.retry(countdown=countdown, exc=exc, max_retries=None, throw=False)
            return r

        from celery.exceptions import Retry  # type: ignore[import-untyped,unused-ignore]

        try:
            return run_job(runtime(), job_id, kind, payload, retry)
        except Retry:
            raise
        except Exception as e:
            # The job's own failures are handled in run_job: this is the database around it (down, or
            # restarting).  Try again shortly; the ledger's lease keeps a second run from overlapping.
            n = int(self.request.retries or 0)
            if n >= INFRA_RETRIES:
                raise  # the message is dropped; resend_pending() sends the job again once it is stale
            delay = min(60.0, 0.5 * 2**n)
            log.warning("job %s (%s): %s; trying again in %.1fs", job_id, kind, e, delay)
            raise retry(delay, e) from e
