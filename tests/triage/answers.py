"""The project's answer for a log, as stored in golden files: compact, stable, reviewable."""

from __future__ import annotations

from typing import Any

from crashhub.classify import ALGORITHM, ALGORITHMS
from crashhub.model import CrashReport, Frame


def _frame(f: Frame | None) -> str | None:
    if f is None:
        return None
    name = f.function or (f"{f.address:#x}" if f.address is not None else "?")
    return name + (f" [{f.module}]" if f.module else "") + ("" if f.reliable else " ?")


def report_answer(r: CrashReport) -> dict[str, Any]:
    return {
        "lines": [r.start_line, r.end_line],
        "kind": r.kind,
        "title": r.title,
        "fatal": r.fatal,
        "corrupted": r.corrupted_reason,
        "guilty": _frame(r.guilty),
        "rip": _frame(r.rip),
        "frames": len(r.frames),
        "top": [_frame(f) for f in r.frames[:4]],
        "process": [r.process.comm, r.process.pid] if r.process else None,
        "cpu": r.cpu,
        "taint": r.taint.letters if r.taint else None,
        "modules": len(r.modules),
        "release": r.release,
        "arch": r.arch,
        "panic": r.panic_message,
        # The current algorithm's key, so no grouping change goes unnoticed.  Only the current one: an
        # id names the whole recipe, triage's part included, so once triage changes an older id
        # cannot give its old keys back (tests/classify/test_golden_keys.py guards the current id).
        "signatures": {ALGORITHM: ALGORITHMS[ALGORITHM](r).key},
    }


def answer(reports: list[CrashReport]) -> list[dict[str, Any]]:
    return [report_answer(r) for r in reports]
