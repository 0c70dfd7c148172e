"""What a user sees: ``crashhub triage --json`` run once over many logs, its answers by path."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


def triage_json(paths: list[Path]) -> dict[str, list[dict[str, Any]]]:
    """Each path's ``crashes`` list (primary first) as the CLI prints it; one process for all."""
    cmd = [sys.executable, "-m", "crashhub.cli", "triage", "--json", *map(str, paths)]
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    done = subprocess.run(cmd, check=False, capture_output=True, text=True, cwd=REPO, env=env)
    out: dict[str, list[dict[str, Any]]] = {}
    for line in done.stdout.splitlines():
        row = json.loads(line)
        out[row["path"]] = row.get("crashes") or []
    missing = [p for p in map(str, paths) if p not in out]
    if missing:
        raise SystemExit(f"crashhub triage gave no answer for {missing[:3]}: {done.stderr[-500:]}")
    return out


def half(name: str) -> str:
    """A stable split of cases into halves 'a' and 'b' (fix on one, check on the other)."""
    return "ab"[hashlib.sha256(name.encode()).digest()[0] & 1]
