"""Issue 9's integration proof: a scaled-out hub on loopback, with real servers from Debian's packages.

Two ``crashhub serve`` nodes (two ports, two data directories) share one PostgreSQL database, one blob
directory and one spool directory, with ``queue = celery`` on a Redis broker and two ``crashhub worker``
processes running the hub's real analysis handler (wrapped by ``cluster_jobs`` to log each attempt).
Real kdump output of the crash lab is uploaded to both nodes.  Faults, each checked for "once": kill -9 of
a worker mid-analysis, kill -9 of a node mid-upload (the client resumes on the other node), a restart of
PostgreSQL and of Redis (crashes arriving meanwhile are not lost, no node is restarted), and both nodes'
spool watchers on the one spool.

The workers have no debuginfo here (no ``vmlinux_dir``), so each analysis is the engine's real answer
for a dump without debuginfo: this test proves where and how often analyses run, not what they find.
"""

# ruff: noqa: PLC0415 - optional packages are imported where a test needs them

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.need import need_module

need_module("celery", "celery is not installed (extra 'hub')")
httpx = need_module("httpx")

HERE = Path(__file__).resolve().parent
CRASHHUB = [sys.executable, "-m", "crashhub.cli"]
MIB = 1 << 20
pytestmark = [pytest.mark.slow, pytest.mark.lab]


def _wait(cond: Callable[[], bool], timeout: float, what: str, procs: list[Proc] | None = None) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        with contextlib.suppress(httpx.HTTPError):
            if cond():
                return
        time.sleep(0.2)
    tails = "\n".join(p.tail() for p in procs or [])
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}\n{tails}")


class Proc:
    """A ``crashhub`` subprocess in its own process group (kill -9 takes its children too)."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log: Path) -> None:
        self.name, self.args, self.env, self.log = name, args, env, log
        self.p: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.log, "ab") as f:
            self.p = subprocess.Popen(
                [*CRASHHUB, *self.args],
                stdout=f,
                stderr=subprocess.STDOUT,
                env=self.env,
                start_new_session=True,
            )

    def alive(self) -> bool:
        return self.p is not None and self.p.poll() is None

    def kill9(self) -> None:
        assert self.p is not None
        os.killpg(self.p.pid, signal.SIGKILL)
        self.p.wait(10)

    def stop(self) -> None:
        if self.p is None or self.p.poll() is not None:
            return
        os.killpg(self.p.pid, signal.SIGTERM)
        try:
            self.p.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(self.p.pid, signal.SIGKILL)
            self.p.wait(5)

    def tail(self) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return f"--- {self.name} ---\n{text[-3000:]}"


class Node(Proc):
    def __init__(self, name: str, tmp: Path, port: int, env: dict[str, str]) -> None:
        data = tmp / name
        data.mkdir()
        super().__init__(name, ["serve", "--data", str(data), "--port", str(port)], env, tmp / f"{name}.log")
        self.url = f"http://127.0.0.1:{port}"

    def start(self) -> None:
        super().start()
        _wait(lambda: httpx.get(self.url + "/healthz", timeout=2).status_code == 200, 90, self.name, [self])

    def client(self, token: str, timeout: float = 120) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=timeout, headers={"Authorization": f"Bearer {token}"})


class Worker(Proc):
    def __init__(self, name: str, tmp: Path, env: dict[str, str]) -> None:
        args = ["worker", "--data", str(tmp / "workers"), "--name", name, "--concurrency", "1"]
        args += ["--register", "cluster_jobs", "--restore-interval", "1", "--max-memory-mb", "4096"]
        args += [
            "--time-limit",
            "120",
            "--visibility-timeout",
            "15",
            "--backoff",
            "0.5",
            "--loglevel",
            "INFO",
        ]
        super().__init__(name, args, {**env, "SCALE_WORKER_TAG": name}, tmp / f"{name}.log")

    def start(self) -> None:
        super().start()
        _wait(lambda: b" ready." in self.log.read_bytes(), 90, f"worker {self.name}", [self])


class Supervisor:
    """Restarts a worker that exited, 2 s later, as its systemd unit (``Restart=always``) does.

    Needed for one known fault of kombu 5.x's Redis transport (celery/kombu#970 and relatives): a worker
    holding unacknowledged messages (a retry's countdown copy) when the broker goes away dies with
    ``Unrecoverable error: AttributeError(... 'hostname')`` while restoring them, instead of
    reconnecting.  The jobs are not lost (the ledger and the hub's resend sweep see to that); the
    worker process is, until its supervisor starts it again.
    """

    def __init__(self, workers: list[Worker]) -> None:
        self.workers = workers
        self.restarts: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(2.0):
            for w in list(self.workers):
                if not w.alive() and not self._stop.is_set():
                    self.restarts.append(f"{w.name} exit {w.p.returncode if w.p else None}")
                    w.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(120)


HOST = "cluster-host"


def _lab_dir(lab: Any, kernel: str, kind: str) -> Path:
    return Path(lab.crash(kernel, kind).path("rhel/vmcore")).parent


def _post(c: httpx.Client, d: Path, host: str, with_dump: bool = True) -> httpx.Response:
    files: dict[str, Any] = {"log": ("vmcore-dmesg.txt", (d / "vmcore-dmesg.txt").read_bytes())}
    if with_dump:
        files["vmcore"] = ("vmcore", (d / "vmcore").read_bytes())
    return c.post("/api/v1/crashes", files=files, data={"host": host, "crash_dir": d.name})


def _spool(spool: Path, d: Path, name: str) -> None:
    # Written under a dot name, then renamed whole, as kdump's "-incomplete" protocol makes it.
    tmp = spool / f".{name}"
    shutil.copytree(d, tmp)
    (tmp / "kexec-dmesg.log").unlink(missing_ok=True)
    os.rename(tmp, spool / name)


def _notes(path: Path) -> list[list[str]]:
    return [ln.split() for ln in path.read_text().splitlines()] if path.exists() else []


def _spool_ingests(nodes: list[Node], token: str) -> int:
    n = 0
    for node in nodes:
        text = httpx.get(node.url + "/metrics", timeout=10).text
        for m in re.finditer(r"^crashhub_crashes_ingested_total\{([^}]*)\} (\S+)$", text, re.M):
            if 'source="spool"' in m[1]:
                n += int(float(m[2]))
    return n


def _free_port() -> int:
    import socket

    with socket.socket() as so:
        so.bind(("127.0.0.1", 0))
        return int(so.getsockname()[1])


@pytest.fixture
def cluster(tmp_path: Path, pg_url: str, own_redis: Any) -> Iterator[dict[str, Any]]:
    from crashhub.store import SqlStore
    from crashhub.web import create_token

    shared, spool, notes = tmp_path / "shared-blobs", tmp_path / "shared-spool", tmp_path / "notes.log"
    (tmp_path / "workers").mkdir()
    env = {
        **os.environ,
        "CRASHHUB_DATABASE_URL": pg_url,
        "CRASHHUB_BLOB_STORE": str(shared),
        "CRASHHUB_QUEUE": "celery",
        "CRASHHUB_BROKER_URL": own_redis.url,
        "CRASHHUB_SPOOL_DIR": str(spool),
        "CRASHHUB_SPOOL_SETTLE": "1",
        "CRASHHUB_SPOOL_INTERVAL": "0.5",
        "CRASHHUB_UPLOAD_LEASE": "3",
        "CRASHHUB_ANALYZE_TIMEOUT": "20",
        "CRASHHUB_ALERT_INTERVAL": "0",
        "CRASHHUB_LOG_LEVEL": "warning",
        "CLUSTER_NOTES": str(notes),
        "CLUSTER_ANALYZE_DELAY": "3",
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
    }
    for k in ("CRASHHUB_DATA", "CRASHHUB_CONFIG", "CRASHHUB_VMLINUX_DIR"):
        env.pop(k, None)
    nodes = [Node("node-a", tmp_path, _free_port(), env), Node("node-b", tmp_path, _free_port(), env)]
    workers = [Worker("w1", tmp_path, env), Worker("w2", tmp_path, env)]
    procs: list[Proc] = [*nodes, *workers]
    cluster_state: dict[str, Any] = {}
    try:
        for p in procs:
            p.start()
        store = SqlStore(pg_url)
        # A host token speaks for its one host (issue 14): every upload here is that host's.
        tokens = {
            "host": create_token(store, "host", "cluster-host", host=HOST)[0],
            "admin": create_token(store, "admin", "cluster-admin")[0],
        }
        store.close()
        cluster_state.update(
            nodes=nodes,
            workers=workers,
            procs=procs,
            tokens=tokens,
            spool=spool,
            notes=notes,
            tmp=tmp_path,
            env=env,
        )
        yield cluster_state
    finally:
        sup = cluster_state.get("supervisor")
        if sup is not None:
            sup.stop()
        for p in procs:
            p.stop()


def test_cluster(cluster: dict[str, Any], lab: Any, pg_control: Any, own_redis: Any) -> None:
    a, b = cluster["nodes"]
    w1, w2 = cluster["workers"]
    procs: list[Proc] = cluster["procs"]
    host, admin = cluster["tokens"]["host"], cluster["tokens"]["admin"]
    notes: Path = cluster["notes"]
    expected: dict[str, str] = {}  # crash id -> what it is

    def crash(node: Node, cid: str) -> dict[str, Any]:
        with node.client(admin) as c:
            r = c.get(f"/api/v1/crashes/{cid}")
            assert r.status_code == 200, r.text
            out: dict[str, Any] = r.json()
            return out

    def analysed(cid: str) -> bool:
        return any(n[0] == "end" and n[1] == cid for n in _notes(notes)) and bool(
            crash(b, cid).get("analysis")
        )

    # 1. Uploads spread over both nodes; kill -9 the worker that starts the first analysis.
    first = ["null", "bug", "sysrq", "warn", "gpf", "oom"]
    for i, kind in enumerate(first):
        node = (a, b)[i % 2]
        with node.client(host) as c:
            r = _post(c, _lab_dir(lab, "6.1", kind), HOST)
        assert r.status_code in (200, 201), r.text
        expected[r.json()["id"]] = kind
        if i == 0:
            _wait(lambda: any(n[0] == "start" for n in _notes(notes)), 60, "the first analysis", procs)
            victim_tag = _notes(notes)[0][2]
            victim_crash = _notes(notes)[0][1]
            victim = w1 if victim_tag == "w1" else w2
            victim.kill9()  # mid-analysis: CLUSTER_ANALYZE_DELAY keeps it busy for 3 s
            assert not any(n[0] == "end" for n in _notes(notes))
            w3 = Worker("w3", cluster["tmp"], cluster["env"])
            procs.append(w3)
            w3.start()
    for cid, what in expected.items():
        _wait(lambda cid=cid: analysed(cid), 240, f"the analysis of {what} ({cid})", procs)
    starts = [n for n in _notes(notes) if n[0] == "start" and n[1] == victim_crash]
    assert len(starts) >= 2 and starts[0][2] == victim_tag and starts[-1][2] != victim_tag
    live = [w for w in (w1, w2, w3) if w is not victim]
    supervisor = Supervisor(live)
    cluster["supervisor"] = supervisor

    # 2. Kill node A in the middle of a resumable upload; the client resumes on node B.
    d = _lab_dir(lab, "6.1", "uaf")
    dump = (d / "vmcore").read_bytes()
    n = len(dump)
    with a.client(host) as c:
        r = _post(c, d, HOST, with_dump=False)
    cid = r.json()["id"]
    expected[cid] = "uaf"

    def slow() -> Iterator[bytes]:
        for off in range(0, n, MIB):
            yield dump[off : off + MIB]
            time.sleep(0.15)

    def put() -> None:
        with contextlib.suppress(httpx.HTTPError), a.client(host) as c:
            c.put(
                f"/api/v1/crashes/{cid}/vmcore",
                content=slow(),
                headers={"Content-Range": f"bytes 0-{n - 1}/{n}"},
            )

    t = threading.Thread(target=put)
    t.start()

    def offset_on_b() -> int:
        with b.client(host) as c:
            return int(c.get(f"/api/v1/crashes/{cid}/vmcore/upload").json()["offset"])

    _wait(lambda: offset_on_b() >= 8 * MIB, 60, "a first piece of the upload on the shared store", procs)
    a.kill9()
    t.join(30)
    with b.client(host) as c:
        end = time.monotonic() + 60
        while True:  # the client's resume loop: ask where the upload is, send the rest
            st = c.get(f"/api/v1/crashes/{cid}/vmcore/upload").json()
            assert not st["complete"] and 0 < st["offset"] < n and st["size"] == n
            off = st["offset"]
            r = c.put(
                f"/api/v1/crashes/{cid}/vmcore",
                content=dump[off:],
                headers={"Content-Range": f"bytes {off}-{n - 1}/{n}"},
            )
            if r.status_code != 409 or time.monotonic() > end:
                break
            time.sleep(0.5)  # node A's lease on the upload has not run out yet
        assert r.status_code == 200 and r.json() == {"offset": n, "size": n, "complete": True}, r.text
    a.start()  # the same node, back
    with a.client(admin) as c:
        assert c.get(f"/api/v1/crashes/{cid}/files/vmcore").content == dump
    _wait(lambda: analysed(cid), 240, "the analysis of the resumed upload", procs)

    # 3. Restart PostgreSQL, then Redis; crashes arriving meanwhile are not lost, no node restarts.
    spool: Path = cluster["spool"]
    spooled = 0
    base_ingests = _spool_ingests([a, b], admin)
    pg_control.stop()
    with b.client(host, timeout=30) as c:
        r = _post(c, _lab_dir(lab, "6.1", "hung"), HOST, with_dump=False)
        assert r.status_code == 503, r.text  # refused, not half-stored: the client retries it
    # Spool items keep the names kdump gave them: the hub checks a dump's crash time against the
    # directory's (issue 14), so an invented date would rightly leave the dump out.
    hung = _lab_dir(lab, "6.1", "hung")
    _spool(spool, hung, hung.name)
    spooled += 1
    time.sleep(3)  # both watchers see the item while the database is away
    pg_control.start()
    own_redis.stop()
    time.sleep(1)
    own_redis.start()  # same port, empty: the nodes reconnect by themselves (workers: see Supervisor)
    late = ["softlockup", "rcu_stall"]
    for i, kind in enumerate(late):
        node = (a, b)[i % 2]
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.HTTPError), node.client(host, timeout=30) as c:
                r = _post(c, _lab_dir(lab, "6.1", kind), HOST)
                if r.status_code in (200, 201):
                    break
            assert time.monotonic() < deadline, f"node {node.name} did not recover: {r.text}"
            time.sleep(1)
        expected[r.json()["id"]] = kind

    # 4. Both nodes' watchers on the one spool: every item ingested once.
    for kernel, kind in (("6.1", "stack_overflow"), ("6.1", "list_corruption"), ("5.10", "null")):
        d = _lab_dir(lab, kernel, kind)
        _spool(spool, d, d.name)
        spooled += 1

    def spool_crashes() -> list[dict[str, Any]]:
        with b.client(admin) as c:
            rows: list[dict[str, Any]] = c.get("/api/v1/crashes", params={"limit": 500}).json()["crashes"]
        return [x for x in rows if x["source"] == "spool"]

    _wait(lambda: len(spool_crashes()) == spooled, 120, f"{spooled} spool crashes", procs)
    for x in spool_crashes():
        expected[x["id"]] = f"spool {x['crash_dir']}"
    time.sleep(3)  # room for a second ingest of an item, were there one
    assert _spool_ingests([a, b], admin) - base_ingests == spooled

    # Every crash once, triaged, visible the same through either node; every analysis ran on a
    # worker and finished exactly once.
    for cid, what in expected.items():
        _wait(lambda cid=cid: analysed(cid), 240, f"the analysis of {what} ({cid})", procs)
    lists = []
    for node in (a, b):
        with node.client(admin) as c:
            lists.append(
                sorted(x["id"] for x in c.get("/api/v1/crashes", params={"limit": 500}).json()["crashes"])
            )
            jobs = c.get("/api/v1/jobs", params={"limit": 1000}).json()["jobs"]
    assert lists[0] == lists[1] == sorted(expected)
    for cid in expected:
        ca, cb = crash(a, cid), crash(b, cid)
        assert ca == cb and ca["title"] and ca["bucket"] and ca["has_vmcore"]
        assert ca["analysis"]["status"] in ("done", "failed", "engine unavailable")
    ends: dict[str, int] = {}
    for line in _notes(notes):
        if line[0] == "end":
            ends[line[1]] = ends.get(line[1], 0) + 1
            assert line[2] in ("w1", "w2", "w3")  # on a worker, never on a hub node
    assert ends == dict.fromkeys(expected, 1)
    analyze_jobs = [j for j in jobs if j["kind"] == "analyze"]
    assert sorted(j["payload"]["crash_id"] for j in analyze_jobs) == sorted(expected)
    assert {j["state"] for j in analyze_jobs} == {"done"}
    with b.client(admin) as c:
        buckets = c.get("/api/v1/buckets", params={"limit": 500}).json()["buckets"]
    # Each crash counted once in its bucket (two lab kinds may well be one bug's bucket).
    assert sum(x["count"] for x in buckets) == len(expected)
    assert sum(x["dumps"] for x in buckets) == len(expected)
    print("worker restarts by the supervisor:", supervisor.restarts)
