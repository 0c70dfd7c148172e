"""Identity is bound, never guessed (issue 14, finding 2): a host token speaks for its own host only.

On an in-process hub app: a host token's uploads, dumps and host reports are its own host's; the same
log text from several hosts is one crash each; a dump is attached only when its own facts (utsname,
release, build-id, crash time, the log inside it) agree with the crash, else a 409 with the reason.
The dumps are synthetic (tests/dump/synth.py), made with the log and utsname each test needs.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from tests.dump import synth

from crashhub import config
from crashhub.store import Store
from crashhub.web import build_context, create_app, create_token

OOPS = """\
[  100.000000] BUG: kernel NULL pointer dereference, address: 0000000000000020
[  100.000001] #PF: supervisor write access in kernel mode
[  100.000002] Oops: 0002 [#1] PREEMPT SMP NOPTI
[  100.000003] CPU: 1 PID: {pid} Comm: bash Tainted: G           OE      6.1.0-56-cloud-amd64 #1
[  100.000004] RIP: 0010:{fn}+0x15/0x30 [crashmod]
[  100.000005] Call Trace:
[  100.000006]  <TASK>
[  100.000007]  crashmod_write+0x40/0x80 [crashmod]
[  100.000008]  vfs_write+0xc8/0x3e0
[  100.000009]  </TASK>
[  100.000012] Kernel panic - not syncing: Fatal exception
"""
LOG_A = OOPS.format(pid=7, fn="crashmod_null")
LOG_B = OOPS.format(pid=9, fn="crashmod_other")
CRASH_TIME = 1764130000  # synth.Machine's CRASHTIME: 2025-11-26 04:06:40 UTC
DIR = "127.0.0.1-2025-11-26-04:06:52"  # kdump saved it 12 s later


def dump_of(log: str, **machine: Any) -> bytes:
    """A kdump-compressed vmcore whose kernel log is ``log`` (and utsname, release... as given)."""
    m = synth.Machine(**machine)
    m.build_page_tables()
    m.uts()
    recs = [(int(float(ln[1:13]) * 1e9), 100, ln[15:].encode()) for ln in log.splitlines()]
    synth.lockless_log(m, recs, count_bits=6, size_bits=12)
    m.cpus = [(0, [0x1000 + i for i in range(synth.X86_64_REGS)])]
    return synth.to_kdump(m)


class Hub:
    def __init__(self, data: Path) -> None:
        settings = config.load(data, env={}, spool_dir="", workers=0, alert_interval=0)
        ctx = build_context(settings)
        self.app: FastAPI = create_app(settings, background=False, ctx=ctx)
        self.store: Store = ctx.hub.store
        self.http = TestClient(self.app)
        self.admin = create_token(self.store, "admin", "admin")[0]

    def token(self, name: str, host: str | None = None) -> str:
        return create_token(self.store, "host", name, host=host)[0]

    def post(self, token: str, log: str | None = None, vmcore: bytes | None = None, **fields: str) -> Any:
        files: dict[str, Any] = {}
        if log is not None:
            files["log"] = ("vmcore-dmesg.txt", log.encode())
        if vmcore is not None:
            files["vmcore"] = ("vmcore", vmcore)
        return self.http.post(
            "/api/v1/crashes", files=files, data=fields, headers={"Authorization": f"Bearer {token}"}
        )

    def put(self, token: str, crash_id: str, vmcore: bytes) -> Any:
        return self.http.put(
            f"/api/v1/crashes/{crash_id}/vmcore", content=vmcore, headers={"Authorization": f"Bearer {token}"}
        )

    def crash(self, crash_id: str) -> dict[str, Any]:
        r = self.http.get(f"/api/v1/crashes/{crash_id}", headers={"Authorization": f"Bearer {self.admin}"})
        assert r.status_code == 200, r.text
        return dict(r.json())

    def crashes(self) -> list[dict[str, Any]]:
        r = self.http.get("/api/v1/crashes", headers={"Authorization": f"Bearer {self.admin}"})
        return list(r.json()["crashes"])


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    h = Hub(tmp_path / "data")
    yield h
    h.store.close()


# ------------------------------------------------------------------ the host comes from the token
def test_a_host_field_that_is_not_the_tokens_host_is_403(hub: Hub) -> None:
    b = hub.token("web-b", host="web-b")
    r = hub.post(b, LOG_A, host="web-a")
    assert r.status_code == 403 and "'host'" in r.json()["error"] and "web-b" in r.json()["error"]
    assert hub.crashes() == []
    # Without the field the upload is the token's host's.
    r = hub.post(b, LOG_A)
    assert r.status_code == 201 and hub.crash(r.json()["id"])["host"] == "web-b"
    assert hub.crash(r.json()["id"])["host_source"] == "token"


def test_an_unbound_token_is_bound_by_its_first_use(hub: Hub) -> None:
    old = hub.token("made-before-hosts")  # as every token made before migration 0009
    r = hub.post(old, LOG_A)
    assert r.status_code == 400 and "'host' is required" in r.json()["error"]
    assert hub.post(old, LOG_A, host="web-a").status_code == 201
    (t,) = [t for t in hub.store.access.list_tokens() if t.name == "made-before-hosts"]
    assert t.host == "web-a"
    r = hub.post(old, LOG_B, host="web-z")
    assert r.status_code == 403 and "'host'" in r.json()["error"]


def test_an_unbound_token_cannot_take_a_host_that_has_a_token(hub: Hub) -> None:
    a = hub.token("web-a", host="web-a")
    crash_id = hub.post(a, LOG_A, crash_dir=DIR).json()["id"]
    stray = hub.token("left-over")  # an old unbound token, in the wrong hands
    r = hub.post(stray, LOG_B, host="web-a")
    assert r.status_code == 403 and "has a token of its own" in r.json()["error"]
    assert hub.put(stray, crash_id, dump_of(LOG_A, hostname="web-a")).status_code == 403
    assert len(hub.crashes()) == 1 and not hub.crash(crash_id)["has_vmcore"]


def test_the_same_log_from_four_hosts_is_four_crashes(hub: Hub) -> None:
    ids = {}
    for name in ("web-a", "web-b", "web-c", "web-d"):
        tok = hub.token(name, host=name)
        # No host field, as in the report: the host is still the token's.
        r = hub.post(tok, LOG_A)
        assert r.status_code == 201, r.text
        ids[name] = r.json()["id"]
        # The same host sending it again is the same crash.
        again = hub.post(tok, LOG_A)
        assert again.status_code == 200 and again.json()["id"] == ids[name]
    assert len(set(ids.values())) == 4
    assert {c["id"]: c["host"] for c in hub.crashes()} == {v: k for k, v in ids.items()}


# ------------------------------------------------------------------ dumps for an existing crash
def test_a_host_cannot_send_the_dump_of_another_hosts_crash(hub: Hub) -> None:
    a, b = hub.token("web-a", host="web-a"), hub.token("web-b", host="web-b")
    r = hub.post(a, LOG_A, host="web-a", crash_dir=DIR)
    crash_id = r.json()["id"]
    assert r.json()["wants_vmcore"]
    auth_b = {"Authorization": f"Bearer {b}"}
    assert hub.http.get(f"/api/v1/crashes/{crash_id}/vmcore/upload", headers=auth_b).status_code == 403
    r = hub.put(b, crash_id, dump_of(LOG_A, hostname="web-a"))
    assert r.status_code == 403 and "not this host's crash" in r.json()["error"]
    assert "web-a" not in r.json()["error"]  # nothing said about whose it is
    c = hub.crash(crash_id)
    assert not c["has_vmcore"] and hub.store.uploads.get_upload(crash_id) is None
    # Re-posting A's log from B gives B a crash of its own, never A's id.
    r = hub.post(b, LOG_A, crash_dir=DIR)
    assert r.status_code == 201 and r.json()["id"] != crash_id
    # The owner's own dump is taken.
    r = hub.put(a, crash_id, dump_of(LOG_A, hostname="web-a"))
    assert r.status_code == 200 and r.json()["complete"], r.text
    assert hub.crash(crash_id)["has_vmcore"]


@pytest.mark.parametrize(
    ("machine", "log", "reason"),
    [
        ({"hostname": "web-b"}, LOG_A, "utsname nodename is 'web-b'"),
        ({"hostname": "web-a", "release": "6.1.0-99-cloud-amd64"}, LOG_A, "kernel 6.1.0-99-cloud-amd64"),
        ({"hostname": "web-a", "crash_time": CRASH_TIME - 7 * 86400}, LOG_A, "crash time"),
        ({"hostname": "web-a"}, LOG_B, "log inside the dump"),
    ],
    ids=["host", "release", "time", "log"],
)
def test_a_dump_that_is_not_the_crashs_is_409(
    hub: Hub, machine: dict[str, Any], log: str, reason: str
) -> None:
    a = hub.token("web-a", host="web-a")
    crash_id = hub.post(a, LOG_A, crash_dir=DIR).json()["id"]
    r = hub.put(a, crash_id, dump_of(log, **machine))
    assert r.status_code == 409, r.text
    assert "DumpMismatchError" in r.json()["error"] and reason in r.json()["error"], r.json()
    # The answer names what was sent, never the hub's temp file (nor any of its paths).
    assert "uploaded vmcore" in r.json()["error"] and "vmcore." not in r.json()["error"], r.json()
    c = hub.crash(crash_id)
    assert not c["has_vmcore"] and [f["role"] for f in c["files"]] == ["log"]
    # The refused upload is gone: the right dump starts again from byte 0.
    state = hub.http.get(
        f"/api/v1/crashes/{crash_id}/vmcore/upload", headers={"Authorization": f"Bearer {a}"}
    ).json()
    assert state == {"offset": 0, "size": None, "complete": False}


BUILD = "ab" * 20
# CONFIG_STACKTRACE_BUILD_ID kernels end the CPU line with the kernel's build-id; the boot banner
# carries the full utsname version.
LOG_BUILD = LOG_A.replace("cloud-amd64 #1\n", f"cloud-amd64 #1 {BUILD}\n")
BANNER = "[    0.000000] Linux version 6.1.0-56-cloud-amd64 (debian-kernel@lists.debian.org) (gcc-12) {v}\n"


@pytest.mark.parametrize(
    ("log", "other", "same"),
    [
        (LOG_BUILD, {"build_id": "cd" * 20}, {"build_id": BUILD}),
        (
            BANNER.format(v="#1 SMP PREEMPT_DYNAMIC Debian 6.1.190-1") + LOG_A,
            {"version": "#1 SMP PREEMPT_DYNAMIC Debian 6.1.192-2"},
            {"version": "#1 SMP PREEMPT_DYNAMIC Debian 6.1.190-1"},
        ),
    ],
    ids=["build-id", "version"],
)
def test_a_dump_of_another_build_of_the_release_is_409(
    hub: Hub, log: str, other: dict[str, str], same: dict[str, str]
) -> None:
    assert BUILD in LOG_BUILD
    a = hub.token("web-a", host="web-a")
    crash_id = hub.post(a, log, crash_dir=DIR).json()["id"]
    r = hub.put(a, crash_id, dump_of(log, hostname="web-a", **other))
    assert r.status_code == 409 and "DumpMismatchError" in r.json()["error"], r.text
    assert ("build-id" if "build_id" in other else "booted") in r.json()["error"]
    r = hub.put(a, crash_id, dump_of(log, hostname="web-a", **same))
    assert r.status_code == 200 and r.json()["complete"], r.text


def test_a_log_with_an_unrelated_dump_is_409(hub: Hub) -> None:
    a = hub.token("web-a", host="web-a")
    r = hub.post(a, LOG_A, vmcore=dump_of(LOG_B, hostname="web-a"), crash_dir=DIR)
    assert r.status_code == 409 and "log inside the dump" in r.json()["error"], r.text
    r = hub.post(a, LOG_A, vmcore=dump_of(LOG_A, hostname="db-1"), crash_dir=DIR)
    assert r.status_code == 409 and "'db-1'" in r.json()["error"], r.text
    assert hub.crashes() == []
    r = hub.post(a, LOG_A, vmcore=dump_of(LOG_A, hostname="web-a.example.com"), crash_dir=DIR)
    assert r.status_code == 201 and r.json()["has_vmcore"], r.text


def test_another_hosts_copy_of_a_stored_log_does_not_drop_its_dump(hub: Hub) -> None:
    a, b = hub.token("web-a", host="web-a"), hub.token("web-b", host="web-b")
    assert hub.post(a, LOG_A, vmcore=dump_of(LOG_A, hostname="web-a")).json()["has_vmcore"]
    r = hub.post(b, LOG_A, vmcore=dump_of(LOG_A, hostname="web-b"))
    assert r.status_code == 201 and r.json()["has_vmcore"], r.text
    assert hub.crash(r.json()["id"])["host"] == "web-b"


# ------------------------------------------------------------------ host reports
def test_a_host_token_reports_only_its_own_host(hub: Hub) -> None:
    a, b = hub.token("web-a", host="web-a"), hub.token("web-b")

    def report(tok: str, host: str, release: str) -> Any:
        return hub.http.post(
            "/api/v1/hosts/report",
            json={"host": host, "release": release},
            headers={"Authorization": f"Bearer {tok}"},
        )

    assert report(a, "web-a", "6.1.0-56-cloud-amd64").status_code == 200
    assert report(b, "web-b", "6.1.0-57-cloud-amd64").status_code == 200  # binds b to web-b
    r = report(b, "web-a", "0.0.0-evil")
    assert r.status_code == 403 and "'host'" in r.json()["error"]
    hosts = hub.http.get("/api/v1/hosts", headers={"Authorization": f"Bearer {hub.admin}"}).json()["hosts"]
    assert {h["host"]: h["release"] for h in hosts} == {
        "web-a": "6.1.0-56-cloud-amd64",
        "web-b": "6.1.0-57-cloud-amd64",
    }
    # An admin still reports for any host (an importer, the CLI).
    admin = hub.http.post(
        "/api/v1/hosts/report",
        json={"host": "web-c", "release": "6.1.0-58-cloud-amd64"},
        headers={"Authorization": f"Bearer {hub.admin}"},
    )
    assert admin.status_code == 200
