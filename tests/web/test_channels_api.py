"""The ``channel`` of ``POST /api/v1/crashes`` (issue 19): an agent sends a pstore record as a crash
log with its time; netconsole is the hub's own receiver's, never an uploader's.  A real serve."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from crashhub import dump as dumpmod

from .conftest import Server


def _post(c: httpx.Client, log: bytes, **data: str) -> httpx.Response:
    return c.post("/api/v1/crashes", files={"log": ("dmesg-ramoops-0", log, "text/plain")}, data=data)


def test_pstore_record_then_kdump_log_is_one_crash(fresh_server: Server, lab: Any) -> None:
    run = lab.crash("6.1", "null")
    log = Path(run.path("rhel/vmcore-dmesg.txt")).read_bytes()
    crashed = dumpmod.facts(run.path("rhel/vmcore")).crash_time
    assert crashed is not None
    record = b"Panic#1 Part1\n" + b"".join(b"<4>" + x + b"\n" for x in log.splitlines()[-60:])
    with fresh_server.client("host") as c:
        r = _post(c, record, host="web7", channel="pstore", crash_time=f"{crashed + 0.25:.6f}")
        assert r.status_code == 201, r.text
        cid = r.json()["id"]
        assert r.json()["kind"] == "null_deref"
        r2 = c.post("/api/v1/crashes", files={"log": ("vmcore-dmesg.txt", log, "text/plain")},
                    data={"host": "web7"})
        assert r2.status_code == 200, r2.text  # not created: the pstore record's crash
        assert r2.json()["id"] == cid and r2.json()["bucket"]["count"] == 1
    with fresh_server.client("viewer") as c:
        d = c.get(f"/api/v1/crashes/{cid}").json()
    chans = {ch["channel"]: ch for ch in d["channels"]}
    assert set(chans) == {"pstore", "kdump"} and d["unverified_source"] is False
    assert chans["pstore"]["log"]["name"] == "pstore-dmesg.txt" and chans["pstore"]["crash_time"]
    roles = {f["name"]: f["role"] for f in d["files"]}
    assert roles == {"pstore-dmesg.txt": "channel_log", "vmcore-dmesg.txt": "log"}


def test_channel_field_is_checked(fresh_server: Server, lab: Any) -> None:
    log = Path(lab.crash("6.1", "null").path("rhel/vmcore-dmesg.txt")).read_bytes()
    with fresh_server.client("host") as c:
        for data, why in (
            ({"channel": "netconsole"}, "comes only from the hub's own receiver"),
            ({"channel": "floppy"}, "is not a channel"),
            ({"channel": "pstore", "crash_time": "yesterday"}, "is not seconds since the epoch"),
            ({"crash_time": "1796591966"}, "only a pstore record sends its time"),
        ):
            r = _post(c, log, host="web7", **data)
            assert r.status_code == 400 and why in r.text, (data, r.text)
    with fresh_server.client("viewer") as c:
        assert c.get("/api/v1/crashes").json()["crashes"] == []  # nothing stored half-way
