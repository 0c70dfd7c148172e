"""``crashhub analyze CRASH_ID``: the hub's analysis job run on a stored crash, with the vmlinux taken
from the hub's debuginfo store (``crashhub debuginfo import``) by build-id."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from crashhub.cli import main


def _crash_id(data: Path) -> str:
    row = sqlite3.connect(data / "crashhub.db").execute("select id from crashes").fetchone()
    return str(row[0])


@pytest.mark.lab
@pytest.mark.slow
def test_analyze_a_stored_crash(lab: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = lab.crash("6.1", "null")
    data = tmp_path / "data"
    assert main(["ingest", "--data", str(data), str(run.path("rhel/vmcore").parent)]) == 0
    crash_id = _crash_id(data)
    capsys.readouterr()

    # No debuginfo yet: the job runs, says what it lacks, and still reads the log and the dump.
    assert main(["analyze", crash_id, "--data", str(data), "--json"]) in (0, 1)
    first = json.loads(capsys.readouterr().out)
    assert first["status"] in ("done", "failed")

    assert main(["debuginfo", "--data", str(data), "import", str(run.vmlinux)]) == 0
    capsys.readouterr()
    assert main(["analyze", crash_id, "--data", str(data), "--json"]) == 0
    stored = json.loads(capsys.readouterr().out)
    assert stored["status"] == "done"
    result = stored["result"]
    assert result["debuginfo"]["ok"] is True
    assert result["panic_task"]["comm"] == run.manifest["expected"]["comm"]
    assert result["panic_task"]["pid"] == run.manifest["expected"]["pid"]
    assert any(f.get("file") for f in result["stack"]), "no frame got file:line from the imported vmlinux"

    # The result is kept on the crash, as the API and the UI show it.
    assert main(["crash", "--data", str(data), "--json", crash_id]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["analysis"]["status"] == "done"


def test_unknown_crash_id_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", "c0ffee", "--data", str(tmp_path / "data")]) == 2
    err = capsys.readouterr().err
    assert "c0ffee" in err and "no stored crash" in err and len(err.strip().splitlines()) == 1
