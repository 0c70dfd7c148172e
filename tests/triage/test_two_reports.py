"""Class 10 of issue 16: a log with a real bug and then a deliberate crash holds two crashes.

The lab's real 6.1 log: a module sleeps under a spinlock (``BUG: scheduling while atomic``, the
task then dies and reports it again on exit), a second later SysRq-c crashes the machine.  The
SysRq panic made the dump, but the bug is the earlier report: it is the primary (the crash's title
and bucket), the deliberate crash a report of its own in ``crashes`` wherever the crash is shown
(the CLI's JSON and text, the golden answer); the bug is named by the function that slept in
atomic context, not by the sleep primitive it called.  A SysRq-c with nothing before it stays the
primary (the lab's ``sysrq`` kind).
"""

from __future__ import annotations

import json

import pytest
from tests.labdata import LOGS

from crashhub.cli import main
from crashhub.triage import parse

LOG = LOGS / "6.1-atomic_sysrq-1.vmcore-dmesg.txt"


def test_the_earlier_bug_is_a_report_of_the_crash() -> None:
    bug, *others = parse(LOG.read_bytes())
    assert bug.title == "BUG: scheduling while atomic in crashmod_atomic_sleep"
    assert bug.guilty is not None and bug.guilty.module == "crashmod"
    assert not bug.fatal and not bug.corrupted
    sysrq = next(r for r in others if r.kind == "sysrq")
    assert sysrq.fatal and sysrq.guilty is not None and sysrq.guilty.function == "sysrq_handle_crash"
    assert bug.start_line < sysrq.start_line


def test_a_deliberate_crash_alone_stays_the_primary() -> None:
    (primary, *_) = parse((LOGS / "6.1-sysrq-1.vmcore-dmesg.txt").read_bytes())
    assert primary.kind == "sysrq" and primary.fatal


def test_every_view_lists_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["triage", "--json", str(LOG)]) == 0
    crashes = json.loads(capsys.readouterr().out)["crashes"]
    assert crashes[0]["guilty"] == {"function": "crashmod_atomic_sleep", "module": "crashmod"}
    assert "sysrq" in [c["kind"] for c in crashes[1:]]
    assert main(["triage", str(LOG)]) == 0
    assert "atomic_sleep: BUG: scheduling while atomic in crashmod_atomic_sleep" in capsys.readouterr().out
