"""The alert dispatcher: configuration, deduplication, rate limits, and the delivery log.

Configuration is ``<data>/alerts.toml`` (see docs/ui.md, "Alerts")::

    base_url = "https://crashhub.example.org"   # links in alerts
    dedup_seconds = 86400                       # one alert per key per day
    max_per_hour = 30                           # per channel; the rest are logged as rate-limited
    advice_hours = 4                            # first advice is due this long after first seen

    [[channel]]
    name = "oncall"
    type = "webhook"
    format = "feishu"              # json | slack | feishu | dingtalk | wecom
    url = "https://..."
    secret = "..."                 # feishu / dingtalk signing secret (optional)
    rules = ["new_bucket", "regression", "spike", "overdue_advice"]   # default: all

    [[channel]]
    name = "mail"
    type = "smtp"
    host = "mail.example.org"
    port = 587
    starttls = true
    sender = "crashhub@example.org"
    to = ["kernel-team@example.org"]

Every delivery attempt (and every alert held back by a rate limit) is one JSON line in this node's
``<data>/alerts.jsonl`` with its result.  Which keys were sent when, and each channel's sends of
the last hour, are kept in the store (``store.cluster``), which every node shares: a restart does
not send everything again, and two nodes send an alert once between them.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
import tomllib
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crashhub.alerts._channels import FORMATS, Channel, Delivery, deliver
from crashhub.alerts._records import DeliveryRecord
from crashhub.alerts._rules import RULES, Alert
from crashhub.errors import ConfigError

if TYPE_CHECKING:
    from crashhub.store import Cluster

log = logging.getLogger("crashhub.alerts")


@dataclass
class AlertConfig:
    channels: list[Channel] = field(default_factory=list)
    base_url: str | None = None
    dedup_seconds: float = 86400.0
    max_per_hour: int = 30
    advice_hours: float = 4.0


def load_config(path: Path) -> AlertConfig:
    """Read ``alerts.toml``; a missing file means no channels (alerts are only logged)."""
    path = Path(path)
    if not path.is_file():
        return AlertConfig()
    try:
        d = tomllib.loads(path.read_text("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"not valid TOML: {e}", path) from None
    known = {"channel", "base_url", "dedup_seconds", "max_per_hour", "advice_hours"}
    extra = set(d) - known
    if extra:
        raise ConfigError(f"unknown alert setting(s) {', '.join(sorted(extra))}", path)
    chans = []
    for i, c in enumerate(d.get("channel") or []):
        where = f"channel[{i}]"
        if not isinstance(c, dict) or not isinstance(c.get("name"), str):
            raise ConfigError(f"{where}: needs a name", path)
        typ = c.get("type", "webhook")
        fmt = c.get("format", "json")
        if typ not in ("webhook", "smtp"):
            raise ConfigError(f"{where}: type must be webhook or smtp, not {typ!r}", path)
        if typ == "webhook" and (fmt not in FORMATS or not isinstance(c.get("url"), str)):
            raise ConfigError(f"{where}: a webhook needs a url and a format in {', '.join(FORMATS)}", path)
        if typ == "smtp" and not (c.get("host") and c.get("sender") and c.get("to")):
            raise ConfigError(f"{where}: smtp needs host, sender and to", path)
        rules = tuple(c.get("rules") or ())
        bad = [r for r in rules if r not in RULES]
        if bad:
            raise ConfigError(f"{where}: unknown rule(s) {bad} (rules: {', '.join(RULES)})", path)
        to = c.get("to") or ()
        chans.append(Channel(
            name=c["name"], type=typ, format=fmt, url=c.get("url"), secret=c.get("secret"), rules=rules,
            host=c.get("host"), port=int(c.get("port", 25)), sender=c.get("sender"),
            to=(to,) if isinstance(to, str) else tuple(to), starttls=bool(c.get("starttls", False)),
            username=c.get("username"), password=c.get("password"), timeout=float(c.get("timeout", 10.0)),
            headers=dict(c.get("headers") or {}),
        ))
    return AlertConfig(
        channels=chans,
        base_url=d.get("base_url"),
        dedup_seconds=float(d.get("dedup_seconds", 86400)),
        max_per_hour=int(d.get("max_per_hour", 30)),
        advice_hours=float(d.get("advice_hours", 4)),
    )


def embedded_cluster(data_dir: Path) -> Cluster:
    """The shared state of the embedded hub in ``data_dir`` (its default database), for a
    dispatcher made without a store: a library caller, or a test.  The hub passes its store's."""
    from crashhub.store import SqlStore  # noqa: PLC0415 - the database stack loads when used

    url = f"sqlite:///{(Path(data_dir) / 'crashhub.db').resolve()}"
    with _EMBEDDED_LOCK:
        store = _EMBEDDED.get(url)
        if store is None:
            store = _EMBEDDED[url] = SqlStore(url)
            store.migrate()
    return store.cluster


_EMBEDDED: dict[str, Any] = {}
_EMBEDDED_LOCK = threading.Lock()


class Dispatcher:
    """Sends each alert key once per ``dedup_seconds`` across every node of the hub (the key is
    claimed in the shared store, ``store.cluster``), within each channel's hourly limit (counted
    there too), and writes what became of it to this node's delivery log."""

    def __init__(
        self,
        config: AlertConfig,
        data_dir: Path,
        *,
        cluster: Cluster | None = None,
        clock: Callable[[], float] = time.time,
        send: Callable[[Channel, Alert], Delivery] = deliver,
    ) -> None:
        self.config = config
        self.log_path = Path(data_dir) / "alerts.jsonl"
        self.cluster = cluster if cluster is not None else embedded_cluster(Path(data_dir))
        self.clock = clock
        self.send = send
        self._lock = threading.Lock()

    def _log(self, rec: DeliveryRecord) -> DeliveryRecord:
        with self._lock, open(self.log_path, "a", encoding="utf-8") as f:
            f.write(json.dumps(rec.to_dict(), ensure_ascii=False, default=str) + "\n")
        return rec

    def log(self, rec: DeliveryRecord) -> DeliveryRecord:
        """Append one record to the delivery log (for results that are not a delivery)."""
        return self._log(rec)

    def send_one(self, a: Alert, ch: Channel, hosts: Iterable[str] | None = None) -> DeliveryRecord:
        """Deliver ``a`` to ``ch`` under ``ch``'s hourly limit, without deduplication (the caller
        keeps its own: owner advice is sent once per contact, forever, not once per window)."""
        rec = self._deliver(ch, a, self.clock())
        if hosts is not None:
            rec = replace(rec, hosts=tuple(hosts))
        return self._log(rec)

    def _deliver(self, ch: Channel, a: Alert, now: float) -> DeliveryRecord:
        """Send ``a`` on ``ch`` unless the channel's hourly limit is reached (every node's sends count)."""
        prefix = f"rate:{ch.name}:"
        # A send older than an hour no longer counts: strictly within the hour, as before.
        if self.cluster.count_keys(prefix, math.nextafter(now - 3600, math.inf)) >= self.config.max_per_hour:
            return DeliveryRecord(now, ch.name, a.rule, a.key, a.title, "rate-limited")
        self.cluster.forget_keys(prefix, now - 3600)
        self.cluster.claim_key(f"{prefix}{now!r}:{uuid.uuid4().hex}", now)
        return DeliveryRecord.attempt(now, a, self.send(ch, a))

    def dispatch(self, alerts: Iterable[Alert]) -> list[DeliveryRecord]:
        """Send what is new to every channel that wants it; returns the log records written."""
        out: list[DeliveryRecord] = []
        now = self.clock()
        since = now - self.config.dedup_seconds
        self.cluster.forget_keys("alert:", since)
        for a in alerts:
            if not self.cluster.claim_key(f"alert:{a.key}", now, since=since):
                continue  # deduplicated: this condition was already reported in the window
            if a.once and not self.cluster.claim_key(f"alert-once:{a.key}", now):
                continue  # a transition reported once ever (a bucket becoming regressed)
            for ch in self.config.channels:
                if ch.rules and a.rule not in ch.rules:
                    continue
                out.append(self._log(self._deliver(ch, a, now)))
            if not self.config.channels:
                out.append(self._log(DeliveryRecord(now, None, a.rule, a.key, a.title, "no-channel")))
        return out


# Unanswered buckets read by one tick at the most: a backlog larger than this is a team that no
# longer reads overdue alerts, and the tick must stay cheap.
MAX_UNANSWERED = 100_000


class AlertEngine:
    """What the hub wires in: ``on_outcome`` after each ingest, ``tick`` every few minutes (the
periodic rules, then the advice to host owners, :mod:`crashhub.alerts._advice`)."""

    def __init__(self, data_dir: Path, *, config: AlertConfig | None = None,
                 has_debuginfo: Callable[[str], bool] | None = None,
                 clock: Callable[[], float] = time.time, cluster: Cluster | None = None) -> None:
        from crashhub.alerts._advice import AdviceNotifier  # noqa: PLC0415 - it imports this module
        from crashhub.alerts._owners import OwnerBook  # noqa: PLC0415

        self.config = config or load_config(Path(data_dir) / "alerts.toml")
        self.dispatcher = Dispatcher(self.config, Path(data_dir), cluster=cluster, clock=clock)
        self.has_debuginfo = has_debuginfo or (lambda _r: True)
        self.owners = OwnerBook(Path(data_dir) / "host-owners.toml")
        self.advice = AdviceNotifier(self.dispatcher, self.owners, clock=clock)

    def on_outcome(self, outcome: Any) -> list[DeliveryRecord]:
        from crashhub.alerts._rules import on_crash  # noqa: PLC0415

        alerts = on_crash(outcome.crash, outcome.bucket, bool(outcome.created), base_url=self.config.base_url)
        return self.dispatcher.dispatch(alerts)

    def tick(self, store: Any, *, now: float | None = None, limit: int = 2000) -> list[DeliveryRecord]:
        from crashhub.alerts._rules import periodic  # noqa: PLC0415

        # Spikes are about today, so the most recently seen buckets are enough for them; a first
        # advice can be overdue on a bucket not seen for days, so every unanswered bucket is read
        # (the team's backlog, in pages).
        buckets = {b.id: b for b in store.buckets.list_buckets(sort="last_seen", limit=limit)}
        for offset in range(0, MAX_UNANSWERED, limit):
            page = store.buckets.list_buckets(sort="last_seen", status="new", limit=limit, offset=offset)
            buckets.update((b.id, b) for b in page)
            if len(page) < limit:
                break
        # Regressed buckets whatever their age: a KB edit can regress a bucket not seen for months.
        buckets.update((b.id, b) for b in store.buckets.list_buckets(kb_status="regression", limit=limit))
        alerts = periodic(
            buckets.values(),
            store.hosts.list_kernels(),
            now=now if now is not None else time.time(),
            advice_hours=self.config.advice_hours,
            has_debuginfo=self.has_debuginfo,
            base_url=self.config.base_url,
            checked=store.readiness.releases(),
        )
        out = self.dispatcher.dispatch(alerts)
        try:
            out += self.advice.tick(store)
        except Exception:  # the store failing here must not hide the alerts already sent
            log.exception("alerts: sending advice to host owners failed")
        return out
