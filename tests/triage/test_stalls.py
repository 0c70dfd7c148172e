"""Class 2 of issue 16: an RCU stall's guilty frame is the function on the stalled CPU's RIP line.

A self-detected stall (6.x: ``rcu: INFO: rcu_preempt self-detected stall on CPU``) dumps the stalled
CPU's registers: its ``RIP:`` line names the looping function and the trace below holds only that
function's callers (a kthread's: ``kthread``, ``ret_from_fork``).  The guilty frame is that function
whatever it is called, never the dispatch point under it, with or without the panic
``panic_on_rcu_stall`` adds; the logs are the lab's real 6.1 and 6.12 stalls.
"""

from __future__ import annotations

import pytest
from tests.labdata import LOGS

from crashhub.classify import signature
from crashhub.triage import parse

KERNELS = ("6.1", "6.12")
# The looping function's name as the lab's module has it, and names the stall format's own skip
# list matches ("rcu", meant for the RCU machinery's frames: rcutorture's stall is rcu_torture_stall).
NAMES = ("crashmod_spin", "crashmod_rcu_spin", "rcu_torture_stall")


def _stall_log(kernel: str, panic: bool) -> str:
    text = (LOGS / f"{kernel}-rcu_stall-1.vmcore-dmesg.txt").read_text()
    if not panic:  # a fleet without panic_on_rcu_stall: the stall report is all the log has
        text = text[: text.index("Kernel panic - not syncing: RCU Stall")]
        text = text[: text.rindex("\n") + 1]
    return text


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("panic", (True, False), ids=("panic", "no-panic"))
@pytest.mark.parametrize("name", NAMES)
def test_self_detected_stall_names_the_rip_function(kernel: str, panic: bool, name: str) -> None:
    text = _stall_log(kernel, panic).replace("crashmod_spin+", f"{name}+")
    (r,) = parse(text)
    assert r.kind == "rcu_stall" and "self-detected stall" in r.message
    assert r.guilty is not None and r.guilty.function == name, r.title
    assert r.title == f"INFO: rcu detected stall in {name}"
    assert r.guilty.module == "crashmod" and r.fatal == panic
    assert not r.corrupted


@pytest.mark.parametrize("kernel", KERNELS)
def test_one_bucket_with_or_without_the_panic(kernel: str) -> None:
    a, b = parse(_stall_log(kernel, True))[0], parse(_stall_log(kernel, False))[0]
    assert signature(a).key == signature(b).key


def test_a_lock_primitive_on_the_rip_line_names_its_caller() -> None:
    """The global skip list still applies to the RIP: a CPU spinning in a lock primitive has the
    function that took the lock under it in the trace, and that function is the answer."""
    text = _stall_log("6.1", False).replace("RIP: 0010:crashmod_spin+", "RIP: 0010:_raw_spin_lock+")
    text = text.replace("<TASK>\n", "<TASK>\n[   12.484347]  crashmod_spin+0x18/0x20 [crashmod]\n", 1)
    (r,) = parse(text)
    assert r.guilty is not None and r.guilty.function == "crashmod_spin"
