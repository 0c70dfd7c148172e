"""One full ``crashhub kernel check`` (sysrq, null, softlockup) under QEMU, with its peak disk and memory.

    python bench/kernel_check.py [--kernel 6.1] [--runs 1] [--json]

The kernel is the crash lab's Debian ``--kernel`` (its image and headers debs, its -dbg vmlinux as the
debuginfo), checked with the host's makedumpfile and the default collector line; nothing is cached
(every boot is made).  Measured while it runs (sampled every 0.25 s):

- time: wall clock of ``check()``, and per kind the boot (crash, capture, disk read back) and the
  evaluation (dump reader, triage, drgn and crash);
- peak disk: the work directory's allocated blocks (unpacked packages, initramfs, the disk image
  and dump of the boot under way);
- peak memory: the summed RSS of this process and all its descendants (QEMU, drgn's child, crash).

Goal (issue 20): a check of the three standard crashes in <= 3 minutes under TCG on a 2-core machine.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "src"), str(REPO)]

from lab.config import family  # noqa: E402
from lab.debs import fetch_kernel, package_debs  # noqa: E402

from crashhub.readiness import check  # noqa: E402

GOAL_S = 180.0
PAGE = os.sysconf("SC_PAGE_SIZE")


def _children(pid: int) -> list[int]:
    out = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                out += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return out


def tree_rss(root: int) -> int:
    """Bytes resident in ``root`` and every descendant."""
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        try:
            with open(f"/proc/{pid}/statm") as f:
                total += int(f.read().split()[1]) * PAGE
        except OSError:
            continue
        todo += _children(pid)
    return total


def disk_bytes(path: Path) -> int:
    """Allocated bytes under ``path`` (a sparse disk image counts what was written)."""
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):  # removed while walking
                total += os.lstat(os.path.join(dirpath, name)).st_blocks * 512
    return total


class Sampler(threading.Thread):
    def __init__(self, work: Path) -> None:
        super().__init__(daemon=True)
        self.work, self.stop, self.rss, self.disk = work, threading.Event(), 0, 0

    def run(self) -> None:
        while not self.stop.wait(0.25):
            self.rss = max(self.rss, tree_rss(os.getpid()))
            self.disk = max(self.disk, disk_bytes(self.work))


def one(kernel: str) -> dict[str, object]:
    k = fetch_kernel(family(kernel))
    image, headers = package_debs(k)
    marks: list[tuple[float, str]] = []
    with tempfile.TemporaryDirectory(prefix="kernel-check-bench-") as tmp:
        work = Path(tmp) / "work"
        s = Sampler(Path(tmp))
        s.start()
        t0 = time.monotonic()
        report = check([image, *headers], debuginfo=k.vmlinux, work_dir=work,
                       progress=lambda m: marks.append((time.monotonic() - t0, m)))
        seconds = time.monotonic() - t0
        s.stop.set()
        s.join()
    kinds = {}
    for kr in report.kinds:
        boot_start = next(t for t, m in marks if m.startswith(f"{kr.kind}: booting"))
        read_start = next(t for t, m in marks
                          if m.startswith(f"{kr.kind}:") and m.endswith("reading the dump"))
        after = [t for t, m in marks if t > read_start and not m.startswith(f"{kr.kind}:")]
        kinds[kr.kind] = {"boot_s": round(read_start - boot_start, 1),
                          "evaluate_s": round((after[0] if after else seconds) - read_start, 1),
                          "captured": kr.captured, "ok": kr.ok,
                          "dump_mib": round((kr.dump_bytes or 0) / 2**20, 1)}
    setup = next(t for t, m in marks if "booting" in m)
    return {"release": report.release, "accel": report.accel, "seconds": round(seconds, 1),
            "setup_s": round(setup, 1), "peak_disk_mib": round(s.disk / 2**20),
            "peak_rss_mib": round(s.rss / 2**20), "ready": report.ready, "kinds": kinds}


def medians(runs: list[dict[str, object]]) -> dict[str, float]:
    return {key: statistics.median(float(r[key]) for r in runs)  # type: ignore[arg-type]
            for key in ("seconds", "setup_s", "peak_disk_mib", "peak_rss_mib")}


def table(runs: list[dict[str, object]]) -> str:
    med, last = medians(runs), runs[-1]
    out = [f"kernel check of {last['release']} ({last['accel']}), {len(runs)} run(s), medians:",
           f"{'':<14}{'boot s':>8}{'evaluate s':>12}{'dump MiB':>10}  captured/ok"]
    for kind, kr in last["kinds"].items():  # type: ignore[attr-defined]
        out.append(f"{kind:<14}{kr['boot_s']:>8}{kr['evaluate_s']:>12}{kr['dump_mib']:>10}  "
                   f"{kr['captured']}/{kr['ok']}")
    verdict = "met" if med["seconds"] <= GOAL_S else "MISSED"
    out += [f"{'setup':<14}{med['setup_s']:>8.1f}   (unpack, test module, initramfs)",
            f"{'total':<14}{med['seconds']:>8.1f} s   goal <= {GOAL_S:.0f} s: {verdict}",
            f"peak disk {med['peak_disk_mib']:.0f} MiB (work directory), "
            f"peak memory {med['peak_rss_mib']:.0f} MiB (RSS of the check's process tree)"]
    return "\n".join(out)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--kernel", default="6.1")
    p.add_argument("--runs", type=int, default=1)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    runs = [one(args.kernel) for _ in range(args.runs)]
    if args.json:
        print(json.dumps({"runs": runs, "median": medians(runs)}, indent=2))
    else:
        print(table(runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
