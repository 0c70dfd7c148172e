"""``crashhub analyze CRASH_ID``: the hub's analysis job run on a stored crash, with the vmlinux taken
from the hub's debuginfo store (``crashhub debuginfo import``) by build-id."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any, cast

import pytest

from crashhub import config
from crashhub.analyze import AnalysisRecord
from crashhub.cli import main
from crashhub.jobs import analyze_crash_job, analyze_job
from crashhub.store import open_store


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

    # Fast first: the CLI's default is drgn alone.
    assert set(result["engines"]) == {"drgn"} and result["findings"]

    # The result is kept on the crash, as the API and the UI show it.
    assert main(["crash", "--data", str(data), "--json", crash_id]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["analysis"]["status"] == "done"

    # The hub's job: drgn's analysis stored, crash queued as the second job and merged in when done.
    hub = open_store(config.load(data, env={}))
    queue = _Recorder()
    summary = analyze_job(hub, {"crash_id": crash_id}, cast(Any, queue))
    assert summary["status"] == "done" and [k for k, _ in queue.sent] == ["analyze-crash"]
    first_row = AnalysisRecord.from_dict(_stored(hub, crash_id))
    assert first_row.result is not None and set(first_row.result.engines) == {"drgn"}
    assert analyze_crash_job(hub, queue.sent[0][1])["status"] == "done"
    both = AnalysisRecord.from_dict(_stored(hub, crash_id))
    assert both.result is not None and set(both.result.engines) == {"drgn", "crash"}
    assert both.result.engine == "drgn" and both.result.agreement is not None
    assert both.result.agreement["frames"]["same"], both.result.agreement
    assert both.started == first_row.started and (both.seconds or 0) > (first_row.seconds or 0)
    assert [f.id for f in both.result.findings][:1] == [f.id for f in first_row.result.findings][:1]
    # The setting turns the second job off.
    off = open_store(config.load(data, env={"CRASHHUB_ANALYZE_CRASH": "false"}))
    quiet = _Recorder()
    assert analyze_job(off, {"crash_id": crash_id}, cast(Any, quiet))["status"] == "done" and not quiet.sent


class _Recorder:
    """A queue that only records what is submitted."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def submit(self, kind: str, payload: dict[str, Any], key: str | None = None) -> str:
        self.sent.append((kind, payload))
        return f"job-{len(self.sent)}"


def _stored(hub: Any, crash_id: str) -> dict[str, Any]:
    crash = hub.store.crashes.get_crash(crash_id)
    assert crash is not None and crash.analysis
    return dict(crash.analysis)


def test_unknown_crash_id_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", "c0ffee", "--data", str(tmp_path / "data")]) == 2
    err = capsys.readouterr().err
    assert "c0ffee" in err and "no stored crash" in err and len(err.strip().splitlines()) == 1
