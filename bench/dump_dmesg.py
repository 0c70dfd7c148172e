"""The kernel log from lab dumps: crashhub vs ``makedumpfile --dump-dmesg``, and CLI start-up cost.

    python bench/dump_dmesg.py [--runs 15] [--kinds null,sysrq] [RUN_DIR ...]

For every dump of the lab runs (default: instance 1 of the given kinds, every kernel cached): the in-process
``crashhub.dump.dmesg()`` time against makedumpfile's whole-process time (goal <= 1.0x), and the
whole-process time of ``crashhub dump dmesg`` against a bare ``python3 -c pass`` (goal <= 1.5x), the
two run in turn and the ratio taken pair by pair, overall and per format.
makedumpfile cannot read a flat file, so for those it runs on the file makedumpfile -R rebuilt.
Medians of --runs runs; the outputs are checked equal first.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _dump_common import CRASHHUB, PYTHON, lab_runs, median_of, run_process
from crashhub.dump import detect, dmesg


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs_dirs", nargs="*", type=Path)
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--kinds", default="null,sysrq", help="lab kinds to use (default: null,sysrq)")
    args = ap.parse_args()
    kinds = set(args.kinds.split(","))
    dirs = args.runs_dirs or [r for r in lab_runs() if r.parent.name in kinds and r.name == "1"]
    if not dirs:
        raise SystemExit("no lab runs: python -m lab crash --kernel 6.1 --kind null")
    work = Path(tempfile.mkdtemp(prefix="bench-dmesg-"))
    ratios_lib, ratios_cli, worst_rss = [], [], 0
    by_format: dict[str, list[float]] = {}
    try:
        for _ in range(3):  # warm the byte-code cache and the page cache
            run_process([CRASHHUB, "dump", "dmesg", str(next(iter(dirs[0].glob("rhel/*/vmcore"))))])
        bare, _ = median_of(args.runs, lambda: run_process([sys.executable, "-c", "pass"]))
        real, _ = median_of(args.runs, lambda: run_process([PYTHON, "-c", "pass"]))
        print(f"python3 -c pass: {bare * 1000:.1f} ms (the venv's python; {PYTHON}: {real * 1000:.1f} ms); "
              f"medians of {args.runs}\n")
        print(f"{'dump':<62} {'fmt':<10} {'lib':>8} {'mdf':>8} {'lib/mdf':>7} {'cli':>8} {'cli/py':>6} "
              f"{'RSS':>6}")
        for run in dirs:
            for dump_path in sorted(run.glob("*/*/vmcore*")) + sorted(run.glob("debian/*/dump.*")):
                if dump_path.name.endswith((".txt", ".log")) or "incomplete" in dump_path.name:
                    continue
                fmt = detect(dump_path)
                target = dump_path
                if fmt.startswith("flat"):
                    target = work / "rebuilt"
                    run_process(["makedumpfile", "-R", str(target)], stdin=dump_path)
                out = work / "mdf.txt"
                run_process(["makedumpfile", "--dump-dmesg", str(target), str(out)])
                ours = dmesg(dump_path)
                if ours != out.read_bytes():
                    print(f"MISMATCH on {dump_path}")
                    return 1
                out.unlink()
                mdf, _ = median_of(args.runs, lambda t=target, o=out: run_process(
                    ["makedumpfile", "--dump-dmesg", str(t), str(o)]),
                    lambda o=out: o.unlink(missing_ok=True))
                out.unlink()
                times = []
                for _ in range(args.runs):
                    t0 = time.perf_counter()
                    dmesg(dump_path)
                    times.append(time.perf_counter() - t0)
                lib = statistics.median(times)
                # The CLI and the bare interpreter run in turn, and the ratio is taken pair by pair:
                # a machine whose speed drifts during the run then moves both sides alike.
                pairs, rss = [], 0
                for _ in range(args.runs):
                    cli_t, r = run_process([CRASHHUB, "dump", "dmesg", str(dump_path)])
                    bare_t, _ = run_process([sys.executable, "-c", "pass"])
                    pairs.append((cli_t, cli_t / bare_t))
                    rss = max(rss, r)
                cli = statistics.median(t for t, _ in pairs)
                cli_ratio = statistics.median(q for _, q in pairs)
                worst_rss = max(worst_rss, rss)
                ratios_lib.append(lib / mdf)
                ratios_cli.append(cli_ratio)
                by_format.setdefault(fmt, []).append(cli_ratio)
                name = str(dump_path.relative_to(run.parent.parent))[:62]
                print(f"{name:<62} {fmt:<10} {lib * 1000:6.1f}ms {mdf * 1000:6.1f}ms {lib / mdf:6.2f}x "
                      f"{cli * 1000:6.1f}ms {cli_ratio:5.2f}x {rss / 1024:4.0f}M")
                (work / "rebuilt").unlink(missing_ok=True)
        print(f"\nmedian in-process / makedumpfile: {statistics.median(ratios_lib):.2f}x (goal <= 1.0x)")
        print(f"median CLI / python3 -c pass:     {statistics.median(ratios_cli):.2f}x (goal <= 1.5x)")
        for fmt, ratios in sorted(by_format.items()):
            print(f"  {fmt:<12} {statistics.median(ratios):.2f}x over {len(ratios)} dumps")
        print(f"worst peak RSS of crashhub dump dmesg: {worst_rss / 1024:.0f} MiB")
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
