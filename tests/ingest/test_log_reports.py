"""Every report of a crash's log kept with the crash (migration 0014), and re-derived for older crashes.

The real lab log of ``atomic_sysrq``: a module sleeps under a spinlock (``BUG: scheduling while
atomic``, reported again when the task exits), a second later SysRq-c crashes the machine.  Triage
makes the BUG the primary; the crash keeps all three reports in log order.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import delete
from tests.labdata import LOGS, case

from crashhub import config
from crashhub.ingest import Pipeline, crash_reports, ingest_path, panic_line
from crashhub.ingest._reports import in_log_order, log_reports_of
from crashhub.knowledge import KnowledgeBase
from crashhub.store import _models as m
from crashhub.store import open_store
from crashhub.triage import parse

LOG = LOGS / "6.1-atomic_sysrq-1.vmcore-dmesg.txt"


def test_log_order_puts_the_primary_back_where_the_log_has_it() -> None:
    found = parse(LOG.read_bytes())
    assert found[0].kind == "atomic_sleep"  # triage: the primary first
    ordered = in_log_order(found)
    assert [r.report.start_line for r in ordered] == sorted(r.start_line for r in found)
    assert [(r.report.kind, r.primary) for r in ordered] == [
        ("atomic_sleep", True), ("atomic_sleep", False), ("sysrq", False)]
    assert in_log_order([]) == ()


def test_panic_line_is_the_folded_panic_or_the_report_itself() -> None:
    *_, sysrq = in_log_order(parse(LOG.read_bytes()))
    assert panic_line(sysrq.report) == "Kernel panic - not syncing: sysrq triggered crash"
    (hung,) = parse((LOGS / "6.1-hung-1.vmcore-dmesg.txt").read_bytes())
    assert panic_line(hung) == "Kernel panic - not syncing: hung_task: blocked tasks"
    bug, *_ = parse(LOG.read_bytes())
    assert panic_line(bug) is None  # the BUG did not panic: SysRq-c did, a second later


def test_the_pipeline_stores_every_report(tmp_path: Path) -> None:
    hub = open_store(config.load(tmp_path / "data", env={}, workers=0))
    try:
        pipe = Pipeline(hub, KnowledgeBase(hub.settings.kb_path))
        d = case("6.1", "atomic_sysrq").crash_dir(tmp_path / "in")
        c = ingest_path(pipe, d / "vmcore-dmesg.txt", source="cli").crash
        kept = hub.store.crashes.log_reports(c.id)
        assert [(r.report.title, r.primary) for r in kept] == [
            ("BUG: scheduling while atomic in crashmod_atomic_sleep", True),
            ("BUG: scheduling while atomic in do_task_dead", False),
            ("kernel panic: sysrq triggered crash", False),
        ]
        assert c.reports == 3 and kept[0].report.to_dict() == c.report

        # A crash stored before 0014 has no rows: its reports come back from its log when read.
        with hub.store.crashes._write() as s:  # type: ignore[attr-defined]
            s.execute(delete(m.CrashLogReport).where(m.CrashLogReport.crash_id == c.id))
        assert hub.store.crashes.log_reports(c.id) == ()
        assert crash_reports(hub.store.crashes, hub.blobs, c) == kept
    finally:
        hub.close()


def test_without_rows_or_log_the_primary_alone() -> None:
    bug, *_ = parse(LOG.read_bytes())
    logs = [("log", "d" * 64)]
    only = log_reports_of((), bug.to_dict(), logs, lambda _d: None)
    assert [(r.report, r.primary) for r in only] == [(bug, True)]
    assert log_reports_of((), None, logs, lambda _d: None) == ()
    # The log that was sent is parsed before the one read out of the dump.
    got = log_reports_of((), None, [("log_from_dump", "x"), ("log", "y")],
                         lambda d: LOG.read_bytes() if d == "y" else b"nothing here")
    assert len(got) == 3
