"""Two hub nodes on one PostgreSQL database keep no state of their own (issue 15): each alert goes out
once however many nodes tick, owner advice reaches an owner once, and a KB entry written through one
node matches on the other at once.

Each node is an app with its own data directory (its own ``alerts.toml`` and ``host-owners.toml``,
both naming the same loopback receiver), as two ``crashhub serve`` processes behind a load balancer
would be; all they share is ``database_url``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.alerts.conftest import Receiver
from tests.store.test_workflow import T0, crash

from crashhub import config
from crashhub.ingest import Arrival
from crashhub.web import Context, build_context, create_app, create_token
from crashhub.web._alerting import LEASE

pytestmark = [pytest.mark.postgres]

LOG = (b"[    4.429052] BUG: kernel NULL pointer dereference, address: 0000000000000020\n"
       b"[    4.429342] #PF: supervisor write access in kernel mode\n"
       b"[    4.430000] RIP: 0010:crash_null+0x1a/0x30 [crashmod]\n"
       b"[    4.430100] Call Trace:\n[    4.430200]  <TASK>\n"
       b"[    4.430300]  do_one_initcall+0x41/0x200\n")
ENTRY = {"id": "crashmod-null-site", "title": "crashmod writes through NULL", "status": "known",
         "match": {"kinds": ["null_deref"], "function": "^crash_null$"}, "advice": "Unload crashmod."}


class Node:
    def __init__(self, data: Path, pg_url: str, receiver: Receiver) -> None:
        data.mkdir(parents=True)
        (data / "alerts.toml").write_text(f'[[channel]]\nname = "team"\nurl = "{receiver.url}/team"\n')
        (data / "host-owners.toml").write_text(
            f'[[owner]]\nname = "db"\nhosts = ["db*"]\ncontacts = [{{webhook = "{receiver.url}/owner"}}]\n'
        )
        settings = config.load(data, env={}, database_url=pg_url, spool_dir="", workers=0, alert_interval=300)
        self.ctx: Context = build_context(settings)
        self.app = create_app(settings, background=False, ctx=self.ctx)

    def tick(self) -> list[dict[str, Any]]:
        assert self.ctx.alerts is not None
        return self.ctx.alerts.tick()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def nodes(tmp_path: Path, pg_url: str, receiver: Receiver) -> Iterator[tuple[Node, Node]]:
    a = Node(tmp_path / "a", pg_url, receiver)
    b = Node(tmp_path / "b", pg_url, receiver)
    yield a, b
    a.ctx.hub.close()
    b.ctx.hub.close()


def keys(receiver: Receiver, path: str) -> Counter[str]:
    return Counter(g["body"]["alert"]["key"] for g in receiver.got if g["path"] == path)


def test_two_nodes_ticking_send_each_alert_once(nodes: tuple[Node, Node], receiver: Receiver) -> None:
    a, b = nodes
    store = a.ctx.hub.store
    old, _ = store.crashes.add_crash(crash("old", key="k-old", host="db1", when=T0))  # overdue since T0 + 4 h
    for _ in range(3):  # both nodes tick, over and over: the lease makes one of them the ticker
        a.tick()
        b.tick()
    assert store.cluster.lease_holder(LEASE) == a.ctx.node
    team = keys(receiver, "/team")
    assert team[f"overdue:{old.bucket_id}"] == 1 and set(team.values()) == {1}, team

    # The ticking node stops: the other takes over at once (a stop gives the lease up) and sends only
    # what is new.
    assert a.ctx.alerts is not None
    a.ctx.alerts.start()
    a.ctx.alerts.stop()
    assert store.cluster.lease_holder(LEASE) is None
    newer, _ = store.crashes.add_crash(crash("newer", key="k-new", host="db2", when=T0 + 60))
    assert b.tick() and store.cluster.lease_holder(LEASE) == b.ctx.node
    assert a.tick() == []
    team = keys(receiver, "/team")
    assert team[f"overdue:{newer.bucket_id}"] == 1 and set(team.values()) == {1}, team

    # Owner advice: given once, delivered once, whichever node ticks.
    store.buckets.set_bucket_workflow(
        old.bucket_id, status="advice given", advice="Unload crashmod.", actor="ui:al"
    )
    for _ in range(2):
        b.tick()
        a.tick()
    assert len(keys(receiver, "/owner")) == 1 and set(keys(receiver, "/owner").values()) == {1}

    # An ingest alert whose outcome reaches both nodes (a crash sent to each) goes out once.
    o = a.ctx.pipeline.ingest(Arrival(log=LOG, host="web1", source="http"))
    assert o.created
    assert b.ctx.alerts is not None
    b.ctx.alerts.on_outcome(o)
    assert keys(receiver, "/team")[f"new-bucket:{o.bucket.id}"] == 1


def test_a_kb_entry_written_on_one_node_matches_on_the_other(nodes: tuple[Node, Node]) -> None:
    a, b = nodes
    token = create_token(a.ctx.hub.store, "admin", "ops")[0]
    admin = {"Authorization": f"Bearer {token}"}
    with TestClient(b.app) as cb:
        first = b.ctx.pipeline.ingest(Arrival(log=LOG, host="web1", source="http"))
        assert ENTRY["id"] not in [m["id"] for m in first.crash.kb]
        assert cb.get(f"/api/v1/kb/{ENTRY['id']}", headers=admin).status_code == 404
        with TestClient(a.app) as ca:
            assert ca.post("/api/v1/kb", json=ENTRY, headers=admin).status_code in (200, 201)
        # Node B, which cached its entries before, matches with the new one on its next crash ...
        assert cb.get(f"/api/v1/kb/{ENTRY['id']}", headers=admin).status_code == 200
        second = b.ctx.pipeline.ingest(Arrival(log=LOG.replace(b"4.4", b"9.4"), host="web2", source="http"))
        assert second.created and second.crash.kb[0]["id"] == ENTRY["id"]
        # ... and node A's re-apply already marked the first crash's bucket known, for both nodes.
        bucket = b.ctx.hub.store.buckets.get_bucket(first.bucket.id)
        assert bucket is not None and bucket.kb[0]["id"] == ENTRY["id"]
    assert not (Path(a.ctx.settings.kb_path) / f"{ENTRY['id']}.yaml").exists()
