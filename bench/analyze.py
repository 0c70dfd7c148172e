"""Deep analysis speed per lab kind: crashhub's first answer and default ``analyze`` against ``crash -s``.

    python bench/analyze.py [--kernel 6.1] [--kinds sysrq,null,nmi,hung,softlockup,oom] [--runs 3] [--json]

Per kind, on the same dump (the crash lab's ``rhel/vmcore`` of the kind, its module's .ko given),
medians of ``--runs`` runs, wall clock, the three timed in the same round:

- first answer: the drgn engine in this process (``_drgn_engine.collect`` with the ``sys`` and
  ``panic`` sections): program opened, vmlinux DWARF indexed, module debuginfo and kallsyms
  loaded, the panic task unwound and merged with the log; timed until the panic section is out;
- analyze: ``crashhub analyze --vmlinux V --module K DUMP`` as a whole process (interpreter start,
  dump facts, every drgn section in its limited child, all checks, the text printed);
- crash: ``crash -s VMLINUX DUMP`` with ``sys``, ``bt``, ``exit`` on stdin (its batch mode).

Goals (issue 17): first answer <= 1 s; the whole default analyze <= 0.3x crash.  ``--profile``
adds where the first answer's time goes (dump open, DWARF index, modules, kallsyms, unwind).
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
os.environ.setdefault("OMP_NUM_THREADS", "2")  # as the engine's child gets it (_drgn_engine.run)

from crashhub.analyze._drgn_engine import collect
from crashhub.analyze._limits import run_limited

REPO = Path(__file__).resolve().parents[1]
KINDS = ("sysrq", "null", "nmi", "hung", "softlockup", "oom")
FIRST_GOAL_S = 1.0
WHOLE_GOAL_RATIO = 0.3


def _lab_run(kernel: str, kind: str) -> Path:
    cache = Path(os.environ.get("CRASHHUB_LAB_CACHE", Path.home() / ".cache" / "crashhub-lab"))
    for m in sorted(cache.glob(f"runs/{kernel}*/{kind}/*/manifest.json")):
        return m.parent
    raise SystemExit(f"no lab run {kernel}/{kind} under {cache}; make one with: python -m lab crash "
                     f"--kernel {kernel} --kind {kind}")


def first_answer(dump: Path, vmlinux: Path, modules: list[Path]) -> tuple[float, dict[str, float], Any]:
    """Seconds until the panic section is out, the engine's own section timings, the panic section."""
    got: dict[str, Any] = {}
    t0 = time.monotonic()

    def emit(name: str, val: Any, seconds: float) -> None:
        got.setdefault("timings", {})[name] = seconds
        if name == "panic":
            got["at"], got["panic"] = time.monotonic() - t0, val

    req = {"dump": str(dump), "vmlinux": str(vmlinux), "modules": [str(m) for m in modules],
           "sections": ["sys", "panic"]}
    collect(req, emit)
    if "at" not in got:
        raise SystemExit(f"the drgn engine gave no panic section for {dump}")
    return got["at"], got["timings"], got["panic"]


def whole_analyze(dump: Path, vmlinux: Path, modules: list[Path]) -> float:
    cmd = [sys.executable, str(REPO / "bin" / "crashhub"), "analyze", "--vmlinux", str(vmlinux), str(dump)]
    for m in modules:
        cmd += ["--module", str(m)]
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    out = run_limited(cmd, timeout=600, env=env)
    if out.returncode != 0 or b"findings" not in out.stdout:
        raise SystemExit(f"crashhub analyze failed ({out.returncode}): {out.stderr[-500:]!r}")
    return out.seconds


def crash_sys_bt(dump: Path, vmlinux: Path) -> float:
    out = run_limited(["crash", "-s", str(vmlinux), str(dump)], timeout=600, stdin=b"sys\nbt\nexit\n")
    text = out.stdout.decode("utf-8", "replace")
    if "PANIC:" not in text or "PID:" not in text:
        raise SystemExit(f"crash gave no sys/bt output: {out.stderr[-500:]!r}")
    return out.seconds


def one_kind(kernel: str, kind: str, runs: int) -> dict[str, Any]:
    rd = _lab_run(kernel, kind)
    man = json.loads((rd / "manifest.json").read_text())
    dump, vmlinux = rd / man["files"]["rhel/vmcore"]["path"], Path(man["kernel"]["vmlinux"])
    modules = [rd / "crashmod.ko"] if (rd / "crashmod.ko").exists() else []
    first, whole, crash = [], [], []
    timings: list[dict[str, float]] = []
    panic: Any = None
    for _ in range(runs):
        t, tm, panic = first_answer(dump, vmlinux, modules)
        first.append(t)
        timings.append(tm)
        whole.append(whole_analyze(dump, vmlinux, modules))
        crash.append(crash_sys_bt(dump, vmlinux))
    med = statistics.median
    stack = (panic or {}).get("stack") or []
    res: dict[str, Any] = {
        "kind": kind, "dump": str(dump), "runs": runs,
        "first_s": round(med(first), 3), "analyze_s": round(med(whole), 3), "crash_s": round(med(crash), 3),
        "first_timings": {k: round(med(t.get(k, 0.0) for t in timings), 3) for k in ("load", "sys", "panic")},
        "top_frame": stack[0].get("function") if stack else None,
    }
    res["first_ratio"] = round(res["first_s"] / res["crash_s"], 3)
    res["analyze_ratio"] = round(res["analyze_s"] / res["crash_s"], 3)
    res["first_goal_met"] = res["first_s"] <= FIRST_GOAL_S
    res["analyze_goal_met"] = res["analyze_ratio"] <= WHOLE_GOAL_RATIO
    return res


def profile(kernel: str, kind: str) -> dict[str, float]:
    """Where the first answer's time goes, step by step, in this process."""
    import drgn  # noqa: PLC0415
    from drgn.helpers.linux.kallsyms import load_module_kallsyms  # noqa: PLC0415

    rd = _lab_run(kernel, kind)
    man = json.loads((rd / "manifest.json").read_text())
    out: dict[str, float] = {}
    t = time.monotonic()

    def step(name: str) -> None:
        nonlocal t
        out[name] = round(time.monotonic() - t, 3)
        t = time.monotonic()

    prog = drgn.Program()
    prog.set_core_dump(str(rd / man["files"]["rhel/vmcore"]["path"]))
    step("open dump")
    prog.load_debug_info([man["kernel"]["vmlinux"]], main=True)
    step("vmlinux DWARF index")
    if (rd / "crashmod.ko").exists():
        prog.load_debug_info([str(rd / "crashmod.ko")])
    step("module debuginfo")
    prog.register_symbol_finder("module_kallsyms", load_module_kallsyms(prog), enable_index=0)
    step("module kallsyms")
    trace = prog.crashed_thread().stack_trace()
    [(f.function_name, f.source() if f.function_name else None) for f in trace]
    step("unwind + file:line")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kernel", default="6.1")
    ap.add_argument("--kinds", default=",".join(KINDS))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    rows = [one_kind(a.kernel, k, a.runs) for k in a.kinds.split(",")]
    prof = profile(a.kernel, "null") if a.profile else None
    if a.json:
        print(json.dumps({"kernel": a.kernel, "kinds": rows, "profile": prof}, indent=1))
    else:
        print(f"kernel {a.kernel}, medians of {a.runs} runs, wall clock s; OMP_NUM_THREADS="
              f"{os.environ['OMP_NUM_THREADS']}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
        print(f"{'kind':12}{'first':>8}{'analyze':>9}{'crash':>8}{'first/crash':>13}{'analyze/crash':>15}"
              f"  {'top frame':24} first: load/panic")
        for r in rows:
            print(f"{r['kind']:12}{r['first_s']:>8.2f}{r['analyze_s']:>9.2f}{r['crash_s']:>8.2f}"
                  f"{r['first_ratio']:>13.2f}{r['analyze_ratio']:>15.2f}  {r['top_frame'] or '-':24} "
                  f"{r['first_timings']['load']:.2f}/{r['first_timings']['panic']:.2f}")
        met1, met2 = sum(r["first_goal_met"] for r in rows), sum(r["analyze_goal_met"] for r in rows)
        print(f"goals: first <= {FIRST_GOAL_S:g} s: {met1}/{len(rows)}; "
              f"analyze <= {WHOLE_GOAL_RATIO:g}x crash: {met2}/{len(rows)}")
        if prof:
            print("first answer, step by step (null): " + ", ".join(f"{k} {v:.2f}s" for k, v in prof.items()))
    return 0 if all(r["first_goal_met"] and r["analyze_goal_met"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
