"""The long run of the parser fuzzing campaign: every target of tests/security/targets.py for a while.

Each parser runs in a child process of its own (so its peak RSS is its own) and prints one row:
executions, executions per second, inputs refused with a documented error, unique failures (another
exception, or a documented one in more than ``--slow`` seconds; unique by type, file and line),
the slowest input, and the child's peak RSS.  The suite runs the same targets with a small budget
(tests/security/test_fuzz_parsers.py).

Run: ``.venv/bin/python bench/fuzz.py [--seconds 60] [--only rpm,deb] [--save DIR]``.
A failing input is written to ``DIR/<parser>-<n>.bin`` with ``--save``; exit status 1 on any failure.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "src")]


@dataclass
class Row:
    parser: str
    execs: int = 0
    refused: int = 0  # a documented error (the parser said no, cleanly)
    failures: dict[str, str] = field(default_factory=dict)  # unique key -> message
    slowest_ms: float = 0.0
    seconds: float = 0.0
    peak_rss_mib: float = 0.0


def _key(e: BaseException) -> str:
    frames = traceback.extract_tb(e.__traceback__)
    where = next((f for f in reversed(frames) if "/crashhub/" in f.filename), frames[-1] if frames else None)
    return f"{type(e).__name__} at {Path(where.filename).name}:{where.lineno}" if where else type(e).__name__


def child(name: str, seconds: float, slow: float, save: Path | None) -> Row:
    """Fuzz one target for ``seconds`` in batches of Hypothesis runs; findings are caught, not shrunk."""
    from hypothesis import HealthCheck, given, settings  # noqa: PLC0415
    from tests.security import targets  # noqa: PLC0415
    from tests.security.mutate import near  # noqa: PLC0415

    row = Row(name)
    seeds = targets.seeds(name)
    end = time.monotonic() + seconds
    tmp = Path(tempfile.mkdtemp(prefix=f"fuzz-{name}-"))

    def one(data: bytes) -> None:
        t0 = time.perf_counter()
        try:
            err = targets.check(name, data, tmp)
            row.refused += err is not None
            took = time.perf_counter() - t0
            if took > slow:
                raise TimeoutError(f"{took:.1f} s for {len(data)} bytes")
        except Exception as e:
            k = _key(e)
            if k not in row.failures:
                row.failures[k] = str(e)[:200]
                if save is not None:
                    save.mkdir(parents=True, exist_ok=True)
                    (save / f"{name}-{len(row.failures)}.bin").write_bytes(data)
        row.execs += 1
        row.slowest_ms = max(row.slowest_ms, (time.perf_counter() - t0) * 1000)

    @settings(max_examples=200, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(near(seeds))
    def batch(data: bytes) -> None:
        if time.monotonic() < end:
            one(data)

    t0 = time.monotonic()
    while time.monotonic() < end:
        batch()
    row.seconds = time.monotonic() - t0
    row.peak_rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return row


def main() -> int:
    from tests.security.targets import TARGETS  # noqa: PLC0415

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=60.0, help="per parser (default 60)")
    ap.add_argument("--only", default="", help=f"comma-separated parsers (default all: {','.join(TARGETS)})")
    ap.add_argument("--slow", type=float, default=5.0, help="an input slower than this is a failure")
    ap.add_argument("--save", type=Path, help="write failing inputs here")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        warnings.simplefilter("ignore")
        import logging  # noqa: PLC0415

        logging.disable(logging.CRITICAL)  # python-multipart logs every malformed body
        print(json.dumps(asdict(child(a.child, a.seconds, a.slow, a.save))))
        return 0
    names = [n for n in a.only.split(",") if n] or list(TARGETS)
    print(f"{'parser':<11}{'execs':>8}{'exec/s':>8}{'refused':>9}{'failures':>9}{'slowest ms':>11}"
          f"{'peak RSS MiB':>13}")
    failed = 0
    for name in names:
        argv = [sys.executable, __file__, "--child", name, "--seconds", str(a.seconds), "--slow", str(a.slow)]
        if a.save:
            argv += ["--save", str(a.save)]
        out = subprocess.run(argv, capture_output=True, text=True, check=False)
        if out.returncode != 0:
            print(f"{name:<11} child failed: {out.stderr.strip()[-500:]}")
            failed += 1
            continue
        r = Row(**json.loads(out.stdout.strip().splitlines()[-1]))
        print(f"{r.parser:<11}{r.execs:>8}{r.execs / max(r.seconds, 1e-9):>8.0f}{r.refused:>9}"
              f"{len(r.failures):>9}{r.slowest_ms:>11.1f}{r.peak_rss_mib:>13.1f}")
        for k, msg in r.failures.items():
            print(f"    {k}: {msg}")
        failed += len(r.failures)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
