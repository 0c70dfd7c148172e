"""Analysis jobs: queued for the first dumps of a bucket, run by the local workers, recorded on the crash."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from crashhub import analyze as analyze_mod
from crashhub import config, triage
from crashhub.analyze import Analysis
from crashhub.ingest import Pipeline, ingest_path
from crashhub.jobs import LocalQueue
from crashhub.jobs import _handlers as handlers
from crashhub.knowledge import KnowledgeBase
from crashhub.model import CrashReport
from crashhub.store import open_store

from .conftest import crash_dir


def _pipeline(tmp_path: Path, **settings: Any) -> tuple[Pipeline, LocalQueue]:
    hub = open_store(config.load(tmp_path / "data", env={}, **settings))
    kb = KnowledgeBase(hub.settings.kb_path)
    q = LocalQueue(hub.store, workers=0)
    handlers.register(q, hub, kb)
    return Pipeline(hub, kb, q), q


@pytest.mark.lab
def test_engine_unavailable_is_recorded(lab: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "crashhub.analyze", None)  # import fails as if not installed
    p, q = _pipeline(tmp_path, analyze_first=1)
    run = lab.crash("6.1", "null")
    one = ingest_path(p, crash_dir(run, "rhel"))
    two = ingest_path(p, crash_dir(lab.crash("6.1", "null", instance=2), "rhel"))
    assert q.depth() == 1  # only the bucket's first dump is analysed
    assert q.drain(30)
    c = p.hub.store.crashes.get_crash(one.crash.id)
    assert c is not None and c.analysis is not None and c.analysis["status"] == "engine unavailable"
    assert p.hub.store.crashes.get_crash(two.crash.id).analysis is None  # type: ignore[union-attr]
    (job,) = p.hub.store.jobs.list_jobs(state="done")
    assert job.kind == "analyze" and job.payload == {"crash_id": one.crash.id}


@pytest.mark.lab
@pytest.mark.slow
def test_analysis_runs_with_vmlinux(lab: Any, tmp_path: Path) -> None:
    run = lab.crash("6.1", "null")
    p, q = _pipeline(
        tmp_path, analyze_first=1, vmlinux_dir=str(Path(run.vmlinux).parent), analyze_timeout=600
    )
    o = ingest_path(p, crash_dir(run, "rhel"))
    assert q.drain(900)
    c = p.hub.store.crashes.get_crash(o.crash.id)
    assert c is not None and c.analysis is not None
    assert c.analysis["status"] == "done", c.analysis
    assert c.analysis["vmlinux"] == str(run.vmlinux)
    assert isinstance(c.analysis["result"], dict) and c.analysis["result"]


@pytest.mark.lab
def test_analyze_sees_the_stored_report(lab: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The job hands analyze the report the crash was bucketed by, from the store; the log is not
    triaged again (triage.parse would fail the job)."""
    seen: list[tuple[CrashReport, ...]] = []

    def spy(dump: Path, *, reports: Sequence[CrashReport] | None = None, **_kw: Any) -> Analysis:
        assert reports is not None, "the job left analyze to derive the reports itself"
        seen.append(tuple(reports))
        return Analysis(engine="log", panic_message=reports[0].panic_message if reports else None)

    p, q = _pipeline(tmp_path, analyze_first=1)
    o = ingest_path(p, crash_dir(lab.crash("6.1", "null"), "rhel"))
    stored = p.hub.store.crashes.get_crash(o.crash.id)
    assert stored is not None and stored.report is not None and stored.reports >= 1

    def no_triage(*_a: Any, **_kw: Any) -> None:
        raise AssertionError("the analysis job triaged the log again")

    monkeypatch.setattr(analyze_mod, "analyze", spy)
    monkeypatch.setattr(triage, "parse", no_triage)
    assert q.drain(30)
    assert seen == [(CrashReport.from_dict(stored.report),)]
    assert seen[0][0].kind == "null_deref" and seen[0][0].title == stored.title
    c = p.hub.store.crashes.get_crash(o.crash.id)
    assert c is not None and c.analysis is not None and c.analysis["status"] == "done"
