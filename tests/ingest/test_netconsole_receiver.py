"""The netconsole receiver end to end on loopback: real UDP datagrams made from lab logs, a real hub.

Senders are told apart by their loopback address (the whole of 127.0.0.0/8 is this machine's):
one mapped by a host report's address, one by ``netconsole_allow``, one by neither.
"""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import time
from pathlib import Path

from tests.channels.netconsole_wire import as_console, log_datagrams

from crashhub import triage
from crashhub.ingest import NetconsoleReceiver, Pipeline
from crashhub.store import CrashRecord, Hub

LAB = Path(__file__).resolve().parents[1] / "triage" / "data" / "lab"


def _log(name: str) -> str:
    return (LAB / f"{name}.vmcore-dmesg.txt").read_text()


def _sender(ip: str) -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((ip, 0))
    return s


async def _wait_for(what: object, ok: object, timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if ok():  # type: ignore[operator]
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _crashes(hub: Hub) -> list[CrashRecord]:
    return hub.store.crashes.list_crashes(limit=100)


def test_receiver_cuts_maps_and_drops(hub: Hub, pipeline: Pipeline) -> None:
    hub.store.hosts.report_host("web7", release=None, build_id=None, hardware=None, machine=None,
                                agent_version=None, kdump=None, address="127.0.0.2")
    settings = dataclasses.replace(
        hub.settings, netconsole_listen="127.0.0.1:0", netconsole_allow="127.0.0.1/32, 127.0.0.4/32",
        netconsole_quiet=0.5,
    )
    logs = {"127.0.0.1": _log("6.1-null-1"), "127.0.0.2": _log("6.12-gpf-1"),
            "127.0.0.3": _log("6.1-bug-1"), "127.0.0.4": _log("6.12-softlockup-1")}

    async def main() -> dict[str, int]:
        rec = NetconsoleReceiver(pipeline, settings)
        await rec.start()
        assert rec.address is not None
        try:
            socks = {ip: _sender(ip) for ip in logs}
            grams = {ip: log_datagrams(text) for ip, text in logs.items()}
            # Interleaved, one datagram of each sender in turn, as a fleet's would be.
            for i in range(max(len(g) for g in grams.values())):
                for ip, g in grams.items():
                    if i < len(g):
                        socks[ip].sendto(g[i], rec.address)
                if i % 50 == 0:
                    await asyncio.sleep(0.01)  # the loop reads while senders send
            await _wait_for("three crashes", lambda: len(_crashes(hub)) >= 3)
            await asyncio.sleep(0.3)  # a fourth (the unknown sender's) would land by now
            for s in socks.values():
                s.close()
            return rec.snapshot()
        finally:
            await rec.close()

    counters = asyncio.run(main())
    by_host = {c.host: c for c in _crashes(hub)}
    assert set(by_host) == {"127.0.0.1", "web7", "127.0.0.4"}  # 127.0.0.3: no report, not allowed
    for ip, host in (("127.0.0.1", "127.0.0.1"), ("127.0.0.2", "web7"), ("127.0.0.4", "127.0.0.4")):
        c = by_host[host]
        assert c.source == "netconsole" and c.host_source == "netconsole"
        want = triage.parse(logs[ip])[0]
        assert (c.kind, c.title, c.release) == (want.kind, want.title, want.release)
        log_file = next(f for f in c.files if f.role == "log")
        assert log_file.name == "netconsole.log"
        assert hub.blobs.local_path(log_file.digest).read_text() == as_console(logs[ip])
    assert counters["dropped_unknown"] == len(log_datagrams(logs["127.0.0.3"]))
    assert counters["crashes"] == 3 and counters["gaps"] == 0 and counters["senders"] == 3
    sent = sum(len(log_datagrams(t)) for t in logs.values())
    assert counters["datagrams"] == sent


def test_rate_limit_and_sender_eviction(hub: Hub, pipeline: Pipeline) -> None:
    settings = dataclasses.replace(
        hub.settings, netconsole_listen="127.0.0.1:0", netconsole_allow="127.0.0.0/8",
        netconsole_rate=10, netconsole_max_senders=2, netconsole_quiet=0.5,
    )

    async def main() -> dict[str, int]:
        rec = NetconsoleReceiver(pipeline, settings)
        await rec.start()
        assert rec.address is not None
        try:
            socks = [_sender(f"127.0.0.{10 + i}") for i in range(3)]
            for j in range(150):  # 150 at once from one sender: the bucket holds ten seconds of 10/s
                socks[0].sendto(f"6,{j},{j},-;line {j}\n".encode(), rec.address)
            for s in socks[1:]:
                s.sendto(b"6,0,0,-;hello\n", rec.address)
            await _wait_for("every datagram", lambda: rec.counters.datagrams == 152)
            for s in socks:
                s.close()
            return rec.snapshot()
        finally:
            await rec.close()

    counters = asyncio.run(main())
    # The bucket refills by 10/s while the 150 arrive: a slow machine lets one or two more through.
    assert 47 <= counters["rate_limited"] <= 50
    assert counters["senders_evicted"] == 1 and counters["senders"] == 2
    assert counters["lines"] == 152 - counters["rate_limited"]
    assert counters["cuts"] == 0 and _crashes(hub) == []
