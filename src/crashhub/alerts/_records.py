"""The record of what became of an alert: one line of the delivery log (``<data>/alerts.jsonl``).

A record is typed here and a plain dict in the log and in what the dispatcher returns (the log's
JSON lines are read by people and scripts, so :meth:`DeliveryRecord.to_dict` keeps their keys).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from crashhub.alerts._channels import Delivery
from crashhub.alerts._rules import Alert
from crashhub.model import JsonObject

Result = Literal["sent", "failed", "rate-limited", "no-channel", "no-owner", "config-error"]
RESULTS: tuple[Result, ...] = get_args(Result)


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    at: float
    channel: str | None
    rule: str
    key: str | None
    title: str | None
    result: Result
    # A delivery that was attempted (``sent`` or ``failed`` by the channel) has all three, even None.
    attempted: bool = False
    status: int | None = None
    error: str | None = None
    seconds: float | None = None
    hosts: tuple[str, ...] | None = None  # owner advice: the hosts the message was about
    host_count: int | None = None

    @property
    def ok(self) -> bool:
        return self.result == "sent"

    @classmethod
    def attempt(cls, at: float, alert: Alert, d: Delivery) -> DeliveryRecord:
        """What became of sending ``alert`` on ``d.channel``."""
        return cls(at, d.channel, alert.rule, alert.key, alert.title, "sent" if d.ok else "failed",
                   attempted=True, status=d.status, error=d.error, seconds=d.seconds)

    def to_dict(self) -> JsonObject:
        out: JsonObject = {"at": self.at, "channel": self.channel, "rule": self.rule, "key": self.key,
                               "title": self.title, "result": self.result, "ok": self.ok}
        if self.attempted:
            out.update(status=self.status, error=self.error, seconds=self.seconds)
        elif self.error is not None:
            out["error"] = self.error
        if self.hosts is not None:
            out["hosts"] = list(self.hosts)
        if self.host_count is not None:
            out["host_count"] = self.host_count
        return out

    @classmethod
    def from_dict(cls, d: JsonObject) -> DeliveryRecord:
        result = d.get("result")
        if result not in RESULTS:
            raise ValueError(f"unknown delivery result {result!r}")
        hosts, count = d.get("hosts"), d.get("host_count")
        return cls(
            at=float(d["at"]), channel=d.get("channel"), rule=str(d["rule"]), key=d.get("key"),
            title=d.get("title"), result=result, attempted="status" in d, status=d.get("status"),
            error=d.get("error"), seconds=d.get("seconds"),
            hosts=None if hosts is None else tuple(str(h) for h in hosts),
            host_count=None if count is None else int(count),
        )
