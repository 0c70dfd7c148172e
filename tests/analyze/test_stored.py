"""Analyses stored before the typed models still read, render and re-check the same.

``tests/data/analysis/stored-6.1-hung.json`` is a row as the analysis job wrote it before
``AnalysisRecord`` existed (the lab's 6.1 hung-task dump, drgn and crash; long texts cut).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from crashhub.analyze import AnalysisRecord
from crashhub.analyze import _checks as checks
from crashhub.web.ui.views import analysis_view

STORED = Path(__file__).resolve().parents[1] / "data" / "analysis" / "stored-6.1-hung.json"


def _row() -> dict[str, Any]:
    row: dict[str, Any] = json.loads(STORED.read_text())
    return row


def test_stored_row_reads_back_with_its_shape() -> None:
    row = _row()
    rec = AnalysisRecord.from_dict(row)
    assert rec.status == "done" and rec.result is not None and rec.result.engine == "drgn"
    res = rec.result
    assert res.panic_task is not None and res.panic_task.comm == "khungtaskd"
    assert [f.id for f in res.findings] == ["hung-task", "tainted", "engine-crash-warning"]
    assert res.engines["crash"].section("outputs")["sys"]
    back = rec.to_dict()
    # Same keys, same values where the engines gave them (frames only gain None/False defaults).
    assert set(back["result"]) == set(row["result"])
    for key in ("panic_message", "findings", "engine", "tasks", "taint", "memory", "sys", "sources", "dump"):
        assert back["result"][key] == row["result"][key], key
    for old, new in zip(row["result"]["stack"], back["result"]["stack"], strict=True):
        assert {k: v for k, v in new.items() if k in old} == old
    assert AnalysisRecord.from_dict(back) == rec


def test_stored_row_renders_and_rechecks_the_same() -> None:
    row = _row()
    view = analysis_view(row)
    assert view["status"] == "done" and view["engine"] == "drgn"
    assert [f.claim for f in view["findings"]] == [f["title"] for f in row["result"]["findings"]]
    assert "crash sys" in view["outputs"]
    # The checks, now fed by triage's reading of the log, conclude what the old regexes did (the
    # command and culprit a finding gained since are new keys, not a change of conclusion).
    again = [{k: v for k, v in f.items() if k not in ("command", "culprit")}
             for f in checks.run_checks(row["result"])]
    assert again == row["result"]["findings"]


def test_rows_of_every_status() -> None:
    assert analysis_view({"status": "engine unavailable", "error": "no drgn"})["error"] == "no drgn"
    failed = AnalysisRecord.from_dict({"status": "failed", "error": "DebuginfoError: x", "started": 1.0,
                                       "seconds": 2.0, "vmlinux": None})
    assert failed.result is None and failed.to_dict()["seconds"] == 2.0
    # Garbage in a row (a hand-edited database) degrades to defaults instead of failing the page.
    odd = AnalysisRecord.from_dict({"status": "done", "result": {"stack": ["x", {"function": "f"}],
                                                                 "findings": [{"severity": "fatal"}]}})
    assert odd.result is not None and [f.function for f in odd.result.stack] == ["f"]
    assert odd.result.findings[0].severity == "info"
