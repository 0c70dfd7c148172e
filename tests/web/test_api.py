"""API v1 against a real ``crashhub serve`` subprocess on a loopback port."""

from __future__ import annotations

import json
import shutil
import socket
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.labdata import case

from crashhub import dump as dumpmod

from .conftest import Server, blob_files, make_server, temp_files

GOOD_KB = """\
id: lab-null-crashmod
title: crashmod writes through a NULL pointer
status: known
match:
  kinds: [null_deref]
  function: ^crashmod_null$
cause: the test module dereferences 0x20 on purpose
advice: unload crashmod
"""


def _log(lab: Any, instance: int = 1) -> bytes:
    return Path(lab.crash("6.1", "null", instance=instance).path("rhel/vmcore-dmesg.txt")).read_bytes()


def _post(
    c: httpx.Client, log: bytes | None = None, vmcore: bytes | None = None, **data: str
) -> httpx.Response:
    files: dict[str, Any] = {}
    if log is not None:
        files["log"] = ("vmcore-dmesg.txt", log, "text/plain")
    if vmcore is not None:
        files["vmcore"] = ("vmcore", vmcore, "application/octet-stream")
    return c.post("/api/v1/crashes", files=files, data=data)


def test_health_openapi_metrics(server: Server) -> None:
    with server.client(None) as c:
        assert c.get("/healthz").json() == {"ok": True}
        spec = c.get("/api/v1/openapi.json").json()
        for path in (
            "/api/v1/crashes",
            "/api/v1/crashes/{crash_id}/vmcore",
            "/api/v1/buckets",
            "/api/v1/kb/{entry_id}",
            "/api/v1/hosts/report",
            "/api/v1/kernels",
        ):
            assert path in spec["paths"], path
        assert "multipart/form-data" in spec["paths"]["/api/v1/crashes"]["post"]["requestBody"]["content"]
        m = c.get("/metrics").text
        assert "crashhub_queue_depth" in m and "crashhub_triage_seconds" in m


def test_auth(server: Server) -> None:
    with server.client(None) as c:
        r = c.get("/api/v1/buckets")
        assert r.status_code == 401 and "Authorization" in r.json()["error"]
        r = c.get("/api/v1/buckets", headers={"Authorization": "Bearer nope"})
        assert r.status_code == 401 and "unknown" in r.json()["error"]
        assert c.get("/api/v1/buckets", headers={"Authorization": "Basic x"}).status_code == 401
    with server.client("host") as c:
        r = c.get("/api/v1/buckets")
        assert r.status_code == 403 and "host" in r.json()["error"]
    with server.client("viewer") as c:
        assert c.get("/api/v1/buckets").status_code == 200
        r = _post(c, b"[    0.000000] Linux version 6.1\n")
        assert r.status_code == 403
        assert c.post("/api/v1/kb", json={}).status_code == 403


@pytest.mark.lab
def test_post_log_then_resumable_dump(server: Server, lab: Any) -> None:
    run = lab.crash("6.1", "null")
    dump = Path(run.path("rhel/vmcore")).read_bytes()
    # The crash directory kdump named a few seconds after the crash (the hub checks the dump's
    # CRASHTIME against it before it attaches the dump).
    crashed = dumpmod.facts(run.path("rhel/vmcore")).crash_time
    assert crashed is not None
    saved = time.strftime("%Y-%m-%d-%H:%M:%S", time.gmtime(crashed + 7))
    with server.client("host") as c:
        r = _post(c, _log(lab), host="web7", crash_dir=f"10.0.0.5-{saved}")
        assert r.status_code == 201, r.text
        body = r.json()
        assert set(body) >= {"id", "created", "kind", "title", "bucket", "kb", "wants_vmcore", "has_vmcore"}
        assert body["created"] and body["wants_vmcore"] and not body["has_vmcore"]
        assert body["kind"] == "null_deref" and body["bucket"]["count"] == 1
        assert set(body["bucket"]) == {"id", "key", "title", "kind", "count"}
        assert body["kb"] and set(body["kb"][0]) >= {"id", "title", "status", "matched_rules"}
        cid = body["id"]
        again = _post(c, _log(lab), host="web7")
        assert again.status_code == 200 and again.json()["id"] == cid and not again.json()["created"]

        assert c.get(f"/api/v1/crashes/{cid}/vmcore/upload").json() == {
            "offset": 0,
            "size": None,
            "complete": False,
        }
        n, third = len(dump), len(dump) // 3
        r = c.put(
            f"/api/v1/crashes/{cid}/vmcore",
            content=dump[:third],
            headers={"Content-Range": f"bytes 0-{third - 1}/{n}"},
        )
        assert r.json() == {"offset": third, "size": n, "complete": False}
        r = c.put(
            f"/api/v1/crashes/{cid}/vmcore", content=dump[:10], headers={"Content-Range": f"bytes 0-9/{n}"}
        )
        assert r.status_code == 409 and r.json()["offset"] == third
        assert c.get(f"/api/v1/crashes/{cid}/vmcore/upload").json()["offset"] == third
        r = c.put(
            f"/api/v1/crashes/{cid}/vmcore",
            content=dump[third:],
            headers={"Content-Range": f"bytes {third}-{n - 1}/{n}"},
        )
        assert r.status_code == 200, r.text
        assert r.json() == {"offset": n, "size": n, "complete": True}
        third_post = _post(c, _log(lab), host="web7").json()
        assert third_post["has_vmcore"] and not third_post["wants_vmcore"]
    with server.client("viewer") as c:
        crash = c.get(f"/api/v1/crashes/{cid}").json()
        assert crash["has_vmcore"] and crash["dump"]["format"] == "kdump"
        assert crash["host"] == "web7" and crash["host_source"] == "token"
        names = {f["name"] for f in c.get(f"/api/v1/crashes/{cid}/files").json()["files"]}
        assert names == {"vmcore-dmesg.txt", "vmcore"}
        assert c.get(f"/api/v1/crashes/{cid}/files/vmcore-dmesg.txt").content == _log(lab)
        r = c.get(f"/api/v1/crashes/{cid}/files/vmcore")
        assert r.status_code == 403
    with server.client("admin") as c:
        r = c.get(f"/api/v1/crashes/{cid}/files/vmcore")
        assert r.status_code == 200 and r.content == dump
        (a,) = c.get("/api/v1/audit").json()["audit"]
        assert (
            a["action"] == "download-dump" and a["target"] == f"{cid}/vmcore" and "test-admin" in a["actor"]
        )


def test_buckets_kb_and_merge(fresh_server: Server) -> None:
    server = fresh_server
    with server.client("admin") as c:
        one = _post(c, case("6.1", "null").log.read_bytes()).json()
        two = _post(c, case("6.1", "null", 2).log.read_bytes()).json()
        assert one["bucket"]["id"] == two["bucket"]["id"] and two["bucket"]["count"] == 2  # KASLR: one bucket
        sysrq = _post(c, case("6.1", "sysrq").log.read_bytes()).json()
        assert sysrq["bucket"]["id"] != one["bucket"]["id"]
        lst = c.get("/api/v1/buckets", params={"sort": "count"}).json()
        assert lst["total"] == 2 and lst["buckets"][0]["count"] == 2
        for key in (
            "id",
            "key",
            "kind",
            "title",
            "count",
            "hosts",
            "kernels",
            "kb",
            "days",
            "spike",
            "trend",
        ):
            assert key in lst["buckets"][0]
        assert (
            c.get("/api/v1/buckets", params={"sort": "last_seen"}).json()["buckets"][0]["id"]
            == sysrq["bucket"]["id"]
        )
        assert c.get("/api/v1/buckets", params={"sort": "nope"}).status_code == 400
        # The workflow status: both buckets await a first advice until someone answers one.
        assert c.get("/api/v1/buckets", params={"status": "new"}).json()["total"] == 2
        patched = c.patch(f"/api/v1/buckets/{sysrq['bucket']['id']}", json={"status": "fixed"})
        assert patched.status_code == 200
        fixed = c.get("/api/v1/buckets", params={"status": "fixed"}).json()
        assert [b["id"] for b in fixed["buckets"]] == [sysrq["bucket"]["id"]]
        assert c.get("/api/v1/buckets", params={"status": "new"}).json()["total"] == 1
        assert c.get("/api/v1/buckets", params={"status": "later"}).status_code == 400

        # A KB entry added later shows on the old bucket.
        r = c.post("/api/v1/kb", content=GOOD_KB, headers={"Content-Type": "application/yaml"})
        assert r.status_code == 201, r.text
        assert r.json()["buckets_changed"] >= 1
        b = c.get(f"/api/v1/buckets/{one['bucket']['id']}").json()
        assert b["kb"][0]["id"] == "lab-null-crashmod"
        assert c.get(f"/api/v1/crashes/{one['id']}").json()["bucket_kb"][0]["id"] == "lab-null-crashmod"
        assert c.get("/api/v1/kb/lab-null-crashmod").json()["status"] == "known"
        edited = json.loads(json.dumps(c.get("/api/v1/kb/lab-null-crashmod").json()))
        edited.pop("source")
        edited["status"] = "fixed"
        assert c.put("/api/v1/kb/lab-null-crashmod", json=edited).status_code == 200
        b = c.get(f"/api/v1/buckets/{one['bucket']['id']}").json()
        assert b["kb"][0]["status"] == "fixed"
        assert c.delete("/api/v1/kb/lab-null-crashmod").status_code == 200
        assert c.get("/api/v1/kb/lab-null-crashmod").status_code == 404

        merged = c.post(
            f"/api/v1/buckets/{sysrq['bucket']['id']}/merge", json={"into": one["bucket"]["id"]}
        ).json()
        assert merged["count"] == 3
        split = c.post(
            f"/api/v1/buckets/{one['bucket']['id']}/split",
            json={"crashes": [sysrq["id"]], "title": "sysrq, not crashmod"},
        ).json()
        assert split["count"] == 1 and split["title"] == "sysrq, not crashmod"
        events = c.get(f"/api/v1/buckets/{one['bucket']['id']}").json()["events"]
        # The KB entry answered the new bucket (workflow: new -> known_issue, by "kb"), then merge, split.
        assert [e["action"] for e in events] == ["workflow", "merge", "split"]
        assert events[0]["actor"] == "kb" and events[0]["detail"]["status"] == ["new", "known_issue"]
    with server.client("viewer") as c:
        assert c.post(f"/api/v1/buckets/{one['bucket']['id']}/merge", json={"into": "x"}).status_code == 403


def test_bad_kb_regex_is_refused(server: Server) -> None:
    bad = GOOD_KB.replace("^crashmod_null$", "'(unclosed'").replace("lab-null-crashmod", "bad-regex")
    with server.client("admin") as c:
        r = c.post("/api/v1/kb", content=bad, headers={"Content-Type": "application/yaml"})
        assert r.status_code == 422
        err = r.json()["error"]
        assert "function" in err and ":" in err, err
        r = c.post("/api/v1/kb", json={"id": "bad-title", "title": "t", "match": {"title": "("}})
        assert r.status_code == 422 and "title" in r.json()["error"]
        r = c.put("/api/v1/kb/other-id", content=GOOD_KB, headers={"Content-Type": "application/yaml"})
        assert r.status_code == 422 and "differs" in r.json()["error"]
    kb = server.data / "kb"
    assert not any((kb / f"{i}.yaml").exists() for i in ("bad-regex", "bad-title", "other-id"))


def test_hosts_and_kernels(server: Server) -> None:
    report = {
        "host": "web7",
        "release": "6.1.0-56-cloud-amd64",
        "build_id": "ab" * 20,
        "hardware": "QEMU",
        "machine": "x86_64",
        "kdump": {"ready": True},
        "agent_version": "0.1.0",
    }
    with server.client("host") as c:
        assert c.post("/api/v1/hosts/report", json=report).json() == {"ok": True}
        assert c.post("/api/v1/hosts/report", json={"host": 5}).status_code == 400
        assert (
            c.post(
                "/api/v1/hosts/report", content=b"{nope", headers={"Content-Type": "application/json"}
            ).status_code
            == 400
        )
    with server.client("viewer") as c:
        (h,) = [h for h in c.get("/api/v1/hosts").json()["hosts"] if h["host"] == "web7"]
        assert h["kdump"] == {"ready": True} and h["build_id"] == "ab" * 20
        (k,) = [
            k for k in c.get("/api/v1/kernels").json()["kernels"] if k["release"] == "6.1.0-56-cloud-amd64"
        ]
        assert k["hosts"] >= 1 and k["debuginfo"] is False and k["build_ids"] == ["ab" * 20]


def test_path_traversal(server: Server) -> None:
    log = b"".join(b"[%5d.000000] line %d\n" % (i, i) for i in range(10))
    with server.client("admin") as c:
        r = c.post("/api/v1/crashes", files={"log": ("../../../etc/passwd", log, "text/plain")})
        assert r.status_code == 201
        cid = r.json()["id"]
        names = [f["name"] for f in c.get(f"/api/v1/crashes/{cid}/files").json()["files"]]
        assert names == ["vmcore-dmesg.txt"]
        for bad in ("..%2F..%2F..%2Fetc%2Fpasswd", "%2E%2E", "vmcore-dmesg.txt%2F..%2F..%2Fcrashhub.db"):
            r = c.get(f"/api/v1/crashes/{cid}/files/{bad}")
            assert r.status_code == 404, bad
        r = _post(c, log, host="../../etc")
        assert r.status_code == 400 and "host" in r.json()["error"]
        assert c.get("/api/v1/crashes/..%2F..%2Fetc/files").status_code == 404
        assert c.delete("/api/v1/kb/..%2F..%2Fcrashhub.db").status_code in (400, 404)
    assert (server.data / "crashhub.db").exists()


def _ncrashes(server: Server) -> int:
    with server.client("viewer") as c:
        return len(c.get("/api/v1/crashes", params={"limit": 1000}).json()["crashes"])


def test_garbage_dump_and_missing_log(server: Server) -> None:
    before, nc = len(blob_files(server.data)), _ncrashes(server)
    with server.client("host") as c:
        r = _post(c, b"[    0.000000] Linux version 6.1\n", vmcore=b"GARBAGE!" * 4096)
        assert r.status_code == 422 and "dump magic" in r.json()["error"], r.text
        r = c.post("/api/v1/crashes", files={"kexec_log": ("kexec-dmesg.log", b"x", "text/plain")})
        assert r.status_code == 400 and "'log' is required" in r.json()["error"]
        r = c.post("/api/v1/crashes", files={"evil": ("x", b"y")})
        assert r.status_code == 400 and "unknown field 'evil'" in r.json()["error"]
        r = c.post("/api/v1/crashes", content=b"x", headers={"Content-Type": "text/plain"})
        assert r.status_code == 415
    assert _ncrashes(server) == nc
    assert len(blob_files(server.data)) == before and temp_files(server.data) == []


def test_truncated_multipart(server: Server) -> None:
    nc = _ncrashes(server)
    boundary = "XyZ123"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="log"; filename="l"\r\n'
        "Content-Type: text/plain\r\n\r\n[    0.000000] Linux version 6.1\n"
    ).encode()
    head = (
        f"POST /api/v1/crashes HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {server.tokens['host']}\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as s:
        s.sendall(head + body)
        reply = b""
        while chunk := s.recv(65536):
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 400"), reply[:200]
    assert b"truncated multipart" in reply
    assert _ncrashes(server) == nc
    assert temp_files(server.data) == []


def test_oversize_upload(tmp_path: Path) -> None:
    srv = make_server(tmp_path, CRASHHUB_MAX_LOG_BYTES="50000", CRASHHUB_MAX_DUMP_BYTES="100000")
    srv.start()
    try:
        with srv.client("host") as c:
            r = _post(c, b"[    0.000000] x\n" * 10000)
            assert r.status_code == 413 and "'log' is larger than the limit of 50000" in r.json()["error"]
            r = _post(c, b"[    0.000000] x\n", vmcore=b"\0" * 200000)
            assert r.status_code == 413
            log = b"[    0.000000] Linux version 6.1\n"
            cid = _post(c, log, host="web1").json()["id"]
            r = c.put(
                f"/api/v1/crashes/{cid}/vmcore",
                content=b"\0" * 10,
                headers={"Content-Range": "bytes 0-9/200000"},
            )
            assert r.status_code == 413 and "max_dump_bytes" in r.json()["error"]
            r = c.put(f"/api/v1/crashes/{cid}/vmcore", content=b"\0" * 150000)
            assert r.status_code == 413
            assert c.get(f"/api/v1/crashes/{cid}/vmcore/upload").json()["offset"] == 0
        with srv.client("viewer") as c:
            assert len(c.get("/api/v1/crashes").json()["crashes"]) == 1
        assert temp_files(srv.data) == []
    finally:
        srv.stop()


@pytest.mark.lab
def test_spool_through_serve(fresh_server: Server, lab: Any) -> None:
    server = fresh_server
    src = Path(lab.crash("6.1", "null").path("rhel-ssh/vmcore.flat")).parent
    shutil.copytree(src, server.data.parent / "spool" / src.name)
    with server.client("viewer") as c:
        end = time.monotonic() + 60
        while time.monotonic() < end:
            crashes = c.get("/api/v1/crashes").json()["crashes"]
            if crashes:
                break
            time.sleep(0.3)
        (crash,) = crashes
        assert crash["source"] == "spool" and crash["has_vmcore"] and crash["host"] == "10.0.2.15"
        # The counter moves once the ingest has returned, just after the row is visible.
        want = 'crashhub_crashes_ingested_total{created="true",source="spool"} 1.0'
        end = time.monotonic() + 10
        while want not in (m := c.get("/metrics").text) and time.monotonic() < end:
            time.sleep(0.1)
        assert want in m
