"""Scale-out capacity: analyses per hour with one and with two ``crashhub worker`` processes (Celery, Redis).

    python bench/scale.py [--analyses 4] [--workers 1,2] [--database-url URL] [--json]

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
    a = ap.parse_args()

    from crashhub import config
    from crashhub.jobs.celery_queue import CeleryQueue
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
        crashes = [c for c in hub.store.list_crashes(limit=1000) if c.has_vmcore]
        out["crashes"] = len(crashes)

        # Reference: the same analyses in a row, in this process, no queue.
        from crashhub.analyze import analyze
        from crashhub.jobs.handlers import find_vmlinux

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
            q = CeleryQueue(hub.store, broker, database_url=settings.db_url)
            t0 = time.monotonic()
            ids = [q.submit("analyze", {"crash_id": c.id}, key=f"bench:{n}:{c.id}") for c in crashes]
            while True:
                jobs = {j.id: j for j in hub.store.list_jobs(limit=10_000) if j.id in ids}
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


if __name__ == "__main__":
    sys.exit(main())
