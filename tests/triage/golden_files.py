"""Golden files: ``tests/triage/golden/<corpus>/<case>.json`` hold our answer (never the log)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

GOLDEN = Path(__file__).resolve().parent / "golden"


def _dumps(doc: dict[str, Any]) -> str:
    """One line per report: small files whose diffs read well."""
    head = {k: v for k, v in doc.items() if k != "answer"}
    lines = [json.dumps(r, sort_keys=True) for r in doc["answer"]] if isinstance(doc["answer"], list) else []
    body = ",\n  ".join(lines)
    return (
        (json.dumps(head, sort_keys=True)[:-1] + ', "answer": [\n  ' + body + "\n]}\n")
        if lines
        else json.dumps(doc, sort_keys=True) + "\n"
    )


def check_golden(corpus: str, case: str, got: Any, update: bool, note: str | None = None) -> None:
    """Compare ``got`` with the stored answer; with ``--update-golden`` rewrite it instead."""
    path = GOLDEN / corpus / (case.replace("/", "__") + ".json")
    doc = {"case": case, "note": note, "answer": got}
    if update:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_dumps(doc))
        return
    if not path.exists():
        pytest.fail(f"no golden file {path.relative_to(GOLDEN.parent)}; run pytest --update-golden")
    want = json.loads(path.read_text())["answer"]
    got = json.loads(json.dumps(got))
    if got != want:
        pytest.fail(
            f"answer changed for {corpus}/{case} (pytest --update-golden to accept):\n"
            + "\n".join(_diff(want, got, "answer")[:20])
        )


def _diff(want: Any, got: Any, where: str) -> list[str]:
    if isinstance(want, dict) and isinstance(got, dict):
        out: list[str] = []
        for k in sorted(set(want) | set(got)):
            out += _diff(want.get(k), got.get(k), f"{where}.{k}")
        return out
    if isinstance(want, list) and isinstance(got, list) and len(want) == len(got):
        return [
            d for i, (a, b) in enumerate(zip(want, got, strict=True)) for d in _diff(a, b, f"{where}[{i}]")
        ]
    return [] if want == got else [f"  {where}: {want!r} -> {got!r}"]
