"""Ingest burst: 1,000 crash logs and 20 lab dumps posted by 8 concurrent clients (goal ≤ 60 s).

Starts a real ``crashhub serve`` (SQLite, in-process workers, analysis off so the figure is ingest)
on a loopback port and posts, from 8 threads, ``POST /api/v1/crashes``:

- ``--logs`` kernel logs: the public corpus (``../shared/corpus``) and the crash lab's
  ``vmcore-dmesg.txt`` files.  There are fewer distinct logs than 1,000, so log *i* is a base log
  with every printk timestamp shifted by *i* µs-scale steps: the same bug on another boot, which the
  hub must store as another crash (identity keeps timestamps);
- ``--dumps`` lab dumps (kdump, flat, ELF; cycled when the lab has fewer), each sent *alone* so the
  hub must detect the format, reassemble flat ones, read the log out of the dump and triage it.
  Copies of one lab crash are one crash: the figure counts requests, the check counts crashes.

Then checks nothing was lost (every request answered 200/201, the store holds every distinct crash)
and prints time, crashes/s, latency.  Reference, in the same run: the floor of the same work without
a hub (reading every log and dump once and ``makedumpfile --dump-dmesg`` on each kdump-format dump).

    python bench/ingest_burst.py [--logs 1000] [--dumps 20] [--clients 8]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from crashhub import config
from crashhub.dump import detect
from crashhub.errors import DumpError
from crashhub.store import open_store
from crashhub.web import create_token

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO.parent / "shared" / "corpus"
LAB = Path(os.environ.get("CRASHHUB_LAB_CACHE", Path.home() / ".cache" / "crashhub-lab")) / "runs"
_TS = re.compile(rb"\[\s*(\d+)\.(\d{6})\]")


def base_logs() -> list[bytes]:
    out = []
    for root in (CORPUS, LAB):
        if not root.is_dir():
            continue
        for p in sorted(root.rglob("*")):
            if (
                not p.is_file()
                or p.suffix in (".md", ".jsonl", ".json", ".right", ".py")
                or p.stat().st_size > 2_000_000
            ):
                continue
            if root == LAB and p.name != "vmcore-dmesg.txt":
                continue
            data = p.read_bytes()
            if b"\0" in data[:4096] or not _TS.search(data[:65536]):
                continue
            out.append(data)
    return out


def variant(log: bytes, i: int) -> bytes:
    """The log as another boot would print it: every timestamp later by i × 1.000003 s."""
    if i == 0:
        return log

    def shift(m: re.Match[bytes]) -> bytes:
        us = int(m[1]) * 1_000_000 + int(m[2]) + i * 1_000_003
        return b"[%5d.%06d]" % (us // 1_000_000, us % 1_000_000)

    return _TS.sub(shift, log)


def lab_dumps() -> list[Path]:
    out = []
    if LAB.is_dir():
        for p in sorted(LAB.rglob("*")):
            if (
                p.is_file()
                and re.fullmatch(r"vmcore(\.flat)?|dump\.\d{12}", p.name)
                and "incomplete" not in str(p)
                and p.stat().st_size < 300_000_000
            ):
                out.append(p)
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def reference(logs: list[bytes], dumps: list[Path], tmp: Path) -> float:
    """The floor: write each log once, read each dump once, makedumpfile --dump-dmesg where it can."""
    t = time.perf_counter()
    for i, log in enumerate(logs):
        (tmp / f"log{i}").write_bytes(log)
    mdf = shutil.which("makedumpfile")
    for i, d in enumerate(dumps):
        with open(d, "rb") as f:
            while f.read(1 << 20):
                pass
        try:
            kdump = detect(d) in ("kdump", "diskdump")
        except DumpError:
            kdump = False
        if mdf and kdump:
            subprocess.run(
                [mdf, "--dump-dmesg", str(d), str(tmp / f"dmesg{i}")],
                capture_output=True,
                check=False,
                timeout=300,
            )
    return time.perf_counter() - t



def wait_healthy(url: str, seconds: float = 60) -> None:
    """Until the hub at ``url`` answers /healthz."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)


def post_crash(c: httpx.Client, i: int, item: bytes | Path) -> tuple[int, float, str]:
    """Upload job ``i`` (a dump file, or a log from host bench<i mod 997>): (status, seconds, id or
    error)."""
    t = time.perf_counter()
    if isinstance(item, Path):
        with open(item, "rb") as f:
            r = c.post("/api/v1/crashes", files={"vmcore": (item.name, f)})
    else:
        r = c.post("/api/v1/crashes", files={"log": ("vmcore-dmesg.txt", item)},
                   data={"host": f"bench{i % 997}"})
    ok = r.status_code in (200, 201)
    return r.status_code, time.perf_counter() - t, r.json()["id"] if ok else r.text[:200]

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--logs", type=int, default=1000)
    ap.add_argument("--dumps", type=int, default=20)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--keep", action="store_true", help="keep the data directory")
    ap.add_argument("--upload-limit", type=int, default=0,
                    help="the hub's upload_rate_limit per minute (default 0: off); a limit too high to "
                         "be reached measures what counting every upload in the database costs")
    args = ap.parse_args(argv)

    bases = base_logs()
    if not bases:
        print("no logs: ../shared/corpus and the lab cache are both missing", file=sys.stderr)
        return 2
    logs = [variant(bases[i % len(bases)], i // len(bases)) for i in range(args.logs)]
    dumps_all = lab_dumps()
    dumps = [dumps_all[i % len(dumps_all)] for i in range(args.dumps)] if dumps_all else []
    print(
        f"{len(bases)} distinct base logs -> {len(logs)} logs; {len(dumps_all)} lab dumps -> {len(dumps)} "
        f"dump uploads ({sum(p.stat().st_size for p in dumps) / 1e6:.0f} MB)"
    )

    tmp = Path(tempfile.mkdtemp(prefix="crashhub-burst-"))
    data = tmp / "data"
    env = {
        **os.environ,
        "CRASHHUB_SPOOL_DIR": "",
        "CRASHHUB_ANALYZE_FIRST": "0",
        "CRASHHUB_LOG_LEVEL": "warning",
        # The burst plays a whole fleet through one host token: the per-token upload limit (meant
        # for one host) would refuse most of it.
        "CRASHHUB_UPLOAD_RATE_LIMIT": str(args.upload_limit),
        "CRASHHUB_WORKERS": "1",
    }
    hub = open_store(config.load(data, env={}))
    token = create_token(hub.store, "host", "bench")[0]
    hub.close()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    serve_log = open(tmp / "serve.log", "wb")  # noqa: SIM115 - lives as long as the server
    proc = subprocess.Popen(
        [sys.executable, "-m", "crashhub.cli", "serve", "--data", str(data), "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=serve_log,
    )
    try:
        wait_healthy(url)
        headers = {"Authorization": f"Bearer {token}"}
        clients = [httpx.Client(base_url=url, headers=headers, timeout=600) for _ in range(args.clients)]

        def post(job: tuple[int, bytes | Path]) -> tuple[int, float, str]:
            return post_crash(clients[job[0] % len(clients)], *job)

        # Dumps interleaved with logs, as a fleet sends them.
        jobs: list[tuple[int, bytes | Path]] = [(i, log) for i, log in enumerate(logs)]
        step = max(1, len(jobs) // (len(dumps) + 1))
        for k, d in enumerate(dumps):
            jobs.insert((k + 1) * step + k, (len(logs) + k, d))
        t0 = time.perf_counter()
        with ThreadPoolExecutor(args.clients) as pool:
            results = list(pool.map(post, jobs))
        wall = time.perf_counter() - t0
        bad = [r for r in results if r[0] not in (200, 201)]
        log_ids = {
            r[2] for r, j in zip(results, jobs, strict=True) if not isinstance(j[1], Path) and r[0] < 300
        }
        dump_ids = {r[2] for r, j in zip(results, jobs, strict=True) if isinstance(j[1], Path) and r[0] < 300}
        lat = sorted(r[1] for r in results)
        hub = open_store(config.load(data, env={}))
        answered = log_ids | dump_ids
        stored_ids = {c.id for c in hub.store.crashes.list_crashes(limit=1_000_000)}
        missing = [i for i in answered if hub.store.crashes.get_crash(i) is None]
        hub.close()
        print(
            f"requests: {len(results)} in {wall:.1f} s = {len(results) / wall:.1f} requests/s "
            f"with {args.clients} clients; errors: {len(bad)}"
        )
        print(
            f"latency: median {statistics.median(lat) * 1000:.0f} ms, p95 "
            f"{lat[int(len(lat) * 0.95) - 1] * 1000:.0f} ms, max {lat[-1] * 1000:.0f} ms"
        )
        print(
            f"crashes: {len(log_ids)} from the logs ({len(set(logs))} distinct texts, sent under "
            f"{min(997, len(logs))} host names), {len(dump_ids)} from the dumps "
            f"({len(dump_ids - log_ids)} not also sent as a log); store holds {len(stored_ids)}"
        )
        for b in bad[:5]:
            print("  error:", b)
        ref = reference(logs, dumps, tmp)
        print(f"reference floor (write logs, read dumps, makedumpfile --dump-dmesg): {ref:.1f} s sequential")
        # Nothing lost: every request answered with a crash that is stored, and nothing else is stored.
        lost = bool(bad) or bool(missing) or stored_ids != answered
        print("goal ≤ 60 s:", "met" if wall <= 60 else "NOT met", "| lost:", "YES" if lost else "none")
        return 1 if lost else 0
    finally:
        proc.terminate()
        proc.wait(30)
        serve_log.close()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print("data kept in", data)


if __name__ == "__main__":
    sys.exit(main())
