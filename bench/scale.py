"""Scale-out capacity: analyses per hour with one and two ``crashhub worker`` processes (Celery, Redis),
and the ingest burst against one hub node and against two nodes + workers (PostgreSQL, Celery).

    python bench/scale.py [--analyses 4] [--workers 1,2] [--database-url URL] [--json]
    python bench/scale.py --burst [--logs 400] [--dumps 8] [--clients 8]

``--burst``: the workload of ``bench/ingest_burst.py`` (corpus and lab logs, each a new crash, with lab
dumps interleaved, posted by concurrent clients) against (a) one ``crashhub serve`` and (b) two nodes
behind a client-side round robin, both on a PostgreSQL server of Debian's started here, one shared blob
directory, ``queue = celery`` on a Redis broker and two ``crashhub worker`` processes (analysis off, so
the figure is ingest).  Figures: wall time, crashes/s, latency, the peak RSS of each node; the check:
every request answered and every crash stored once.  Reference in the same run: the embedded default
(one node, SQLite, in-process queue).

Starts Debian's ``redis-server`` on a loopback port, ingests crash-lab crashes that have a dump (the
``rhel/`` layout of each lab run: vmcore + vmcore-dmesg.txt, both kernels) with analysis off, then for
each worker count starts that many ``crashhub worker --concurrency 1`` processes and submits
``--analyses`` ``analyze`` jobs through :class:`CeleryQueue` (routed by release: each worker holds both
lab kernels' vmlinux).  Figures: wall time from the first submit to the last job finished, analyses/hour,
the median time of one analysis as the job recorded it, and the peak RSS of each worker's whole process
tree (pool child and engine children included), sampled from /proc every 0.2 s.  Reference in the same
run: the same analyses one after another in this process (``crashhub.analyze.analyze``), no queue.

The database is SQLite in the temp data dir unless ``--database-url`` names a PostgreSQL one.
"""

# ruff: noqa: PLC0415

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

CRASHHUB = str(Path(sys.executable).with_name("crashhub"))
LAB = Path(os.environ.get("CRASHHUB_LAB_CACHE", Path.home() / ".cache" / "crashhub-lab"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def lab_dumps(limit: int) -> list[tuple[Path, str, Path]]:
    """(crash dir, release, vmlinux) of lab runs with a ``rhel/`` dump, alternating kernels."""
    per: dict[str, list[tuple[Path, str, Path]]] = {}
    for man in sorted(LAB.glob("runs/*/*/*/manifest.json")):
        if "+" in man.parent.parent.name:
            continue  # variants (d23, qemu, ...): the default runs are enough
        m = json.loads(man.read_text())
        for d in sorted((man.parent / "rhel").glob("*/")):
            if (d / "vmcore").is_file() and (d / "vmcore-dmesg.txt").is_file():
                rel = m["kernel"]["release"]
                per.setdefault(rel, []).append((d, rel, Path(m["kernel"]["vmlinux"])))
    out: list[tuple[Path, str, Path]] = []
    while len(out) < limit and any(per.values()):
        for rel in sorted(per):
            if per[rel] and len(out) < limit:
                out.append(per[rel].pop(0))
    return out


def tree_rss_kib(pid: int) -> int:
    """RSS of ``pid``'s whole process group (each worker runs in its own session)."""
    total = 0
    for p in Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            if os.getpgid(int(p.name)) != pid:
                continue
            for line in (p / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except (OSError, ProcessLookupError, ValueError):
            continue
    return total


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--analyses", type=int, default=4)
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--database-url", default=None)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--burst", action="store_true", help="the ingest burst: one node vs two nodes + workers")
    ap.add_argument("--logs", type=int, default=400)
    ap.add_argument("--dumps", type=int, default=8)
    ap.add_argument("--clients", type=int, default=8)
    a = ap.parse_args()
    if a.burst:
        return run_burst(a)

    from crashhub import config
    from crashhub.jobs._celery_queue import CeleryQueue
    from crashhub.store import open_store

    redis_exe = shutil.which("redis-server")
    if redis_exe is None:
        raise SystemExit("redis-server is not installed")
    dumps = lab_dumps(a.analyses)
    if not dumps:
        raise SystemExit(f"no crash-lab dumps under {LAB}; make some with: python -m lab ci")
    tmp = Path(tempfile.mkdtemp(prefix="crashhub-bench-scale-"))
    port = free_port()
    redis = subprocess.Popen(
        [
            redis_exe,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(tmp),
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
    )
    broker = f"redis://127.0.0.1:{port}/0"
    vml = tmp / "vmlinux"
    vml.mkdir()
    for _, rel, v in dumps:
        if not (vml / f"vmlinux-{rel}").exists():
            (vml / f"vmlinux-{rel}").symlink_to(v)
    data = tmp / "data"
    env = {
        **os.environ,
        "CRASHHUB_VMLINUX_DIR": str(vml),
        "CRASHHUB_ANALYZE_FIRST": "0",
        "CRASHHUB_SPOOL_DIR": "",
        "CRASHHUB_UPLOAD_RATE_LIMIT": "0",  # one token plays the whole fleet (see ingest_burst.py)
    }
    if a.database_url:
        env["CRASHHUB_DATABASE_URL"] = a.database_url
    out: dict[str, Any] = {"dumps": [str(d) for d, _, _ in dumps], "rounds": []}
    try:
        for d, _, _ in dumps:
            subprocess.run(
                [CRASHHUB, "ingest", "--data", str(data), str(d)],
                env=env,
                check=True,
                capture_output=True,
                timeout=600,
            )
        os.environ.update({k: v for k, v in env.items() if k.startswith("CRASHHUB_")})
        settings = config.load(data)
        hub = open_store(settings)
        crashes = [c for c in hub.store.crashes.list_crashes(limit=1000) if c.has_vmcore]
        out["crashes"] = len(crashes)

        # Reference: the same analyses in a row, in this process, no queue.
        from crashhub.analyze import analyze
        from crashhub.jobs import find_vmlinux

        t0 = time.monotonic()
        for c in crashes:
            dump = next(f for f in c.files if f.role == "vmcore")
            analyze(hub.blobs.local_path(dump.digest), vmlinux=find_vmlinux(str(vml), c.release))
        out["reference_serial_s"] = round(time.monotonic() - t0, 1)

        for n in [int(x) for x in a.workers.split(",")]:
            procs = []
            for i in range(n):
                log = open(tmp / f"w{n}-{i}.log", "wb")  # noqa: SIM115
                procs.append(
                    subprocess.Popen(
                        [
                            CRASHHUB,
                            "worker",
                            "--data",
                            str(data),
                            "--broker",
                            broker,
                            "--concurrency",
                            "1",
                            "--name",
                            f"bench{n}-{i}",
                            "--loglevel",
                            "WARNING",
                        ],
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        env=env,
                        start_new_session=True,
                    )
                )
            time.sleep(8)  # workers up and their releases advertised
            peak = [0] * n
            stop = threading.Event()

            def sample(
                ps: list[subprocess.Popen[bytes]] = procs, pk: list[int] = peak, st: threading.Event = stop
            ) -> None:
                while not st.wait(0.2):
                    for j, p in enumerate(ps):
                        pk[j] = max(pk[j], tree_rss_kib(p.pid))

            threading.Thread(target=sample, daemon=True).start()
            q = CeleryQueue(hub.store, broker)
            t0 = time.monotonic()
            ids = [q.submit("analyze", {"crash_id": c.id}, key=f"bench:{n}:{c.id}") for c in crashes]
            while True:
                jobs = {j.id: j for j in hub.store.jobs.list_jobs(limit=10_000) if j.id in ids}
                if all(j.state in ("done", "failed") for j in jobs.values()):
                    break
                time.sleep(0.2)
            wall = time.monotonic() - t0
            stop.set()
            for p in procs:
                os.killpg(p.pid, signal.SIGTERM)
                p.wait(60)
            secs = [float((j.result or {}).get("seconds", 0)) for j in jobs.values()]
            states = sorted({f"{j.state}:{(j.result or {}).get('status')}" for j in jobs.values()})
            out["rounds"].append(
                {
                    "workers": n,
                    "analyses": len(ids),
                    "wall_s": round(wall, 1),
                    "per_hour": round(len(ids) / wall * 3600),
                    "median_analysis_s": round(statistics.median(secs), 1),
                    "peak_rss_mib_per_worker": [round(k / 1024) for k in peak],
                    "states": states,
                }
            )
        hub.close()
    finally:
        redis.terminate()
        redis.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)
    if a.json:
        print(json.dumps(out, indent=2))
    else:
        print(
            f"{out['crashes']} lab crashes with dumps; "
            f"serial in-process reference: {out['reference_serial_s']} s"
        )
        for r in out["rounds"]:
            print(
                f"{r['workers']} worker(s): {r['analyses']} analyses in {r['wall_s']} s "
                f"= {r['per_hour']}/hour; median analysis {r['median_analysis_s']} s; "
                f"peak RSS/worker {r['peak_rss_mib_per_worker']} MiB; "
                f"{r['states']}"
            )
    return 0


# ---------------------------------------------------------------------------------- the ingest burst
def start_postgres(tmp: Path) -> tuple[str, Any]:
    """Debian's PostgreSQL in ``tmp`` on a loopback port (as user postgres when run as root)."""
    import glob

    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise SystemExit("PostgreSQL server binaries (/usr/lib/postgresql/*/bin) are not installed")
    bindir = Path(found[-1]).parent
    root = tmp / "pg"
    root.mkdir()

    def as_pg(cmd: list[str]) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd

    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
        os.chmod(tmp, 0o755)
    port = free_port()
    data = root / "data"
    subprocess.run(
        as_pg([str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync"]),
        check=True,
        capture_output=True,
    )
    subprocess.run(
        as_pg(
            [
                str(bindir / "pg_ctl"),
                "-D",
                str(data),
                "-w",
                "-l",
                str(root / "log"),
                "-o",
                f"-p {port} -k {root} -c listen_addresses=127.0.0.1",
                "start",
            ]
        ),
        check=True,
        capture_output=True,
    )

    def stop() -> None:
        subprocess.run(
            as_pg([str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"]),
            check=False,
            capture_output=True,
        )

    return f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres", stop


def _burst_round(
    name: str,
    *,
    urls: list[str],
    token: str,
    jobs: list[tuple[int, bytes | Path]],
    clients: int,
    pids: list[int],
) -> dict[str, Any]:
    import httpx

    import ingest_burst as ib

    for u in urls:
        ib.wait_healthy(u)
    headers = {"Authorization": f"Bearer {token}"}
    # Client i talks to node i mod n: a round-robin load balancer in front of the nodes.
    cs = [httpx.Client(base_url=urls[i % len(urls)], headers=headers, timeout=600) for i in range(clients)]
    peak = [0] * len(pids)
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.2):
            for j, pid in enumerate(pids):
                peak[j] = max(peak[j], tree_rss_kib(pid))

    def post(job: tuple[int, bytes | Path]) -> tuple[int, float, str]:
        return ib.post_crash(cs[job[0] % len(cs)], *job)  # type: ignore[no-any-return]

    from concurrent.futures import ThreadPoolExecutor

    threading.Thread(target=sample, daemon=True).start()
    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(post, jobs))
    wall = time.perf_counter() - t0
    stop.set()
    lat = sorted(r[1] for r in results)
    return {
        "setup": name,
        "requests": len(results),
        "errors": [r for r in results if r[0] not in (200, 201)][:5],
        "ids": {r[2] for r in results if r[0] in (200, 201)},
        "wall_s": round(wall, 1),
        "requests_per_s": round(len(results) / wall, 1),
        "latency_ms": {
            "median": round(statistics.median(lat) * 1000),
            "p95": round(lat[int(len(lat) * 0.95) - 1] * 1000),
        },
        "peak_rss_mib_per_node": [round(k / 1024) for k in peak],
    }


def run_burst(a: argparse.Namespace) -> int:
    import ingest_burst as ib  # the same workload as bench/ingest_burst.py
    from crashhub import config
    from crashhub.store import open_store
    from crashhub.web import create_token

    bases = ib.base_logs()
    logs = [ib.variant(bases[i % len(bases)], i // len(bases)) for i in range(a.logs)]
    dumps_all = ib.lab_dumps()
    dumps = [dumps_all[i % len(dumps_all)] for i in range(a.dumps)] if dumps_all else []
    jobs: list[tuple[int, bytes | Path]] = [(i, log) for i, log in enumerate(logs)]
    step = max(1, len(jobs) // (len(dumps) + 1))
    for k, d in enumerate(dumps):
        jobs.insert((k + 1) * step + k, (len(logs) + k, d))
    redis_exe = shutil.which("redis-server")
    if redis_exe is None:
        raise SystemExit("redis-server is not installed")
    tmp = Path(tempfile.mkdtemp(prefix="crashhub-bench-burst-"))
    os.chmod(tmp, 0o755)
    rport = free_port()
    redis = subprocess.Popen(
        [redis_exe, "--port", str(rport), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    pg_url, pg_stop = start_postgres(tmp)
    from sqlalchemy import create_engine, text

    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    procs: list[subprocess.Popen[bytes]] = []
    rounds = []
    try:
        for setup, n_nodes, n_workers in (("embedded", 1, 0), ("1 node", 1, 2), ("2 nodes", 2, 2)):
            base = {
                **os.environ,
                "CRASHHUB_SPOOL_DIR": "",
                "CRASHHUB_ANALYZE_FIRST": "0",
                "CRASHHUB_LOG_LEVEL": "warning",
                "CRASHHUB_UPLOAD_RATE_LIMIT": "0",
                "CRASHHUB_WORKERS": "1",
                "CRASHHUB_ALERT_INTERVAL": "0",
            }
            work = tmp / setup.replace(" ", "-")
            if setup != "embedded":
                db = "b_" + setup.replace(" ", "_")
                with admin.connect() as c:
                    c.execute(text(f'CREATE DATABASE "{db}"'))
                base.update(
                    CRASHHUB_DATABASE_URL=pg_url.rsplit("/", 1)[0] + "/" + db,
                    CRASHHUB_BLOB_STORE=str(work / "shared-blobs"),
                    CRASHHUB_QUEUE="celery",
                    CRASHHUB_BROKER_URL=f"redis://127.0.0.1:{rport}/0",
                )
            hub = open_store(config.load(work / "node0", env=base))
            token = create_token(hub.store, "host", "bench")[0]
            hub.close()
            urls, pids = [], []
            for k in range(n_nodes):
                port = free_port()
                log = open(work / f"node{k}.log", "wb")  # noqa: SIM115
                cmd = [CRASHHUB, "serve", "--data", str(work / f"node{k}"), "--port", str(port)]
                p = subprocess.Popen(
                    cmd, env=base, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
                )
                procs.append(p)
                urls.append(f"http://127.0.0.1:{port}")
                pids.append(p.pid)
            for k in range(n_workers):
                log = open(work / f"worker{k}.log", "wb")  # noqa: SIM115
                cmd = [CRASHHUB, "worker", "--data", str(work / "workers"), "--concurrency", "1"]
                cmd += ["--name", f"burst-{setup}-{k}", "--loglevel", "WARNING"]
                procs.append(
                    subprocess.Popen(
                        cmd, env=base, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
                    )
                )
            r = _burst_round(setup, urls=urls, token=token, jobs=jobs, clients=a.clients, pids=pids)
            hub = open_store(config.load(work / "node0", env=base))
            stored = {c.id for c in hub.store.crashes.list_crashes(limit=1_000_000)}
            hub.close()
            r["stored"] = len(stored)
            r["lost"] = bool(r["errors"]) or stored != r.pop("ids")
            r["crashes_per_s"] = round(len(stored) / r["wall_s"], 1)
            rounds.append(r)
            for p in procs:
                os.killpg(p.pid, signal.SIGTERM)
            for p in procs:
                p.wait(60)
            procs.clear()
    finally:
        for p in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGKILL)
        admin.dispose()
        pg_stop()
        redis.terminate()
        redis.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)
    if a.json:
        print(json.dumps(rounds, indent=2))
    else:
        print(f"{len(jobs)} requests ({len(logs)} logs, {len(dumps)} lab dumps), {a.clients} clients")
        for r in rounds:
            print(
                f"{r['setup']:>9}: {r['wall_s']} s, {r['requests_per_s']} requests/s, "
                f"{r['crashes_per_s']} crashes/s stored ({r['stored']}); latency median "
                f"{r['latency_ms']['median']} ms p95 {r['latency_ms']['p95']} ms; peak RSS/node "
                f"{r['peak_rss_mib_per_node']} MiB; lost: "
                + ("YES " + str(r["errors"]) if r["lost"] else "none")
            )
    return 1 if any(r["lost"] for r in rounds) else 0


if __name__ == "__main__":
    sys.exit(main())
