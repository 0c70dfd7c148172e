"""Class 8 of issue 16: an unknown NMI on a hung machine and one on an idle machine are two bugs.

The lab's real 6.1 logs (``unknown_nmi_panic=1``, ``panic_print=0x40``: panic() prints every CPU's
backtrace): in one, CPU 1 spins with interrupts off while CPU 0 waits for its IPI when the host's
NMI comes; in the other both CPUs idle.  Both used to be ``NMI: unknown reason`` with no guilty
frame, one bucket.  The spinning CPU's function names the first; the second names none.  Without
the all-CPU backtrace (no ``panic_print``), the NMI'd CPU's own dump is all there is: a CPU waiting
for another's IPI is named, an idle one is not.
"""

from __future__ import annotations

from tests.labdata import LOGS

from crashhub.classify import signature
from crashhub.triage import parse

HUNG = (LOGS / "6.1-nmi-1.vmcore-dmesg.txt").read_text()
IDLE = (LOGS / "6.1-nmi_idle-1.vmcore-dmesg.txt").read_text()


def _without_all_cpu_backtrace(text: str) -> str:
    cut = text.index("NMI backtrace for cpu 0")
    return text[: text.rindex("\n", 0, cut) + 1]


def test_the_hung_machine_names_the_spinning_function() -> None:
    r = parse(HUNG)[0]
    assert (r.kind, r.title) == ("nmi", "NMI: unknown reason in crashmod_irqoff_spin")
    assert r.guilty is not None and r.guilty.module == "crashmod"
    assert r.fatal and r.panic_message == "Kernel panic - not syncing: NMI: Not continuing"
    assert not r.corrupted


def test_the_idle_machine_names_none() -> None:
    r = parse(IDLE)[0]
    assert (r.kind, r.title, r.guilty) == ("nmi", "NMI: unknown reason", None)
    assert not r.corrupted and r.process is not None and r.process.comm == "swapper/0"


def test_two_bugs_two_buckets() -> None:
    assert signature(parse(HUNG)[0]).key != signature(parse(IDLE)[0]).key


def test_without_the_other_cpus_the_waiting_cpu_is_named() -> None:
    r = parse(_without_all_cpu_backtrace(HUNG))[0]
    assert r.title == "NMI: unknown reason in smp_call_function_single"
    idle = parse(_without_all_cpu_backtrace(IDLE))[0]
    assert (idle.title, idle.guilty) == ("NMI: unknown reason", None)
