"""How fast crashhub.triage reads kernel logs, with GNU grep timed side by side as the reference.

Figures (medians of ``--runs`` runs after one warm-up, CPU time of this process, so a busy
machine does not inflate them):

1. logs per second per core over every log of the public corpus (../shared/corpus);
2. milliseconds for a 1 MiB ``vmcore-dmesg.txt``: a real lab log whose boot messages are repeated
   (with rising timestamps) until the ring holds 1 MiB, the crash at the end, as a big
   ``log_buf_len`` gives;
3. the same 1 MiB log with the oops repeated after every copy of the boot messages (a flapping
   machine's serial console: about 40 reports);
4. what a user runs: ``crashhub triage --json`` over the corpus's syzkaller cases in one process,
   per log beyond interpreter start (the process's CPU time minus a bare ``python -c pass``'s, with
   the package's bytecode compiled as an install leaves it), with the compiled regexps an earlier
   run left in ~/.cache/crashhub (``crashhub._regex``; the figure a user sees from the second run
   on) and without them (a cache directory that cannot be written: every run compiles),
   and the same command's work in-process (``crashhub.cli.main``, output to /dev/null).

Reference: ``grep -c -E`` over the same bytes with the header alternation; it only counts header
lines, so it is a floor for "read the log once", not a competitor that builds reports.

Run: ``/work/venv/bin/python bench/triage_speed.py [--runs 5]``.
"""

from __future__ import annotations

import argparse
import compileall
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from corpus_cases import corpus_dir, syzkaller_cases
from crashhub.triage import parse
from crashhub.triage._oops import HEADERS

SRC = Path(__file__).resolve().parent.parent / "src"
LAB_LOG = Path(__file__).resolve().parent.parent / "tests/triage/data/lab/6.1-null-1.vmcore-dmesg.txt"
_STAMP = re.compile(r"^\[ *(\d+\.\d+)\]", re.M)


def cpu_median(fn: Callable[[], object], runs: int) -> float:
    fn()  # warm-up: compiles the per-format regexps once
    times = []
    for _ in range(runs):
        t = time.process_time()
        fn()
        times.append(time.process_time() - t)
    return statistics.median(times)


def grep_median(paths: list[str], runs: int) -> float:
    pattern = "|".join(re.escape(h) for h in HEADERS)
    times = []
    for _ in range(runs + 1):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(["grep", "-c", "-E", pattern, "--", *paths], capture_output=True, check=False)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        times.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return statistics.median(times[1:])


def child_cpu_median(cmd: list[str], runs: int, home: str | None = None) -> float:
    """Median CPU time (user + system) of a child process, after one warm-up run; ``home``: the
    ``HOME`` it runs with (bin/crashhub keeps compiled regexps in ~/.cache/crashhub)."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent / "src")}
    if home is not None:
        env["HOME"] = home
    times = []
    for _ in range(runs + 1):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        # Exit status 1 only says some log held no crash (syzkaller's no-crash cases).
        done = subprocess.run(cmd, capture_output=True, check=False, env=env)
        if done.returncode not in (0, 1):
            raise SystemExit(f"{cmd[:4]}: exit {done.returncode}: {done.stderr[-300:]!r}")
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        times.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return statistics.median(times[1:])


def cli_figures(corpus: Path, runs: int) -> None:
    """``crashhub triage --json`` over the syzkaller cases: whole process and in-process."""
    from crashhub.cli import main as cli_main  # noqa: PLC0415

    with tempfile.TemporaryDirectory(prefix="triage-speed-") as tmp:
        paths = []
        for name, log, _row in syzkaller_cases(corpus):
            path = Path(tmp) / name.replace("/", "_")
            path.write_bytes(log)
            paths.append(str(path))
        # The command as installed (bin/crashhub, a plain script: no runpy, no pip wrapper).
        cmd = [sys.executable, str(SRC.parent / "bin" / "crashhub"), "triage", "--json", *paths]
        # An installed crashhub has its bytecode written by pip; a checkout run with
        # PYTHONDONTWRITEBYTECODE=1 would recompile ~30 modules (~30 ms) in every process.
        compileall.compile_dir(str(SRC / "crashhub"), quiet=1)
        home = Path(tmp) / "home"
        home.mkdir()
        whole = child_cpu_median(cmd, runs, home=str(home))  # the warm-up run fills ~/.cache/crashhub
        blocker = Path(tmp) / "home-without-a-cache"
        (blocker / ".cache").parent.mkdir()
        (blocker / ".cache").write_bytes(b"")  # a file: no cache directory can be made under it
        cold = child_cpu_median(cmd, runs, home=str(blocker))
        bare = child_cpu_median([sys.executable, "-c", "pass"], runs, home=str(home))

        def in_process() -> None:
            with open(os.devnull, "w") as sink:
                saved, sys.stdout = sys.stdout, sink
                try:
                    cli_main(["triage", "--json", *paths])
                finally:
                    sys.stdout = saved

        inside = cpu_median(in_process, runs)
    n = len(paths)
    print(f"crashhub triage --json, {n} syzkaller logs in one process: {whole * 1000:.0f} ms CPU, "
          f"interpreter start {bare * 1000:.0f} ms: {(whole - bare) * 1000 / n:.2f} ms per log beyond "
          f"start ({(cold - bare) * 1000 / n:.2f} without the regexp cache, {cold * 1000:.0f} ms); "
          f"in-process {inside * 1000 / n:.2f} ms per log")


def _restamp(text: str, shift: float) -> str:
    return _STAMP.sub(lambda m: f"[{float(m.group(1)) + shift:12.6f}]", text)


def one_mib_log(oopses: int = 0) -> bytes:
    text = LAB_LOG.read_text()
    crash_at = text.index("BUG: kernel NULL pointer dereference")
    crash_at = text.rindex("\n", 0, crash_at) + 1
    boot, crash = text[:crash_at], text[crash_at:]
    out: list[str] = []
    size = 0
    shift = 0.0
    n = 0
    while size < (1 << 20) - len(crash):
        chunk = _restamp(boot, shift)
        if oopses and n % max(1, ((1 << 20) // len(boot)) // oopses + 1) == 0:
            chunk += _restamp(crash, shift)
        out.append(chunk)
        size += len(chunk)
        shift += 30.0
        n += 1
    out.append(_restamp(crash, shift))
    return "".join(out).encode()[: 1 << 20]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    corpus = corpus_dir()
    if corpus is None:
        print("corpus ../shared/corpus is absent", file=sys.stderr)
        return 2
    skip = (".md", ".jsonl", ".json")
    paths = sorted(str(p) for p in corpus.rglob("*") if p.is_file() and not p.name.endswith(skip))
    logs = [Path(p).read_bytes() for p in paths]
    total = sum(map(len, logs))

    def all_logs() -> None:
        for data in logs:
            parse(data)

    t = cpu_median(all_logs, args.runs)
    g = grep_median(paths, args.runs)
    print(f"corpus: {len(logs)} logs, {total / 1e6:.1f} MB: {len(logs) / t:,.0f} logs/s/core "
          f"({t * 1000:.0f} ms; grep -c -E reference {g * 1000:.0f} ms)")

    for label, data in (("1 MiB vmcore-dmesg.txt, 1 crash", one_mib_log()),
                        ("1 MiB log, an oops after every boot", one_mib_log(200))):
        n = len(parse(data))
        t = cpu_median(lambda d=data: parse(d), args.runs)  # type: ignore[misc]
        with tempfile.NamedTemporaryFile(suffix=".txt", delete=False) as fh:
            fh.write(data)
        try:
            g = grep_median([fh.name], args.runs)
        finally:
            os.unlink(fh.name)
        print(f"{label}: {t * 1000:.1f} ms ({n} reports; grep -c -E reference {g * 1000:.1f} ms)")
    cli_figures(corpus, args.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
