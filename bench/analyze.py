"""Deep analysis speed: crashhub's drgn engine against ``crash -s`` running ``sys; bt``, same dump, one run.

    python bench/analyze.py [--kernel 6.1] [--kind null] [--dump PATH --vmlinux PATH] [--runs 3] [--json]

Figures (medians of ``--runs``, wall clock, each in a fresh child process):
- crash: ``crash -s VMLINUX DUMP`` with ``sys``, ``bt``, ``exit`` on stdin;
- first answer: the drgn engine's sys facts + the panic task's stack with file:line;
- whole analysis: ``crashhub.analyze.analyze(engines=("drgn",))``: dump facts, every drgn section
  (panic, all CPUs, D-state tasks, run queues, memory, modules, taint, log) and all checks.
Targets (issue 8): first answer <= 0.2x crash, whole analysis <= 0.5x crash.  Peak RSS of each
child is its own (wait4).  The dump defaults to the crash lab's ``rhel/vmcore`` of the kind.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from crashhub.analyze import analyze
from crashhub.analyze._drgn_engine import run as drgn_run
from crashhub.analyze._limits import run_limited


def _lab_run(kernel: str, kind: str) -> Path:
    cache = Path(os.environ.get("CRASHHUB_LAB_CACHE", Path.home() / ".cache" / "crashhub-lab"))
    for m in sorted(cache.glob(f"runs/{kernel}*/{kind}/*/manifest.json")):
        return m.parent
    raise SystemExit(f"no lab run {kernel}/{kind} under {cache}; make one with: python -m lab crash "
                     f"--kernel {kernel} --kind {kind}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kernel", default="6.1")
    ap.add_argument("--kind", default="null")
    ap.add_argument("--dump", type=Path)
    ap.add_argument("--vmlinux", type=Path)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    modules: list[Path] = []
    if a.dump is None or a.vmlinux is None:
        rd = _lab_run(a.kernel, a.kind)
        man = json.loads((rd / "manifest.json").read_text())
        a.dump = a.dump or rd / man["files"]["rhel/vmcore"]["path"]
        a.vmlinux = a.vmlinux or Path(man["kernel"]["vmlinux"])
        if (rd / "crashmod.ko").exists():
            modules.append(rd / "crashmod.ko")

    crash_t, crash_rss, first_t, first_rss, whole_t, whole_rss = [], [], [], [], [], []
    checks: dict[str, Any] = {}
    for _ in range(a.runs):
        out = run_limited(["crash", "-s", str(a.vmlinux), str(a.dump)], timeout=600,
                          stdin=b"sys\nbt\nexit\n")
        text = out.stdout.decode("utf-8", "replace")
        if "PANIC:" not in text or "PID:" not in text:
            raise SystemExit(f"crash gave no sys/bt output: {out.stderr[-500:]!r}")
        crash_t.append(out.seconds)
        crash_rss.append(out.peak_rss_kb or 0)

        t = time.monotonic()
        r = drgn_run(a.dump, a.vmlinux, modules=modules, sections=("sys", "panic"))
        first_t.append(time.monotonic() - t)
        first_rss.append(r.get("peak_rss_kb") or 0)
        stack = (r.get("panic") or {}).get("stack") or []
        checks["first_answer_has_file_line"] = bool(stack and stack[0].get("file") and stack[0].get("line"))

        t = time.monotonic()
        w = analyze(a.dump, vmlinux=a.vmlinux, engines=("drgn",), modules=modules).to_dict()
        whole_t.append(time.monotonic() - t)
        whole_rss.append(w["engines"]["drgn"].get("peak_rss_kb") or 0)
        checks["whole_sections"] = sorted(k for k in w["engines"]["drgn"]["timings"])
        checks["findings"] = [f["id"] for f in w["findings"]]

    med = statistics.median
    res = {
        "dump": str(a.dump), "vmlinux": str(a.vmlinux), "runs": a.runs,
        "crash_sys_bt_s": round(med(crash_t), 3), "crash_peak_rss_mib": round(max(crash_rss) / 1024, 1),
        "drgn_first_answer_s": round(med(first_t), 3),
        "drgn_first_peak_rss_mib": round(max(first_rss) / 1024, 1),
        "drgn_whole_s": round(med(whole_t), 3),
        "drgn_whole_peak_rss_mib": round(max(whole_rss) / 1024, 1),
        **checks,
    }
    res["first_ratio"] = round(res["drgn_first_answer_s"] / res["crash_sys_bt_s"], 3)
    res["whole_ratio"] = round(res["drgn_whole_s"] / res["crash_sys_bt_s"], 3)
    res["first_target_met"] = res["first_ratio"] <= 0.2
    res["whole_target_met"] = res["whole_ratio"] <= 0.5
    if a.json:
        print(json.dumps(res, indent=1))
    else:
        print(f"dump     {res['dump']}")
        print(f"{'':28}{'median s':>10}{'ratio':>8}{'peak RSS MiB':>14}")
        print(f"{'crash -s  sys; bt':28}{res['crash_sys_bt_s']:>10.3f}{1.0:>8.2f}"
              f"{res['crash_peak_rss_mib']:>14.1f}")
        print(f"{'drgn first answer':28}{res['drgn_first_answer_s']:>10.3f}{res['first_ratio']:>8.3f}"
              f"{res['drgn_first_peak_rss_mib']:>14.1f}   target <= 0.2: {res['first_target_met']}")
        print(f"{'drgn whole analysis':28}{res['drgn_whole_s']:>10.3f}{res['whole_ratio']:>8.3f}"
              f"{res['drgn_whole_peak_rss_mib']:>14.1f}   target <= 0.5: {res['whole_target_met']}")
        print(f"first answer has file:line: {checks['first_answer_has_file_line']}; "
              f"findings: {checks['findings']}")
    return 0 if res["first_target_met"] and res["whole_target_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
