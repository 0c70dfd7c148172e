"""What joining a channel's log to its crash costs an ingest (issue 19): the host's recent crashes are
candidates, and each one the host and the times leave possible has its best log read and compared.

Worst case: a host with N crashes of the last days, all at the same crash time (no time prunes them)
and none the arriving crash (each is the same lab log with its printk stamps shifted: another boot).
A pstore record then arrives for a new crash: every candidate's log is read and normalised.  Prints
the median ingest time of such an arrival against N, in-process (SQLite, local blobs).

    python bench/channel_join.py [--candidates 0,5,20] [--runs 15]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from crashhub import config
from crashhub.ingest import Arrival, Pipeline
from crashhub.knowledge import KnowledgeBase
from crashhub.store import open_store

LOG = Path(__file__).resolve().parents[1] / "tests" / "triage" / "data" / "lab" / "6.1-bug-1.vmcore-dmesg.txt"


def shifted(log: str, by_us: int) -> bytes:
    """The log as another boot printed it: every printk stamp moved by ``by_us`` microseconds."""
    out = []
    for line in log.splitlines():
        head, sep, rest = line.partition("]")
        if sep and head.startswith("[") and head[1:].strip().replace(".", "", 1).isdigit():
            us = round(float(head[1:]) * 1e6) + by_us
            out.append(f"[{us // 1_000_000:5d}.{us % 1_000_000:06d}]{rest}")
        else:
            out.append(line)
    return ("\n".join(out) + "\n").encode()


def median_ms(n: int, runs: int, log: str) -> float:
    with tempfile.TemporaryDirectory() as d:
        hub = open_store(config.load(Path(d) / "data", env={}, spool_dir="", starter_kb=False))
        try:
            p = Pipeline(hub, KnowledgeBase(hub.settings.kb_path, starter=False))
            t = time.time()
            for i in range(n):
                p.ingest(Arrival(log=shifted(log, 1000 * (i + 1)), log_name="netconsole.log", host="h1",
                                 source="netconsole", channel="netconsole", strict_dump=False, crash_time=t))
            times = []
            for r in range(runs):
                record = b"Panic#1 Part1\n" + shifted(log, 10_000_000 * (r + 1))
                t0 = time.perf_counter()
                out = p.ingest(Arrival(log=record, log_name="pstore-dmesg.txt", host="h1", source="http",
                                       channel="pstore", crash_time=t))
                times.append(time.perf_counter() - t0)
                assert out.created, "a new boot's crash must not join another"
                hub.store.retention.delete_crash(out.crash.id, "bench")  # N candidates for every run
            return statistics.median(times) * 1000
        finally:
            hub.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--candidates", default="0,5,20")
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args()
    log = LOG.read_text()
    print(f"log {LOG.name}: {len(log.splitlines())} lines; median of {args.runs} pstore arrivals")
    for n in (int(x) for x in args.candidates.split(",")):
        print(f"{n:3d} candidate crashes on the host: {median_ms(n, args.runs, log):7.1f} ms per ingest")


if __name__ == "__main__":
    main()
