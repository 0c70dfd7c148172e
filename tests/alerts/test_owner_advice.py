"""Advice to host owners, end to end without a server: a real SQLite store, advice set through
``Store.buckets.set_bucket_workflow``, ``AlertEngine.tick``, a local HTTP receiver and aiosmtpd on
loopback."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.alerts.conftest import Receiver
from tests.store.contract import crash

from crashhub.alerts import AlertEngine
from crashhub.alerts._advice import advice_alert, markdown_to_text
from crashhub.alerts._owners import OwnerBook, parse_owners
from crashhub.errors import ConfigError
from crashhub.store import SqlStore

ADVICE = "Unload **crashmod** on the hosts below; see [KB-7](https://kb.example.org/7)."


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlStore]:
    s = SqlStore(f"sqlite:///{tmp_path / 'crashhub.db'}")
    s.migrate()
    yield s
    s.close()


def log_lines(data: Path) -> list[dict[str, Any]]:
    p = data / "alerts.jsonl"
    return [json.loads(x) for x in p.read_text().splitlines()] if p.exists() else []


def setup_hub(store: SqlStore, data: Path, receiver: Receiver, smtp_port: int) -> tuple[str, str]:
    """Bucket A: db1 (two kernels), web1 and orphan1; bucket B: db2 only. Owners: dba by mail for db*,
    web by JSON webhook for WEB? (case-insensitive). A team webhook that must never get owner advice."""
    store.crashes.add_crash(crash("a1", key="A", host="db1", release="6.1.0-58-amd64"))
    store.crashes.add_crash(crash("a2", key="A", host="db1", release="6.1.0-59-amd64"))
    store.crashes.add_crash(crash("a3", key="A", host="web1", release="6.12.117-cloud-amd64"))
    c, _ = store.crashes.add_crash(crash("a4", key="A", host="orphan1", release="6.1.0-58-amd64"))
    b, _ = store.crashes.add_crash(crash("b1", key="B", host="db2"))
    (data / "alerts.toml").write_text(
        'base_url = "http://hub.test"\n'
        # The team's channel takes the crash rules; not the kernels no readiness check tried (their
        # alerts, once per kernel, are test_readiness_alert's).
        f'[[channel]]\nname = "team"\ntype = "webhook"\nurl = "{receiver.url}/team"\n'
        'rules = ["new_bucket", "regression", "kb_hit", "spike", "overdue_advice", "no_debuginfo"]\n'
        f'[[channel]]\nname = "mail"\ntype = "smtp"\nhost = "127.0.0.1"\nport = {smtp_port}\n'
        'sender = "hub@example.org"\nto = ["kernel@example.org"]\nrules = ["new_bucket"]\n'
    )
    (data / "host-owners.toml").write_text(
        '[[owner]]\nname = "dba"\nhosts = ["db*"]\ncontacts = ["dba@example.org"]\n'
        f'[[owner]]\nname = "web"\nhosts = ["WEB?"]\ncontacts = [{{webhook = "{receiver.url}/web"}}]\n'
    )
    return c.bucket_id, b.bucket_id


def owner_posts(receiver: Receiver) -> list[dict[str, Any]]:
    return [g for g in receiver.got if g["path"] == "/web"]


def test_advice_reaches_each_owner_once(
    store: SqlStore, tmp_path: Path, receiver: Receiver, smtp: tuple[Any, list[Any]]
) -> None:
    controller, mails = smtp
    bid, _ = setup_hub(store, tmp_path, receiver, controller.port)
    eng = AlertEngine(tmp_path)
    assert eng.tick(store) == []  # nothing advised yet
    store.buckets.set_bucket_workflow(bid, status="advice given", advice=ADVICE, actor="ui:alice")
    res = eng.tick(store)
    assert sorted(r.result for r in res) == ["no-owner", "sent", "sent"]

    # dba gets a plain-text mail with their host and its kernels only.
    assert len(mails) == 1 and mails[0].rcpt_tos == ["dba@example.org"]
    text = mails[0].content.decode()
    assert "db1 (6.1.0-58-amd64, 6.1.0-59-amd64)" in text
    assert "web1" not in text and "orphan1" not in text and "db2" not in text
    assert "Unload crashmod on the hosts below; see KB-7 (https://kb.example.org/7)." in text
    assert "**" not in text.split("Advice:")[1]
    assert f"http://hub.test/ui/buckets/{bid}" in text and "null_deref" in text

    # web gets the JSON webhook with their host, the Markdown advice and the link.
    (post,) = owner_posts(receiver)
    alert = post["body"]["alert"]
    assert alert["rule"] == "owner_advice" and alert["data"]["hosts"] == {"web1": ["6.12.117-cloud-amd64"]}
    assert alert["data"]["advice"] == ADVICE and alert["data"]["path"] == f"/ui/buckets/{bid}"
    assert alert["data"]["kernels"] == ["6.12.117-cloud-amd64"] and "**crashmod**" in alert["text"]
    assert not [g for g in receiver.got if g["path"] == "/team"]  # team channels get no owner advice

    # The log has each delivery with its result, and says orphan1 has no owner.
    log = [x for x in log_lines(tmp_path) if x["rule"] == "owner_advice"]
    (orphan,) = [x for x in log if x["result"] == "no-owner"]
    assert orphan["hosts"] == ["orphan1"] and orphan["key"].startswith(f"advice:{bid}:")
    sent = {x["channel"]: x for x in log if x["result"] == "sent"}
    assert sent["owner:dba:dba@example.org"]["hosts"] == ["db1"]
    assert [h for x in sent.values() for h in x["hosts"] if x["channel"].startswith("owner:web:")] == ["web1"]
    assert not any(receiver.url in json.dumps(x) for x in log)  # webhook URLs (tokens) stay out of it

    # A second tick, a restart, and re-saving the same advice send nothing.
    assert eng.tick(store) == []
    assert AlertEngine(tmp_path).tick(store) == []
    store.buckets.set_bucket_workflow(bid, status="investigating", actor="ui:bob")
    store.buckets.set_bucket_workflow(bid, status="advice_given", actor="ui:bob")
    assert AlertEngine(tmp_path).tick(store) == []
    assert len(mails) == 1 and len(owner_posts(receiver)) == 1

    # Changed advice goes out again, to the same owners with the same hosts.
    store.buckets.set_bucket_workflow(bid, advice=ADVICE + "\n\nUpdate: fixed in 6.1.0-60.", actor="ui:alice")
    res = AlertEngine(tmp_path).tick(store)
    assert sorted(r.result for r in res) == ["no-owner", "sent", "sent"]
    assert len(mails) == 2 and "fixed in 6.1.0-60" in mails[1].content.decode()
    assert len(owner_posts(receiver)) == 2
    assert owner_posts(receiver)[1]["body"]["alert"]["key"] != post["body"]["alert"]["key"]


def test_history_failures_and_a_bad_owner_file(
    store: SqlStore, tmp_path: Path, receiver: Receiver, smtp: tuple[Any, list[Any]]
) -> None:
    controller, mails = smtp
    bid, other = setup_hub(store, tmp_path, receiver, controller.port)
    # A webhook that fails is logged and retried on the next tick; mail already sent is not resent.
    eng = AlertEngine(tmp_path)
    receiver.status = 500
    store.buckets.set_bucket_workflow(bid, advice=ADVICE, actor="ui:alice")
    res = eng.tick(store)
    assert sorted(r.result for r in res) == ["failed", "no-owner", "sent"]
    assert next(r for r in res if r.result == "failed").error == "HTTP 500"
    receiver.status = 200
    res = eng.tick(store)
    assert [r.result for r in res] == ["sent"] and len(mails) == 1
    assert eng.tick(store) == []

    # A broken owners file: logged once, nothing sent, and the advice goes out once it is fixed.
    good = (tmp_path / "host-owners.toml").read_text()
    (tmp_path / "host-owners.toml").write_text('[[owner]]\nhosts = ["db*"]\ncontacts = ["not-an-address"]\n')
    store.buckets.set_bucket_workflow(other, advice="new advice for db2", actor="ui:alice")
    res = eng.tick(store)
    assert [r.result for r in res] == ["config-error"] and "not-an-address" in res[0].error
    assert eng.tick(store) == []
    (tmp_path / "host-owners.toml").write_text(good + "\n# fixed\n")
    res = eng.tick(store)
    assert [(r.result, r.hosts) for r in res] == [("sent", ("db2",))]
    assert mails[-1].rcpt_tos == ["dba@example.org"] and "new advice for db2" in mails[-1].content.decode()


def test_advice_from_before_the_first_start_is_history(
    store: SqlStore, tmp_path: Path, receiver: Receiver, smtp: tuple[Any, list[Any]]
) -> None:
    controller, mails = smtp
    bid, _ = setup_hub(store, tmp_path, receiver, controller.port)
    store.buckets.set_bucket_workflow(bid, status="advice_given", advice="old advice", actor="ui:alice")
    later = time.time() + 2 * 3600  # the hub starts notifying owners two hours after that advice
    eng = AlertEngine(tmp_path, clock=lambda: later)
    assert eng.tick(store) == [] and not mails and not owner_posts(receiver)
    assert AlertEngine(tmp_path, clock=lambda: later).tick(store) == []


def test_mail_owner_without_smtp_channel_is_logged(store: SqlStore, tmp_path: Path) -> None:
    c, _ = store.crashes.add_crash(crash("x", host="db9"))
    (tmp_path / "host-owners.toml").write_text('[[owner]]\nhosts = ["*"]\ncontacts = ["ops@example.org"]\n')
    eng = AlertEngine(tmp_path)
    store.buckets.set_bucket_workflow(c.bucket_id, advice="reboot", actor="t")
    (res,) = [r for r in eng.tick(store) if r.rule == "owner_advice"]  # not the kernel's no_readiness
    assert res.result == "failed" and "no SMTP channel" in res.error and res.hosts == ("db9",)


def test_owner_file_matching_rules(tmp_path: Path) -> None:
    p = tmp_path / "host-owners.toml"
    o = parse_owners(
        'smtp = "mail"\n'
        '[[owner]]\nname = "test"\nhosts = ["db-test-*"]\ncontacts = ["qa@x.org"]\nfinal = true\n'
        '[[owner]]\nname = "dba"\nhosts = ["db-*", "pg??"]\ncontacts = ["dba@x.org", "https://hook/a"]\n'
        '[[owner]]\nname = "all"\nhosts = "*"\n'
        'contacts = [{webhook = "https://hook/b", format = "dingtalk", secret = "s"}, "DBA@x.org"]\n',
        p,
    )
    assert o.smtp == "mail"
    assert [c.address for c in o.contacts_of("db-test-1")] == ["qa@x.org"]  # final stops the search
    assert [c.address for c in o.contacts_of("DB-7")] == ["dba@x.org", "https://hook/a", "https://hook/b"]
    assert [c.kind for c in o.contacts_of("pg01")] == ["mail", "webhook", "webhook"]
    assert [c.format for c in o.contacts_of("web1")] == ["dingtalk", "json"]
    for bad, msg in [
        ('[[owner]]\nhosts = []\ncontacts = ["a@b"]\n', "hosts"),
        ('[[owner]]\nhosts = ["*"]\n', "contacts"),
        ('[[owner]]\nhosts = ["*"]\ncontacts = [{webhook = "ftp://x"}]\n', "http"),
        ('[[owner]]\nhosts = ["*"]\ncontacts = [{webhook = "http://x", format = "teams"}]\n', "format"),
        ('[[owner]]\nhosts = ["*"]\ncontacts = ["a@b"]\ncolour = 1\n', "unknown"),
        ("owners = 1\n", "unknown"),
    ]:
        with pytest.raises(ConfigError, match=msg):
            parse_owners(bad, p)
    # The book re-reads the file when it changes.
    book = OwnerBook(p)
    assert book.get().entries == ()
    p.write_text('[[owner]]\nhosts = ["a*"]\ncontacts = ["x@y.z"]\n')
    assert [c.address for c in book.get().contacts_of("ab")] == ["x@y.z"]
    p.write_text('[[owner]]\nhosts = ["b*"]\ncontacts = ["other@y.z"]\n')
    assert book.get().contacts_of("ab") == []


def test_message_and_markdown_to_text(store: SqlStore) -> None:
    c, _ = store.crashes.add_crash(crash("m", host="h1"))
    b = store.buckets.get_bucket(c.bucket_id)
    assert b is not None
    hosts = {f"h{i:03d}": {"6.1"} for i in range(60)}
    a = advice_alert(b, "# Fix\n*now*, `modprobe -r x`", hosts, f"advice:{b.id}:abc:mail:x", None)
    assert a.link == f"/ui/buckets/{b.id}" and "and 10 more" in a.text and "(60)" in a.text
    assert a.plain is not None and "Fix\nnow, modprobe -r x" in a.plain
    assert markdown_to_text("__b__ and **c** [l](http://u)") == "b and c l (http://u)"
