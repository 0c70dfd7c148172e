"""Reassembling a >= 1 GiB flattened dump: crashhub vs ``makedumpfile -R`` vs ``cp`` (the copy limit).

    python bench/dump_reassemble.py [--flat FILE] [--runs 5] [--dir DIR]

Without --flat the script makes one from the largest lab kdump: with the lab's `large` run (a 4 GiB
guest, `-d 0`) it is ``makedumpfile -F -d 0`` of that file, a real 3.8 GiB flattened stream.  Without
it, a smaller lab kdump is written out the way -F writes (4 KiB header, 64 KiB records with metadata
and page-data records interleaved, so offsets jump back and forth) and padded with further 64 KiB
records of real dump bytes past the dump's end until the flat file is >= 1 GiB.  Every figure is the median of
--runs runs in one session, files in the page cache.  Also: peak RSS of every `crashhub dump`
command on that file, and that the output is sparse and byte-identical to makedumpfile's.
"""

from __future__ import annotations

import argparse
import filecmp
import os
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _dump_common import CRASHHUB, lab_runs, median_of, run_process
from crashhub.dump import reassemble

RECORD = 64 << 10


def make_flat(dst: Path, target: int) -> Path:
    cands = sorted((p for r in lab_runs() for p in r.glob("rhel/*/vmcore")), key=lambda p: p.stat().st_size)
    if not cands:
        raise SystemExit("no lab kdump: run `python -m lab crash --kernel 6.1 --kind null` or pass --flat")
    src = cands[-1]
    size = src.stat().st_size
    if size >= target and shutil.which("makedumpfile"):
        # The real thing: makedumpfile re-writes a kdump file as a flattened stream (-F), as it does
        # from /proc/vmcore for an ssh target; -d 0 keeps every page of the lab's `large` run.
        print(f"making {dst} with makedumpfile -F -d 0 from {src} ({size / 2**20:.0f} MiB kdump)")
        with open(dst, "wb") as out:
            subprocess.run(["makedumpfile", "-F", "-d", "0", str(src)], stdout=out, check=True,
                           stderr=subprocess.DEVNULL)
        return dst
    print(f"making {dst} from {src} ({size / 2**20:.0f} MiB kdump)")
    with open(src, "rb") as f, open(dst, "wb") as out:
        out.write(b"makedumpfile\0".ljust(16, b"\0") + struct.pack(">qq", 1, 1) + bytes(4096 - 32))
        # makedumpfile writes header, bitmaps, then descriptors and page data from two caches in turn:
        # interleave the first third (metadata-like) with the rest so records are out of order.
        offsets = list(range(0, size, RECORD))
        third = len(offsets) // 3
        order = [o for pair in zip(offsets[:third], offsets[third:2 * third], strict=False) for o in pair]
        order += offsets[2 * third:]
        seen = set(order)
        order += [o for o in offsets if o not in seen]
        written = 4096
        for off in order:
            f.seek(off)
            chunk = f.read(RECORD)
            out.write(struct.pack(">qq", off, len(chunk)) + chunk)
            written += 16 + len(chunk)
        # pad with real dump bytes at offsets past the end (readers ignore them) to reach the target
        off = (size + RECORD - 1) // RECORD * RECORD
        src_off = 0
        while written < target:
            f.seek(src_off % max(size - RECORD, 1))
            chunk = f.read(RECORD)
            out.write(struct.pack(">qq", off, len(chunk)) + chunk)
            written += 16 + len(chunk)
            off += RECORD
            src_off += 7 * RECORD
        out.write(struct.pack(">qq", -1, -1))
    return dst


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--flat", type=Path)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--dir", type=Path, default=None, help="work directory (default: a temp dir)")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-reassemble-", dir=args.dir))
    try:
        flat = args.flat or make_flat(work / "big.flat", 1 << 30)
        size = flat.stat().st_size
        print(f"flat file: {flat} {size / 2**30:.2f} GiB")
        ours, theirs, copy = work / "ours", work / "theirs", work / "copy"
        shutil.copyfile(flat, copy)  # warm the page cache
        copy.unlink()

        def inproc() -> tuple[float, int]:
            t0 = time.perf_counter()
            reassemble(flat, ours)
            return time.perf_counter() - t0, 0

        # Round-robin, each run after a sync with its output removed: grouping the runs per tool would
        # let one tool's 1 GiB of dirty pages be written back during the next tool's runs.
        tools: dict[str, tuple[Callable[[], tuple[float, int]], Path]] = {
            "mdf": (lambda: run_process(["makedumpfile", "-R", str(theirs)], stdin=flat), theirs),
            "cp": (lambda: run_process(["cp", str(flat), str(copy)]), copy),
            "cli": (lambda: run_process([CRASHHUB, "dump", "reassemble", str(flat), "-o", str(ours),
                                         "--no-progress"]), ours),
            "stdin": (lambda: run_process([CRASHHUB, "dump", "reassemble", "-", "-o", str(ours),
                                           "--no-progress"], stdin=flat), ours),
            "lib": (inproc, ours),
        }
        times: dict[str, list[float]] = {k: [] for k in tools}
        rss: dict[str, int] = dict.fromkeys(tools, 0)
        for _ in range(args.runs):
            for name, (fn, out) in tools.items():
                out.unlink(missing_ok=True)
                os.sync()
                t, r = fn()
                times[name].append(t)
                rss[name] = max(rss[name], r)
        med = {k: (statistics.median(v), rss[k]) for k, v in times.items()}
        mdf, cp, cli, stdin, lib = med["mdf"], med["cp"], med["cli"], med["stdin"], med["lib"]
        reassemble(flat, ours)
        same = filecmp.cmp(ours, theirs, shallow=False)
        st_o, st_t = os.stat(ours), os.stat(theirs)
        print(f"\nmedians of {args.runs} round-robin runs (sync before each), {size / 2**30:.2f} GiB flat "
              "file in the page cache")
        print(f"  makedumpfile -R < flat          {mdf[0]:6.3f} s   peak RSS {mdf[1] / 1024:6.1f} MiB")
        print(f"  cp flat copy                    {cp[0]:6.3f} s   peak RSS {cp[1] / 1024:6.1f} MiB")
        print(f"  crashhub dump reassemble FLAT   {cli[0]:6.3f} s   peak RSS {cli[1] / 1024:6.1f} MiB"
              f"   ({cli[0] / mdf[0]:.2f}x makedumpfile, {cli[0] / cp[0]:.2f}x cp)")
        print(f"  crashhub dump reassemble - <    {stdin[0]:6.3f} s   peak RSS {stdin[1] / 1024:6.1f} MiB"
              f"   ({stdin[0] / mdf[0]:.2f}x makedumpfile, {stdin[0] / cp[0]:.2f}x cp)")
        print(f"  crashhub.dump.reassemble()      {lib[0]:6.3f} s   (in process)")
        sparse = st_o.st_blocks * 512 < st_o.st_size
        print(f"  output identical to makedumpfile -R: {same}; size {st_o.st_size}, on disk "
              f"{st_o.st_blocks * 512} (theirs {st_t.st_blocks * 512}): sparse={sparse}")
        for cmd in (["info", str(flat)], ["info", "--json", str(flat)], ["dmesg", str(flat)]):
            t, r = median_of(args.runs, lambda cmd=cmd: run_process([CRASHHUB, "dump", *cmd]))
            print(f"  crashhub dump {' '.join(cmd[:-1]):<12} FLAT  {t:6.3f} s   peak RSS {r / 1024:6.1f} MiB")
        t, r = median_of(args.runs, lambda: run_process([CRASHHUB, "dump", "dmesg", str(ours)]))
        print(f"  crashhub dump dmesg REASSEMBLED {t:6.3f} s   peak RSS {r / 1024:6.1f} MiB")
        return 0 if same else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
