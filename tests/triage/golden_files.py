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
        if path.exists():
            _refuse_rekey(path, json.loads(path.read_text())["answer"], json.loads(json.dumps(got)))
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


def _refuse_rekey(path: Path, want: Any, got: Any) -> None:
    """Bucket keys are versioned: ``--update-golden`` may add an algorithm's keys, never change the
    keys an algorithm id already gave (that would silently re-bucket stored crashes)."""
    if not (isinstance(want, list) and isinstance(got, list) and len(want) == len(got)):
        return  # a different set of reports: the rest of the answer changed, keys compare no more
    for i, (w, g) in enumerate(zip(want, got, strict=True)):
        old, new = w.get("signatures") or {}, g.get("signatures") or {}
        changed = sorted(alg for alg in old.keys() & new.keys() if old[alg] != new[alg])
        if changed and w.get("title") == g.get("title") and w.get("kind") == g.get("kind"):
            pytest.fail(
                f"{path.name} report {i}: keys changed under unchanged algorithm id(s) {changed}; "
                "register a new algorithm id in crashhub.classify._signature instead"
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
