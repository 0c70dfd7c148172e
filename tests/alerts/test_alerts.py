"""Alerts end to end on loopback: a local HTTP receiver for the five webhook formats, aiosmtpd for mail."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from tests.alerts.conftest import Receiver

from crashhub.alerts import _rules as rules
from crashhub.alerts._channels import Channel, payload
from crashhub.alerts._engine import AlertConfig, AlertEngine, Dispatcher, load_config
from crashhub.errors import ConfigError
from crashhub.store import BucketRecord, CrashRecord, KernelRecord

NOW = 1_795_669_919.0


def bucket(**kw: Any) -> BucketRecord:
    base: dict[str, Any] = dict(
        id="b1", algorithm="sig:2026-11", key="k", kind="null_deref", title="BUG: NULL in crashmod_null",
        count=1, dumps=0, first_seen=NOW - 100, last_seen=NOW, merged_into=None, kb=[],
        days={"2026-11-26": 1},
    )
    base.update(kw)
    return BucketRecord(**base)


def crash(**kw: Any) -> CrashRecord:
    base: dict[str, Any] = dict(
        id="c1", identity="i", received_at=NOW, crash_time=NOW, crash_time_source="dump", host="db7",
        host_source="agent", release="6.1.0-58-amd64", kind="null_deref", title="t", bucket_id="b1",
        signature_algorithm="sig:2026-11", signature_key="k", hardware=None, report=None, reports=1,
        source="http", crash_dir=None, has_vmcore=False, dump_facts=None, versions={}, kb=[], analysis=None,
    )
    base.update(kw)
    return CrashRecord(**base)


REGRESSION = {"id": "lab-null", "entry_id": "lab-null", "title": "crashmod NULL", "generic": False,
              "regression": True, "fixed_in": "6.1.0-57"}
HIT = {"id": "lab-null", "entry_id": "lab-null", "title": "crashmod NULL", "generic": False,
       "regression": False}


def test_rules_on_a_crash() -> None:
    got = rules.on_crash(crash(), bucket(), True, base_url="http://hub")
    assert [a.rule for a in got] == ["new_bucket"]
    assert got[0].link == "http://hub/ui/buckets/b1"
    assert rules.on_crash(crash(), bucket(), False) == []  # a re-sent copy raises nothing
    got = rules.on_crash(crash(kb=[REGRESSION]), bucket(count=5, kb=[REGRESSION]), True)
    assert [a.rule for a in got] == ["regression"] and "6.1.0-57" in got[0].text
    assert [a.rule for a in rules.on_crash(crash(kb=[HIT]), bucket(count=5), True)] == ["kb_hit"]
    assert [a.rule for a in rules.on_crash(crash(), bucket(count=9, spike=True), True)] == ["spike"]


def test_periodic_rules() -> None:
    late = bucket(first_seen=NOW - 5 * 3600)
    known = bucket(id="b2", first_seen=NOW - 5 * 3600, kb=[HIT])
    fresh = bucket(id="b3", first_seen=NOW - 3600)
    k = [KernelRecord("6.1.0-58-amd64", 3, 2, ()), KernelRecord("6.12.117+deb12-cloud-amd64", 1, 1, ())]
    got = rules.periodic([late, known, fresh], k, now=NOW, advice_hours=4,
                         has_debuginfo=lambda r: r.startswith("6.12"))
    assert sorted(a.key for a in got) == ["no-debuginfo:6.1.0-58-amd64", "overdue:b1"]


def test_webhook_formats_against_a_local_receiver(receiver: Receiver, tmp_path: Path) -> None:
    chans = [Channel(name=f, type="webhook", format=f, url=f"{receiver.url}/{f}", secret="s3cret")
             for f in ("json", "slack", "feishu", "dingtalk", "wecom")]
    d = Dispatcher(AlertConfig(channels=chans), tmp_path, clock=lambda: NOW)
    alert = rules.on_crash(crash(), bucket(), True, base_url="http://hub")[0]
    log = d.dispatch([alert])
    assert [r.result for r in log] == ["sent"] * 5
    by = {urlparse(g["path"]).path.strip("/"): g for g in receiver.got}
    assert by["json"]["body"]["alert"]["rule"] == "new_bucket"
    assert "<http://hub/ui/buckets/b1|open in crashhub>" in by["slack"]["body"]["text"]
    fs = by["feishu"]["body"]
    assert fs["msg_type"] == "text" and "BUG: NULL" in fs["content"]["text"]
    key = f"{fs['timestamp']}\ns3cret".encode()
    assert fs["sign"] == base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
    dt = by["dingtalk"]
    q = parse_qs(urlparse(dt["path"]).query)
    mac = hmac.new(b"s3cret", f"{q['timestamp'][0]}\ns3cret".encode(), hashlib.sha256).digest()
    assert q["sign"][0] == base64.b64encode(mac).decode()
    assert dt["body"]["msgtype"] == "markdown" and dt["body"]["markdown"]["title"]
    assert by["wecom"]["body"]["markdown"]["content"].startswith("### New crash bucket")
    # Every delivery is in the log with its result.
    lines = [json.loads(x) for x in (tmp_path / "alerts.jsonl").read_text().splitlines()]
    assert len(lines) == 5 and all(x["ok"] and x["status"] == 200 for x in lines)


def test_dedup_rate_limit_and_failures_are_logged(receiver: Receiver, tmp_path: Path) -> None:
    t = [NOW]
    ch = Channel(name="hook", type="webhook", format="json", url=receiver.url)
    cfg = AlertConfig(channels=[ch], max_per_hour=2, dedup_seconds=600)
    d = Dispatcher(cfg, tmp_path, clock=lambda: t[0])
    a = rules.on_crash(crash(), bucket(), True)[0]
    assert len(d.dispatch([a, a])) == 1  # the same key twice: one delivery
    assert d.dispatch([a]) == []  # deduplicated within the window ...
    # ... also across a restart (state on disk).
    assert Dispatcher(d.config, tmp_path, clock=lambda: t[0]).dispatch([a]) == []
    others = [replace(a, key=f"new-bucket:x{i}") for i in range(3)]
    res = d.dispatch(others)
    assert [r.result for r in res] == ["sent", "rate-limited", "rate-limited"]
    t[0] += 3601  # next hour, past the dedup window: the first alert may go again
    receiver.status, receiver.reply = 200, {"errcode": 310000, "errmsg": "keywords not in content"}
    res = d.dispatch([a])
    assert res[0].result == "failed" and "310000" in res[0].error
    receiver.status = 500
    assert d.dispatch([replace(a, key="new-bucket:y")])[0].error == "HTTP 500"
    dead = Channel(name="dead", type="webhook", format="json", url="http://127.0.0.1:9/", timeout=2)
    res = Dispatcher(AlertConfig(channels=[dead]), tmp_path, clock=lambda: t[0]).dispatch(
        [replace(a, key="new-bucket:z")]
    )
    assert res[0].result == "failed" and "Connect" in res[0].error
    results = [json.loads(x)["result"] for x in (tmp_path / "alerts.jsonl").read_text().splitlines()]
    assert results.count("rate-limited") == 2 and results.count("failed") == 3


def test_mail_through_a_local_smtp_server(smtp: tuple[Any, list[Any]], tmp_path: Path) -> None:
    controller, got = smtp
    ch = Channel(name="mail", type="smtp", host="127.0.0.1", port=controller.port, sender="hub@example.org",
                 to=("kernel@example.org", "oncall@example.org"))
    d = Dispatcher(AlertConfig(channels=[ch]), tmp_path, clock=lambda: NOW)
    alert = rules.on_crash(crash(kb=[REGRESSION]), bucket(count=3, kb=[REGRESSION]), True, base_url="http://hub")[0]
    res = d.dispatch([alert])
    assert res[0].result == "sent"
    assert len(got) == 1
    env = got[0]
    assert env.rcpt_tos == ["kernel@example.org", "oncall@example.org"]
    text = env.content.decode()
    assert "Subject: [crashhub] Regressed: crashmod NULL" in text and "X-Crashhub-Rule: regression" in text


def test_config_file_and_engine(receiver: Receiver, tmp_path: Path) -> None:
    (tmp_path / "alerts.toml").write_text(
        f'base_url = "http://hub"\nmax_per_hour = 5\n[[channel]]\nname = "h"\nformat = "slack"\n'
        f'url = "{receiver.url}"\nrules = ["new_bucket"]\n'
    )
    eng = AlertEngine(tmp_path)

    class Outcome:
        pass

    o = Outcome()
    o.crash, o.bucket, o.created = crash(kb=[HIT]), bucket(), True  # type: ignore[attr-defined]
    res = eng.on_outcome(o)
    assert [r.rule for r in res] == ["new_bucket"]  # the kb_hit is not this channel's rule
    (tmp_path / "alerts.toml").write_text('[[channel]]\nname = "h"\nformat = "teams"\nurl = "http://x"\n')
    with pytest.raises(ConfigError, match="format"):
        load_config(tmp_path / "alerts.toml")
    (tmp_path / "alerts.toml").write_text('[[channel]]\nname = "h"\nurl = "http://x"\nrules = ["nope"]\n')
    with pytest.raises(ConfigError, match="unknown rule"):
        load_config(tmp_path / "alerts.toml")


def test_payload_refuses_unknown_format() -> None:
    with pytest.raises(ValueError, match="unknown webhook format"):
        payload("teams", rules.on_crash(crash(), bucket(), True)[0])


def test_tick_finds_an_overdue_bucket_not_seen_for_days(tmp_path: Path) -> None:
    """The overdue rule reads every unanswered bucket, not only the most recently seen ones."""
    from tests.store.test_workflow import KNOWN, T0, crash  # noqa: PLC0415

    from crashhub.store import SqlStore  # noqa: PLC0415

    store = SqlStore(f"sqlite:///{tmp_path / 'hub.db'}")
    store.migrate()
    old, _ = store.crashes.add_crash(crash("old", key="k-old", when=T0))  # unanswered, deadline T0 + 4 h
    for i in range(30):  # newer buckets, all answered by the KB
        c = crash(f"n{i}", key=f"k{i}", when=T0 + 86400 + i)
        c.kb = list(KNOWN)
        store.crashes.add_crash(c)
    eng = AlertEngine(tmp_path)
    out = eng.tick(store, now=T0 + 10 * 86400, limit=10)
    overdue = [r.key for r in out if r.rule == "overdue_advice"]
    assert overdue == [f"overdue:{old.bucket_id}"]
    store.close()
