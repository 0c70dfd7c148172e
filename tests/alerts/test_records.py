"""Typed alerts and delivery records: closed sets refused outside them, and dict round trips."""

from __future__ import annotations

import pytest
from tests.alerts.test_alerts import HIT, REGRESSION, bucket, crash

from crashhub.alerts import ALL_RULES, Alert, DeliveryRecord
from crashhub.alerts import _rules as r
from crashhub.alerts._advice import advice_alert
from crashhub.alerts._channels import Delivery, payload
from crashhub.store import KernelRecord

NOW = 1_800_000_000.0


def every_alert() -> list[Alert]:
    out = r.on_crash(crash(kb=[HIT, REGRESSION]), bucket(spike=True, kb=[REGRESSION]), True, base_url="http://hub")
    out += r.periodic([bucket(first_seen=NOW - 9 * 3600)], [KernelRecord("6.1.0-58-amd64", 3, 2, ())],
                      now=NOW, advice_hours=4, has_debuginfo=lambda _r: False, checked=set())
    out.append(advice_alert(bucket(), "Do **this**.", {"db1": {"6.1"}}, "advice:b1:v:dba", None))
    return out


def test_alerts_round_trip_through_dicts() -> None:
    alerts = every_alert()
    assert sorted({a.rule for a in alerts}) == sorted(ALL_RULES)  # one of each kind at least
    for a in alerts:
        assert Alert.from_dict(a.to_dict()) == a
    advice = alerts[-1]
    assert advice.markdown and advice.plain and Alert.from_dict(advice.to_dict()).plain == advice.plain


def test_the_json_webhook_body_keeps_its_keys() -> None:
    a = every_alert()[-1]
    body = payload("json", a)["alert"]
    assert sorted(body) == ["data", "key", "link", "rule", "severity", "text", "title"]
    assert Alert.from_dict(body) == Alert(**{**body, "plain": None, "markdown": False})


def test_kinds_outside_the_closed_sets_are_refused() -> None:
    d = every_alert()[0].to_dict()
    with pytest.raises(ValueError, match="rule"):
        Alert.from_dict({**d, "rule": "teams"})
    with pytest.raises(ValueError, match="severity"):
        Alert.from_dict({**d, "severity": "panic"})
    with pytest.raises(ValueError, match="result"):
        DeliveryRecord.from_dict({"at": NOW, "rule": "spike", "result": "maybe"})


def test_delivery_records_round_trip_and_keep_the_log_shape() -> None:
    a = every_alert()[0]
    sent = DeliveryRecord.attempt(NOW, a, Delivery("hook", True, 200, None, 0.01))
    assert sent.to_dict() == {"at": NOW, "channel": "hook", "rule": a.rule, "key": a.key, "title": a.title,
                              "result": "sent", "ok": True, "status": 200, "error": None, "seconds": 0.01}
    dead = DeliveryRecord.attempt(NOW, a, Delivery("hook", False, None, "ConnectError", 2.0))
    assert dead.to_dict()["status"] is None and not dead.ok and dead.result == "failed"
    held = DeliveryRecord(NOW, "hook", a.rule, a.key, a.title, "rate-limited")
    assert "status" not in held.to_dict()
    orphans = DeliveryRecord(NOW, None, "owner_advice", "advice:b", "t", "no-owner", hosts=("h1",),
                             host_count=3)
    bad = DeliveryRecord(NOW, None, "owner_advice", None, None, "config-error", error="line 3")
    for rec in (sent, dead, held, orphans, bad):
        assert DeliveryRecord.from_dict(rec.to_dict()) == rec
