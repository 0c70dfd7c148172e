"""The netconsole receiver: lines per second on one core, with 1,000 senders on loopback (goal ≥ 50,000),
and memory per sender.

A real receiver (``crashhub.ingest.NetconsoleReceiver`` over a hub in a temp directory) listens on a
loopback port in this process's event loop; a separate process plays 1,000 senders (one UDP socket,
one ``ip:port``, each) that send extended netconsole datagrams, one printk record each: the boot
messages of the crash lab's real logs with rising sequence numbers, interleaved sender by sender.

Figures, medians of ``--runs`` runs:

1. per offered rate (lines/s, paced by the sender process, and "max": as fast as it can send):
   lines the receiver kept per second of wall time, the share of the datagrams sent it took (the
   rest overflowed the socket: the receiver did not keep up), and lines per CPU second of the
   receiver's process: what one core sustains; and the receiver's own work without the socket
   (``datagram_received`` called in a loop), lines per CPU second;
2. memory per sender (tracemalloc, the streams alone): after 100 lines each (1,000 senders), and
   with each sender's window full (``netconsole_sender_bytes``, 256 KiB by default; 100 senders,
   tracemalloc makes filling 1,000 windows take minutes).

Run: ``python bench/netconsole.py [--runs 3] [--seconds 3] [--senders 1000] [--part all|rate|memory]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from crashhub import config
from crashhub.channels import Stream, StreamLimits
from crashhub.ingest import NetconsoleReceiver, Pipeline
from crashhub.knowledge import KnowledgeBase
from crashhub.store import open_store

LAB = Path(__file__).resolve().parent.parent / "tests" / "triage" / "data" / "lab"
_STAMP = re.compile(r"\[\s*\d+\.\d{6}\] ?(.*)")


def boot_lines() -> list[bytes]:
    """Escaped record texts of the lab logs' boot messages (up to each crash: no cut is made)."""
    out: list[bytes] = []
    for p in sorted(LAB.glob("*.vmcore-dmesg.txt"))[:6]:
        for line in p.read_text().splitlines():
            if any(k in line for k in ("BUG", "WARNING", "Oops", "sysrq", "crashmod", "Kernel panic")):
                break
            m = _STAMP.fullmatch(line)
            if m and "Linux version" not in line:
                out.append(m[1].encode().replace(b"\\", b"\\x5c"))
    return out


def send(port: int, senders: int, rate: float, seconds: float) -> None:
    """The sender process: ``senders`` sockets, round robin, ``rate`` datagrams/s (0: as fast as it can)."""
    lines = boot_lines()
    socks = []
    for _ in range(senders):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    dest = ("127.0.0.1", port)
    seq = [0] * senders
    sent = 0
    t0 = time.monotonic()
    end = t0 + seconds
    batch = 200
    while True:
        now = time.monotonic()
        if now >= end:
            break
        if rate and sent >= (now - t0) * rate:
            time.sleep(0.0005)
            continue
        for _ in range(batch):
            i = sent % senders
            n = seq[i]
            seq[i] = n + 1
            head = b"6,%d,%d,-;" % (n, 1_000_000 + n * 1000)
            socks[i].sendto(head + lines[(n + i) % len(lines)] + b"\n", dest)
            sent += 1
    print(sent, flush=True)


@dataclasses.dataclass
class Run:
    sent: int
    kept: int
    wall: float
    cpu: float


async def _one(rec: NetconsoleReceiver, senders: int, rate: float, seconds: float) -> Run:
    assert rec.address is not None
    # The previous run's leftovers count before this one starts, or they would count as its lines:
    # the socket buffer a "max" run filled, and the records a stream held back for a lost one
    # (released as a gap after StreamLimits.hold seconds, by the receiver's tick).
    settled, seen = time.monotonic(), rec.snapshot()["lines"]
    while time.monotonic() - settled < StreamLimits().hold + 1.0:
        await asyncio.sleep(0.1)
        if rec.snapshot()["lines"] != seen:
            settled, seen = time.monotonic(), rec.snapshot()["lines"]
    before = rec.snapshot()
    cpu0 = time.process_time()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--send", str(rec.address[1]), str(senders), str(rate), str(seconds),
        stdout=subprocess.PIPE,
    )
    # Wall time from the first datagram read to the last (the sender's start-up is not the receiver's).
    start = rec.counters.datagrams
    first = last = 0.0
    n = start
    while proc.returncode is None or time.monotonic() - last < 0.3:
        await asyncio.sleep(0.01)
        if rec.counters.datagrams != n:
            n = rec.counters.datagrams
            last = time.monotonic()
            first = first or last
        if proc.returncode is None and proc.stdout is not None and proc.stdout.at_eof():
            await proc.wait()
        elif proc.returncode is None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(proc.wait(), 0.001)
    out = await proc.stdout.read() if proc.stdout is not None else b"0"
    after = rec.snapshot()
    return Run(int(out.split()[-1]), after["lines"] - before["lines"], max(1e-3, last - first),
               time.process_time() - cpu0)


def throughput(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = dataclasses.replace(
            config.load(Path(tmp) / "data", env={}),
            netconsole_listen="127.0.0.1:0", netconsole_allow="127.0.0.0/8", netconsole_rate=0,
            netconsole_max_senders=max(4096, args.senders),
        )
        hub = open_store(settings)
        pipeline = Pipeline(hub, KnowledgeBase(settings.kb_path))
        rates = [25_000.0, 50_000.0, 100_000.0, 0.0]

        async def main() -> dict[float, list[Run]]:
            rec = NetconsoleReceiver(pipeline, settings)
            await rec.start()
            res: dict[float, list[Run]] = {r: [] for r in rates}
            try:
                for _ in range(args.runs):
                    for r in rates:
                        res[r].append(await _one(rec, args.senders, r, args.seconds))
            finally:
                await rec.close()
            return res

        res = asyncio.run(main())
        hub.close()
    print(f"\nreceiver, {args.senders} senders on loopback, {args.seconds:.0f} s a run, "
          f"medians of {args.runs}")
    print(f"{'offered lines/s':>16} {'kept lines/s':>13} {'taken':>7} {'lines per CPU s':>16}")
    for r in rates:
        runs = res[r]
        kept = statistics.median(x.kept / x.wall for x in runs)
        took = statistics.median(x.kept / max(1, x.sent) for x in runs)
        per_cpu = statistics.median(x.kept / x.cpu for x in runs if x.cpu > 0)
        label = f"{r:,.0f}" if r else "max"
        print(f"{label:>16} {kept:>13,.0f} {took:>7.1%} {per_cpu:>16,.0f}", flush=True)


def in_process(args: argparse.Namespace) -> None:
    """The receiver's own work a datagram, no socket: datagram_received called directly."""
    lines = boot_lines()
    with tempfile.TemporaryDirectory() as tmp:
        settings = dataclasses.replace(
            config.load(Path(tmp) / "data", env={}), netconsole_listen="127.0.0.1:0",
            netconsole_allow="127.0.0.0/8", netconsole_rate=0, netconsole_max_senders=max(4096, args.senders),
        )
        hub = open_store(settings)
        per = []
        for _ in range(args.runs):
            rec = NetconsoleReceiver(Pipeline(hub, KnowledgeBase(settings.kb_path)), settings)
            grams = [
                (b"6,%d,%d,-;" % (n, 1_000_000 + n * 1000) + lines[(n + i) % len(lines)] + b"\n",
                 ("127.0.0.1", 10000 + i))
                for n in range(60) for i in range(args.senders)
            ]
            t = time.process_time()
            for d, a in grams:
                rec.datagram_received(d, a, 1.0)
            per.append(len(grams) / (time.process_time() - t))
        hub.close()
    print(f"\nin process (datagram_received called directly, {args.senders} senders, no socket): "
          f"{statistics.median(per):,.0f} lines per CPU second", flush=True)


def memory(args: argparse.Namespace) -> None:
    lines = boot_lines()
    limits = StreamLimits()
    print(f"\nmemory per sender (tracemalloc, window bound {limits.max_bytes:,} bytes)", flush=True)
    for label, per, count in (("100 lines each", 100, args.senders),
                              ("window full", limits.max_bytes // 60, max(1, args.senders // 10))):
        sizes = []
        for _ in range(args.runs):
            tracemalloc.start()
            base = tracemalloc.get_traced_memory()[0]
            streams = [Stream(f"127.0.0.1:{10000 + i}", limits) for i in range(count)]
            for i, s in enumerate(streams):
                for n in range(per):
                    s.feed(b"6,%d,%d,-;" % (n, n * 1000) + lines[(n + i) % len(lines)] + b"\n", 1.0)
            used = tracemalloc.get_traced_memory()[0] - base
            kept = sum(s.kept_bytes for s in streams) / len(streams)
            tracemalloc.stop()
            del streams
            sizes.append((used / count, kept))
        used, kept = statistics.median(u for u, _ in sizes), statistics.median(k for _, k in sizes)
        print(f"  {label:<16} {count:5d} senders {used / 1024:8.1f} KiB per sender "
              f"(the stream counts {kept / 1024:.1f} KiB kept)", flush=True)


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--send":
        port, senders, rate, seconds = sys.argv[2:6]
        send(int(port), int(senders), float(rate), float(seconds))
        return 0
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--senders", type=int, default=1000)
    ap.add_argument("--part", choices=("all", "rate", "memory"), default="all")
    args = ap.parse_args()
    if args.part in ("all", "rate"):
        throughput(args)
        in_process(args)
    if args.part in ("all", "memory"):
        memory(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
