"""``crashhub serve`` with ``netconsole_listen``: a host's report gives the hub its address, and a
crash streamed over netconsole from that address lands as that host's, channel netconsole."""

from __future__ import annotations

import socket
import time
from pathlib import Path

from fastapi.testclient import TestClient
from tests.channels.netconsole_wire import log_datagrams
from tests.web.conftest import make_server

from crashhub import config, triage
from crashhub.web import build_context, create_app, create_token

LAB = Path(__file__).resolve().parents[1] / "triage" / "data" / "lab"


def _udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_receives_netconsole_and_maps_the_sender_by_its_host_report(tmp_path: Path) -> None:
    port = _udp_port()
    srv = make_server(tmp_path, CRASHHUB_NETCONSOLE_LISTEN=f"127.0.0.1:{port}",
                      CRASHHUB_NETCONSOLE_QUIET="0.5")
    srv.start()
    try:
        with srv.client("host") as host, srv.client("admin") as admin:
            assert host.post("/api/v1/hosts/report", json={"host": "web9"}).status_code == 200
            (h,) = admin.get("/api/v1/hosts").json()["hosts"]
            assert (h["host"], h["address"]) == ("web9", "127.0.0.1")  # where the report came from
            log = (LAB / "6.12-null-1.vmcore-dmesg.txt").read_text()
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                udp.bind(("127.0.0.1", 0))
                for i, d in enumerate(log_datagrams(log)):
                    udp.sendto(d, ("127.0.0.1", port))
                    if i % 100 == 0:
                        time.sleep(0.01)
            end = time.monotonic() + 30
            crashes: list[dict[str, object]] = []
            while time.monotonic() < end and not crashes:
                crashes = admin.get("/api/v1/crashes").json()["crashes"]
                time.sleep(0.2)
            (c,) = crashes
            want = triage.parse(log)[0]
            assert (c["host"], c["source"], c["title"]) == ("web9", "netconsole", want.title)
            nc = admin.get("/api/v1/netconsole").json()
            assert nc["listening"] == f"127.0.0.1:{port}"
            assert nc["counters"]["crashes"] == 1 and nc["counters"]["dropped_unknown"] == 0
            assert [s["host"] for s in nc["senders"]] == ["web9"]
            assert host.get("/api/v1/netconsole").status_code == 403
            metrics = admin.get("/metrics").text
            assert "crashhub_netconsole_crashes_total 1.0" in metrics
    finally:
        srv.stop()


def test_a_host_report_records_the_address_it_came_from(tmp_path: Path) -> None:
    """The address is the request's peer (a dual-stack socket's IPv4 peer as IPv4), never a field
    of the report: a report naming an address of its own changes nothing."""
    settings = config.load(tmp_path / "data", env={}, spool_dir="", workers=0, alert_interval=0)
    ctx = build_context(settings)
    app = create_app(settings, background=False, ctx=ctx)
    store = ctx.hub.store
    try:
        for host, peer in (("web1", "10.1.2.3"), ("web2", "::ffff:10.1.2.4"), ("web3", "testclient")):
            token = create_token(store, "host", host)[0]
            with TestClient(app, client=(peer, 40000)) as c:
                r = c.post("/api/v1/hosts/report", json={"host": host, "address": "192.0.2.99"},
                           headers={"Authorization": f"Bearer {token}"})
                assert r.status_code == 200, r.text
        assert {h.name: h.address for h in store.hosts.list_hosts()} == {
            "web1": "10.1.2.3", "web2": "10.1.2.4", "web3": None}
        assert store.hosts.host_addresses() == {"10.1.2.3": "web1", "10.1.2.4": "web2"}
    finally:
        ctx.hub.close()
