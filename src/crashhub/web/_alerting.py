"""The hub's alert wiring: an :class:`AlertEngine` fed by ingest and by a periodic check.

Deliveries go through one background thread: a webhook may take its full timeout (10 s) to
answer, and an upload must not wait for that.  ``on_outcome`` only puts the outcome on a queue;
``tick`` (overdue first advice, spikes, kernels without debuginfo, and the advice sent to the owners
of the hosts in a bucket, :mod:`crashhub.alerts._advice`) runs on the same thread every
``alert_interval`` seconds, and only on the node holding the tick's lease (``store.cluster``).
"""

# ruff: noqa: PLC0415 - the debuginfo store loads only when a kernel is asked about

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crashhub.alerts import AlertEngine, Channel, load_config
from crashhub.store import node_name

if TYPE_CHECKING:
    from crashhub.alerts import DeliveryRecord
    from crashhub.config import Settings
    from crashhub.ingest import Outcome
    from crashhub.store import Store

log = logging.getLogger("crashhub.alerts")


def has_debuginfo_for(settings: Settings) -> Any:
    """``release -> bool``: a vmlinux with debuginfo for that kernel is in the debuginfo store
    (``<data>/debuginfo``, what ``crashhub debuginfo import`` fills), or in ``vmlinux_dir``
    (itself a debuginfo store, or a directory of ``vmlinux-<release>`` files)."""
    from crashhub.debuginfo import DebuginfoStore
    from crashhub.jobs import find_vmlinux

    vdir = settings.vmlinux_dir
    stores = [DebuginfoStore(settings.data_dir / "debuginfo")]
    if vdir:
        stores.append(DebuginfoStore(Path(vdir)))

    def has(release: str) -> bool:
        if any(s.find(release=release) is not None for s in stores):
            return True
        return find_vmlinux(vdir, release) is not None

    return has


def build_engine(settings: Settings, store: Store) -> AlertEngine:
    """Channels from ``<data>/alerts.toml`` plus the ``alert_webhook`` setting (generic JSON);
    the first-advice deadline from the ``first_advice_hours`` setting; de-duplication and the
    owner-advice cursor in ``store.cluster``, which every node shares."""
    cfg = load_config(settings.data_dir / "alerts.toml")
    url = settings.alert_webhook.strip()
    if url:
        cfg.channels.append(Channel(name="alert_webhook", type="webhook", format="json", url=url))
    cfg = replace(cfg, advice_hours=settings.first_advice_hours)
    return AlertEngine(
        settings.data_dir, config=cfg, has_debuginfo=has_debuginfo_for(settings), cluster=store.cluster
    )


LEASE = "alerts.tick"


class AlertPump:
    """One thread that delivers ingest alerts as they come and runs ``tick`` every ``interval``
    when this node holds the ``alerts.tick`` lease: of several nodes on one database, one sends
    the periodic alerts and the owner advice (an ingest alert goes from the node that stored the
    crash; its key, claimed in the store, keeps it to one)."""

    def __init__(
        self, engine: AlertEngine, store: Store, interval: float, *, node: str | None = None
    ) -> None:
        self.engine = engine
        self.store = store
        self.interval = interval
        self.node = node or node_name()
        self._q: queue.Queue[Outcome | None] = queue.Queue(maxsize=10_000)
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def on_outcome(self, outcome: Outcome) -> None:
        """Pipeline listener: queue the outcome (without a running thread, deliver it now)."""
        if self._thread is None:
            self.engine.on_outcome(outcome)
            return
        try:
            self._q.put_nowait(outcome)
        except queue.Full:
            log.warning("alert queue full: the alert for crash %s is dropped", outcome.crash.id)

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="crashhub-alerts", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        t, self._thread = self._thread, None
        if t is not None:
            self._q.put(None)
            t.join(timeout)

    def _run(self) -> None:
        import time

        next_tick = time.monotonic() + min(self.interval, 30.0) if self.interval > 0 else float("inf")
        while not self._stop.is_set():
            wait = max(0.0, next_tick - time.monotonic())
            try:
                item = self._q.get(timeout=min(wait, 3600.0))
            except queue.Empty:
                item = None
            if item is not None:
                self._guard("on_outcome", lambda o=item: self.engine.on_outcome(o))
            if time.monotonic() >= next_tick and not self._stop.is_set():
                self._guard("tick", self.tick)
                next_tick = time.monotonic() + self.interval
        self._guard("release", lambda: self.store.cluster.release_lease(LEASE, self.node))

    def tick(self) -> list[DeliveryRecord]:
        """The periodic alerts, if this node holds (or now takes) the lease; a lease outlives two
        missed ticks, so a node that died hands over within ``2 * interval`` (a minute at least)."""
        if not self.store.cluster.try_lease(LEASE, self.node, max(2 * self.interval, 60.0)):
            return []
        return self.engine.tick(self.store)

    @staticmethod
    def _guard(what: str, fn: Any) -> None:
        try:
            fn()
        except Exception:  # one bad channel or query must not end alerting for the process
            log.exception("alerts: %s failed", what)
