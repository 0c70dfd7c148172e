"""``crashhub worker``: a Celery worker running the hub's jobs (analysis) for a scaled-out hub.

It consumes ``crashhub`` (general jobs), ``analyze`` (analyses of any release) and ``analyze.<R>`` for
each kernel release R it holds (``--releases``, else the ``vmlinux-<R>`` files in ``vmlinux_dir``),
and advertises those releases in the database so the hub routes a release's analyses to a worker whose
debuginfo cache is warm.  The broker comes from ``--broker``, else ``$CRASHHUB_BROKER_URL``, else the
setting ``broker_url`` when the hub's settings table has it.
"""

# ruff: noqa: PLC0415 - imports inside functions are deliberate: each command and stage loads
# only what it uses (the host agent installs without the hub's web and database stack).

from __future__ import annotations

import argparse
import importlib
import logging
import os
import socket
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crashhub.commands._store import add_store_arguments, settings_from
from crashhub.errors import ConfigError

if TYPE_CHECKING:
    from crashhub.config import Settings
    from crashhub.jobs import Limits, Runtime


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_store_arguments(parser)
    parser.add_argument(
        "--broker",
        metavar="URL",
        default=None,
        help="broker URL, e.g. redis://host:6379/0 or amqp://user:pass@host// "
        "(default: $CRASHHUB_BROKER_URL)",
    )
    parser.add_argument(
        "--releases",
        metavar="R,...",
        default=None,
        help="kernel releases whose debuginfo this worker holds "
        "(default: the vmlinux-<R> files in the setting vmlinux_dir)",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=None,
        help="analyses run at once (pool processes; default: the setting 'workers')",
    )
    parser.add_argument("--name", default=None, help="worker name (default: crashhub@<host>-<pid>)")
    parser.add_argument(
        "--max-memory-mb",
        type=int,
        default=16384,
        help="memory limit of one job's process in MiB (RLIMIT_DATA, and the pool child is "
        "replaced after a job that grew past it); 0 = none",
    )
    parser.add_argument(
        "--max-attempts", type=int, default=4, help="runs of a failing job before it is a dead letter"
    )
    parser.add_argument(
        "--backoff",
        type=float,
        default=30.0,
        help="seconds before the first retry, doubled for each further one (capped at 30 min)",
    )
    parser.add_argument(
        "--time-limit",
        type=float,
        default=None,
        help="soft time limit per job in seconds (default: the setting analyze_timeout); "
        "the hard limit, which kills the job's process, is 60 s or 10%% later",
    )
    parser.add_argument(
        "--register",
        action="append",
        default=None,
        metavar="MODULE",
        help="module whose register(queue, hub, kb) defines the job kinds "
        "(default: crashhub.jobs._handlers; repeatable)",
    )
    parser.add_argument(
        "--restore-interval",
        type=float,
        default=None,
        help="seconds between the broker's sweeps for unacknowledged messages of dead workers "
        "(Redis transport only; default: kombu's)",
    )
    parser.add_argument(
        "--visibility-timeout",
        type=float,
        default=None,
        help="seconds before the broker re-delivers a message a dead worker took (Redis transport only; "
        "default: derived from the time limit and the retry backoff, so a live job is never re-delivered)",
    )
    parser.add_argument("--loglevel", default="INFO")


def broker_url(args: argparse.Namespace, settings: Settings) -> str:
    url = args.broker or settings.broker_url
    if not url:
        raise ConfigError("no broker: give --broker URL or set CRASHHUB_BROKER_URL", "broker_url")
    return str(url)


def held_releases(args: argparse.Namespace, settings: Settings) -> list[str]:
    if args.releases is not None:
        return [r.strip() for r in args.releases.split(",") if r.strip()]
    d = settings.vmlinux_dir
    if not d or not Path(d).is_dir():
        return []
    return sorted(p.name[len("vmlinux-") :] for p in Path(d).glob("vmlinux-*") if p.is_file())


def limits_from(args: argparse.Namespace, settings: Settings) -> Limits:
    from crashhub.jobs import Limits

    soft = float(args.time_limit if args.time_limit is not None else settings.analyze_timeout)
    return Limits(
        soft_time=soft,
        hard_time=soft + max(5.0, min(60.0, soft * 0.1)),
        max_memory_mb=max(0, int(args.max_memory_mb)),
        max_attempts=max(1, int(args.max_attempts)),
        backoff_base=max(0.0, float(args.backoff)),
        backoff_max=max(float(args.backoff), 1800.0) if args.backoff >= 1 else 5.0,
        visibility=args.visibility_timeout,
    )


def _limit_memory(mb: int) -> None:
    """RLIMIT_DATA, not RLIMIT_AS: since Linux 4.7 it counts private anonymous memory (heap, anonymous
    mmap) but not file mappings, so a job may mmap a GB dump yet not grow its heap past the limit."""
    import resource

    if mb > 0:
        n = mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_DATA, (n, n))


def make_runtime_factory(settings: Settings, limits: Limits, modules: list[str], worker: str) -> Any:
    """A function giving this process's Runtime, built on first use in each pool process (a database
    engine must not cross a fork)."""
    cache: dict[int, Runtime] = {}

    def get() -> Runtime:
        pid = os.getpid()
        rt = cache.get(pid)
        if rt is None:
            from crashhub.jobs import Ledger, LocalQueue, Runtime
            from crashhub.knowledge import KnowledgeBase
            from crashhub.store import open_store

            hub = open_store(settings, migrate=False)
            kb = KnowledgeBase(settings.kb_path, starter=settings.starter_kb, store=hub.store)
            # A registry only: the handlers are registered on a queue that never runs workers.
            registry = LocalQueue(hub.store, workers=0)
            for name in modules:
                importlib.import_module(name).register(registry, hub, kb)
            rt = Runtime(
                store=hub.store,
                handlers=dict(registry.handlers),
                ledger=Ledger(hub.store.jobs),
                limits=limits,
                worker=worker,
            )
            cache.clear()
            cache[pid] = rt
        return rt

    return get


def run(args: argparse.Namespace) -> int:
    from celery.signals import worker_process_init  # type: ignore[import-untyped,unused-ignore]

    from crashhub.jobs import (
        ANALYZE_QUEUE,
        DEFAULT_QUEUE,
        Ledger,
        amqp_advice,
        install_task,
        is_amqp,
        make_app,
        release_queue,
    )
    from crashhub.store import open_store

    settings = settings_from(args)
    logging.basicConfig(
        level=str(args.loglevel).upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    url = broker_url(args, settings)
    limits = limits_from(args, settings)
    releases = held_releases(args, settings)
    name = args.name or f"crashhub@{socket.gethostname()}-{os.getpid()}"
    # The schema is the hub's: upgrade it here too, so a worker started first finds its tables.
    # This process's store is the heartbeat's; each pool child opens its own (make_runtime_factory).
    hub = open_store(settings, migrate=True)
    ledger = Ledger(hub.store.jobs)

    transport: dict[str, Any] = {}
    if args.restore_interval is not None:
        transport = {"unacked_restore_interval": args.restore_interval, "unacked_restore_throttle": 1}
    app = make_app(url, limits, transport_options=transport)
    install_task(
        app, make_runtime_factory(settings, limits, args.register or ["crashhub.jobs._handlers"], name)
    )

    @worker_process_init.connect  # type: ignore[untyped-decorator,unused-ignore]
    def _child_init(**_: Any) -> None:
        # The parent's pooled connections must not be used (or closed) by a forked child.
        hub.store.after_fork()
        _limit_memory(limits.max_memory_mb)

    stop = threading.Event()

    def heartbeat() -> None:
        while True:
            try:
                ledger.advertise(name, releases)
            except Exception as e:
                logging.getLogger("crashhub.worker").warning("advertising releases failed: %s", e)
            if stop.wait(30.0):
                return

    threading.Thread(target=heartbeat, name="crashhub-advertise", daemon=True).start()
    queues = [DEFAULT_QUEUE, ANALYZE_QUEUE, *(release_queue(r) for r in releases)]
    kwargs: dict[str, Any] = {}
    if limits.max_memory_mb:
        kwargs["max_memory_per_child"] = limits.max_memory_mb * 1024  # Celery counts KiB
    worker = app.Worker(
        hostname=name,
        queues=queues,
        concurrency=int(args.concurrency or settings.workers),
        pool="prefork",
        loglevel=str(args.loglevel).upper(),
        without_gossip=True,
        without_mingle=True,
        **kwargs,
    )
    wlog = logging.getLogger("crashhub.worker")
    wlog.info("worker %s: queues %s", name, ", ".join(queues))
    if is_amqp(url):
        # The broker's consumer_timeout cannot be read over AMQP: say what it must be, loudly when
        # these limits outgrow RabbitMQ's default.
        short, advice = amqp_advice(limits)
        wlog.log(logging.WARNING if short else logging.INFO, "%s", advice)
    try:
        worker.start()
    finally:
        stop.set()
        hub.close()
    return int(worker.exitcode or 0)
