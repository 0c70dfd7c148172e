"""Helpers shared by bench/dump_*.py: timing whole processes with their peak RSS, medians."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

VENV_BIN = Path(sys.executable).parent
CRASHHUB = str(VENV_BIN / "crashhub")
# The interpreter itself (not a pyenv shim that happens to be first on PATH) for the bare baseline.
PYTHON = os.path.realpath(sys.executable)

# Child processes run as installed software does: with byte-code caches.  PYTHONDONTWRITEBYTECODE
# (set in some shells) would make every run recompile crashhub and the stdlib it imports.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
ENV["PYTHONPYCACHEPREFIX"] = os.path.join(os.environ.get("TMPDIR", "/tmp"), "crashhub-bench-pycache")


def run_process(argv: list[str], stdin: Path | None = None, stdout: Path | None = None) -> tuple[float, int]:
    """Run argv; return (wall seconds, peak RSS in KiB) of that one process (wait4's rusage)."""
    fin = open(stdin, "rb") if stdin else subprocess.DEVNULL  # noqa: SIM115
    fout = open(stdout, "wb") if stdout else subprocess.DEVNULL  # noqa: SIM115
    try:
        t0 = time.perf_counter()
        p = subprocess.Popen(argv, stdin=fin, stdout=fout, stderr=subprocess.PIPE, env=ENV)
        _, status, usage = os.wait4(p.pid, 0)
        dt = time.perf_counter() - t0
    finally:
        for f in (fin, fout):
            if not isinstance(f, int):
                f.close()
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        err = p.stderr.read().decode(errors="replace") if p.stderr else ""
        raise SystemExit(f"{argv[0]} failed ({p.returncode}): {err[-500:]}")
    if p.stderr:
        p.stderr.close()
    return dt, usage.ru_maxrss


def median_of(n: int, fn: Callable[[], tuple[float, int]], before: Callable[[], None] | None = None
              ) -> tuple[float, int]:
    """Median time and max RSS over n runs (``before`` runs untimed before each, e.g. rm outputs)."""
    times, rss = [], 0
    for _ in range(n):
        if before:
            before()
        t, r = fn()
        times.append(t)
        rss = max(rss, r)
    return statistics.median(times), rss


def lab_runs() -> list[Path]:
    root = Path(os.environ.get("CRASHHUB_LAB_CACHE", Path.home() / ".cache" / "crashhub-lab")) / "runs"
    return sorted(p.parent for p in root.glob("*/*/*/manifest.json"))
