"""Real lab crashes kept in the repository, for the quick tier (``pytest -m "not lab"``).

- the logs: ``tests/triage/data/lab/<kernel>-<kind>-<n>.vmcore-dmesg.txt`` with ``.expected.json`` (what
  the lab knew of each run from its manifest);
- one crash with its dump: ``tests/data/minidump/6.1-null/`` (``python -m lab minidump``: a 6.1
  ``makedumpfile -E -d 31`` vmcore cut down to the ~25 pages the hub reads at ingest, ~100 KB, with
  the capture's own log and the lab's manifest).

Each case is laid out on demand as a RHEL crash directory (``<ip>-<YYYY-MM-DD-HH:MM:SS>/``) so the hub
ingests it exactly as it ingests a lab run.  The releases are the ones these files were made on: the
lab tier and ``python -m lab refresh`` check today's kernels.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

TESTS = Path(__file__).resolve().parent
LOGS = TESTS / "triage" / "data" / "lab"
MINIDUMP = TESTS / "data" / "minidump" / "6.1-null"


@dataclass(frozen=True)
class Case:
    """One real crash: its log, its dump when one is kept, and what the lab knew of it."""

    kernel: str  # the lab's family key: "6.1", "6.12"
    kind: str  # the lab's kind: "null", "hung", ...
    release: str
    log: Path
    dump: Path | None
    crash_dir_name: str  # RHEL's "<ip>-<date>" directory name
    expected: dict[str, object]

    def crash_dir(self, root: Path) -> Path:
        """The crash laid out under ``root`` as kdump wrote it (the dump hard-linked when possible)."""
        d = root / f"{self.kernel}-{self.kind}" / self.crash_dir_name
        if not d.exists():
            d.mkdir(parents=True)
            shutil.copyfile(self.log, d / "vmcore-dmesg.txt")
            if self.dump is not None:
                shutil.copyfile(self.dump, d / "vmcore")
        return d


def case(kernel: str, kind: str, n: int = 1) -> Case:
    """The kept crash of ``kind`` on ``kernel`` (with its dump for 6.1/null, the log alone otherwise)."""
    if (kernel, kind, n) == ("6.1", "null", 1):
        m = json.loads((MINIDUMP / "manifest.json").read_text())
        return Case(kernel, kind, m["release"], MINIDUMP / "vmcore-dmesg.txt", MINIDUMP / "vmcore",
                    m["crash_dir"], m["expected"])
    stem = f"{kernel}-{kind}-{n}"
    expected = json.loads((LOGS / f"{stem}.expected.json").read_text())
    # A distinct, valid RHEL directory name per case: the minute says which case it is.
    minute = sorted(p.name for p in LOGS.glob("*.vmcore-dmesg.txt")).index(f"{stem}.vmcore-dmesg.txt")
    name = f"127.0.0.1-2026-11-26-{minute // 60:02d}:{minute % 60:02d}:00"
    return Case(kernel, kind, expected["release"], LOGS / f"{stem}.vmcore-dmesg.txt", None, name, expected)
