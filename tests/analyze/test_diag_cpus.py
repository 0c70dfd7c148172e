"""CPU diagnoses (``_diag_cpus``): unit tests on the ``cpu_waits`` section of real lab dumps, then
lab golden tests that make the dumps and check the culprit against what the lab and the log know.

The fixtures in tests/data/cpu_waits/ are the section as the drgn engine wrote it for one lab run
of each kind (see each file's ``source``), with the log's watchdog lines and the panic message.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest

from crashhub.analyze import _checks as checks
from crashhub.analyze import analyze
from crashhub.analyze._diag_cpus import CpuWaits

DATA = Path(__file__).resolve().parents[1] / "data" / "cpu_waits"
LOCKUP_IDS = ("hard-lockup", "soft-lockup", "rcu-stall", "nmi-idle")


def _fixture(name: str) -> dict[str, Any]:
    d: dict[str, Any] = json.loads((DATA / f"{name}.json").read_text())
    return d


def _findings(fx: dict[str, Any], section: Any = None, log: str | None = None) -> list[dict[str, Any]]:
    a = {"log": "\n".join(fx["log_lines"]) if log is None else log, "panic_message": fx["panic_message"],
         "engines": {"drgn": {"engine": "drgn", "ok": True,
                              "cpu_waits": fx["cpu_waits"] if section is None else section}}}
    return [f for f in checks.run_checks(a) if f["id"] in LOCKUP_IDS]


def _cpu(section: dict[str, Any], n: int) -> dict[str, Any]:
    return next(c for c in section["cpus"] if c["cpu"] == n)


@pytest.mark.parametrize("name", ["6.1-nmi", "6.12-nmi"])
def test_stuck_ipi_names_the_cpu_with_interrupts_off(name: str) -> None:
    fx = _fixture(name)
    [f] = _findings(fx)
    target = _cpu(fx["cpu_waits"], 1)
    assert f["id"] == "hard-lockup" and f["severity"] == "error"
    assert f["culprit"] == {"function": fx["expected"]["culprit_function"], "cpu": 1, "pid": target["pid"],
                            "comm": "crashmod_irqoff"}
    csd = fx["cpu_waits"]["csd_waits"][0]["csd"]
    assert f["title"] == (f"hard lockup: CPU 1 ran crashmod_irqoff_spin() with interrupts off "
                          f"(pid {target['pid']} crashmod_irqoff); CPU 0 waits for it in csd_lock_wait "
                          f"(smp_call_function_single), csd {csd:#x} dst=1")
    assert any("EFLAGS 0x46 (IF=0)" in e for e in f["evidence"])
    assert f"{csd:#x}" in f["command"] and "call_single_queue" in f["command"]


def test_target_unknown_still_blames_the_irqs_off_cpu() -> None:
    # When neither the csd nor a queued entry gives the target (csd optimized out, queue drained),
    # the NMI's stop still shows which other CPU ran with interrupts off.
    fx = _fixture("6.1-nmi")
    section = copy.deepcopy(fx["cpu_waits"])
    for w in section["csd_waits"]:
        w.pop("target"), w.pop("csd")
    [f] = _findings(fx, section)
    assert f["id"] == "hard-lockup" and f["culprit"]["function"] == "crashmod_irqoff_spin"
    assert "when the NMI came" in f["detail"]


def test_target_with_interrupts_on_is_a_stuck_ipi_not_a_hard_lockup() -> None:
    fx = _fixture("6.12-nmi")
    section = copy.deepcopy(fx["cpu_waits"])
    _cpu(section, 1).update(rflags=0x246, irqs_off=False)
    [f] = _findings(fx, section)
    assert f["title"].startswith(
        "stuck IPI: CPU 0 waits in csd_lock_wait (smp_call_function_single) for CPU 1")
    assert "with interrupts on" in f["title"]


def test_nmi_with_every_cpu_idle_blames_no_function() -> None:
    fx = _fixture("6.1-nmi_idle")
    [f] = _findings(fx)
    assert f["id"] == "nmi-idle" and "culprit" not in f
    assert f["title"].startswith("NMI from outside the kernel while every CPU was idle (CPU 0 swapper/0 in ")
    assert f["title"].endswith("no kernel function to blame")


def test_soft_lockup_names_the_looping_function() -> None:
    fx = _fixture("6.1-softlockup")
    [f] = _findings(fx)
    m = re.search(r"CPU#(\d+) .*:(\d+)\]", fx["log_lines"][0])
    assert m
    cpu, pid = int(m.group(1)), int(m.group(2))
    assert f["id"] == "soft-lockup"
    assert f["culprit"] == {"function": "crashmod_spin", "cpu": cpu, "pid": pid, "comm": "crashmod_spin"}
    assert f"soft lockup: CPU {cpu} stuck for 13 s in crashmod_spin() with preemption off" in f["title"]
    assert any("watchdog last ran 13 s before the dump" in e for e in f["evidence"])


def test_soft_lockup_found_in_the_dump_when_the_log_lost_its_line() -> None:
    fx = _fixture("6.1-softlockup")
    assert "softlockup" in fx["panic_message"]
    [f] = _findings(fx, log="")
    assert f["title"].startswith("soft lockup: CPU 1 stuck for 13 s in crashmod_spin() with preemption off")
    assert f["culprit"]["function"] == "crashmod_spin" and f["evidence"][0].startswith("panic: ")
    assert _findings(dict(fx, panic_message="sysrq triggered crash"), log="") == []


def test_soft_lockup_on_a_held_spinlock_names_the_holder() -> None:
    fx = _fixture("6.1-spin_held")
    [f] = _findings(fx)
    holder = _cpu(fx["cpu_waits"], 1)
    assert f["culprit"] == {"function": "crashmod_spin_holder", "cpu": 1, "pid": holder["pid"],
                            "comm": "crashmod_holder"}
    lock = fx["cpu_waits"]["spin_waits"][0]["lock"]
    assert (f"CPU 0 stuck for 13 s, spinning in native_queued_spin_lock_slowpath on crashmod_held_lock "
            f"({lock:#x}), held by CPU 1, which runs crashmod_spin_holder() with interrupts off"
            ) in f["title"]
    assert any(e.startswith("qspinlocks record no owner: CPU 1 is the only other CPU") for e in f["evidence"])
    assert any("qspinlock value 0x1 (locked 1" in e for e in f["evidence"])


def test_a_holder_spinning_on_another_lock_is_a_lock_order_deadlock() -> None:
    fx = _fixture("6.1-spin_held")
    section = copy.deepcopy(fx["cpu_waits"])
    other = dict(section["spin_waits"][0], cpu=1, lock=0xFFFFFFFFC0001000, symbol="lock_b", caller="take_b")
    section["spin_waits"].append(other)
    [f] = _findings(fx, section)
    assert f["title"].endswith("held by CPU 1, which runs take_b() (pid 110 crashmod_holder) and itself "
                               "spins on lock_b (0xffffffffc0001000): a lock-order deadlock")
    assert f["culprit"]["function"] == "take_b" and f["culprit"]["cpu"] == 1


def test_holder_cannot_be_told_between_two_busy_cpus() -> None:
    fx = _fixture("6.1-spin_held")
    section = copy.deepcopy(fx["cpu_waits"])
    other = copy.deepcopy(_cpu(section, 1))
    other.update(cpu=2, pid=4242, comm="other", function="other_fn", irqs_off=False, preempt_count=1)
    section["cpus"].append(other)
    [f] = _findings(fx, section)
    assert "its holder cannot be told (CPU 1 (crashmod_spin_holder), CPU 2 (other_fn))" in f["title"]
    # No holder named: the finding blames the code that wanted the lock, on the stuck CPU.
    assert f["culprit"]["function"] == "crashmod_spin_held" and f["culprit"]["cpu"] == 0


def test_idle_and_waiting_cpus_are_never_holders() -> None:
    fx = _fixture("6.1-spin_held")
    section = copy.deepcopy(fx["cpu_waits"])
    _cpu(section, 1).update(pid=0, comm="swapper/1")
    [f] = _findings(fx, section)
    assert "holder cannot be told (no other CPU runs with preemption off" in f["title"]
    section["spin_waits"][0].update(locked=0, value=0)
    [f] = _findings(fx, section)
    assert f["title"].endswith("which is free in the dump")


def test_rcu_stall_names_the_blocked_reader() -> None:
    fx = _fixture("6.1-rcu_blocked")
    [f] = _findings(fx)
    blocked = fx["cpu_waits"]["rcu"]["nodes"][0]["blocked"][0]
    want = {"function": "crashmod_rcu_sleeper", "cpu": blocked["cpu"], "pid": blocked["pid"],
            "comm": "crashmod_rcublk"}
    assert f["id"] == "rcu-stall" and f["culprit"] == want
    assert "it sleeps in crashmod_rcu_sleeper() inside an RCU read-side critical section" in f["title"]
    assert any("msleep <- crashmod_rcu_sleeper" in e for e in f["evidence"])


def test_a_preempted_reader_is_not_said_to_sleep() -> None:
    fx = _fixture("6.1-rcu_blocked")
    section = copy.deepcopy(fx["cpu_waits"])
    section["rcu"]["nodes"][0]["blocked"][0].update(state="R", sleeps_in="crashmod_walk", frames=[])
    [f] = _findings(fx, section)
    assert "it was preempted in crashmod_walk() inside an RCU read-side critical section" in f["title"]
    section["rcu"]["nodes"][0]["blocked"][0].update(state="D", sleeps_in=None)
    [f] = _findings(fx, section)
    assert "it sleeps (its stack is not in the dump) inside" in f["title"] and "function" not in f["culprit"]


def test_rcu_stall_names_the_cpu_that_reports_no_quiescent_state() -> None:
    fx = _fixture("6.12-rcu_stall")
    [f] = _findings(fx)
    cpu = _cpu(fx["cpu_waits"], 1)
    assert f["culprit"] == {"function": "crashmod_spin", "cpu": 1, "pid": cpu["pid"], "comm": "crashmod_rcu"}
    assert f["title"].startswith("RCU stall: CPU 1 holds up rcu_preempt grace period g=-")
    assert any("qsmask 0x2: CPU 1's bit still set" in e for e in f["evidence"])


def test_no_rcu_blame_without_a_reported_stall() -> None:
    # Grace periods are in progress all the time: a reader on blkd_tasks is not a stall by itself.
    fx = dict(_fixture("6.1-rcu_blocked"), panic_message="sysrq triggered crash")
    assert _findings(fx, log="") == []


def test_the_log_finding_stays_when_the_dump_cannot_answer() -> None:
    fx = _fixture("6.1-softlockup")
    log = "\n".join(fx["log_lines"])
    for section in ({}, "garbage", {"cpus": [{"cpu": 0, "pid": 0, "comm": "swapper/0"}]}):
        [f] = _findings(fx, section, log)
        assert f["id"] == "soft-lockup" and "culprit" not in f, section
        assert f["title"].startswith("soft lockup: CPU 1 stuck for 13 s in crashmod_spin:")


def test_parse_reads_the_fixture_typed() -> None:
    w = CpuWaits.parse(_fixture("6.1-nmi")["cpu_waits"])
    assert w is not None and w.panic_cpu == 0 and w.panic_via_nmi
    assert [c.cpu for c in w.cpus] == [0, 1] and w.cpus[1].irqs_off and not w.cpus[0].irqs_off
    # panic() disables preemption itself: CPU 0's count 2 is smp_call_function_single's get_cpu() + panic's.
    assert w.cpus[0].panicking and w.cpus[0].preempt_off
    assert CpuWaits.parse(None) is None and CpuWaits.parse({"cpus": []}) is None


# Lab golden tests: a fresh analysis of each kind's dump on 6.1 (default dump level) and 6.12 (-d 23,
# which keeps slab pages), its culprit checked against the lab's manifest and the log.
LAB_KINDS = ("nmi", "nmi_idle", "softlockup", "spin_held", "rcu_stall", "rcu_blocked")
_cache: dict[tuple[str, str], tuple[Any, dict[str, Any]]] = {}


def _lab_analysis(lab: Any, kernel: str, kind: str) -> tuple[Any, dict[str, Any]]:
    if (kernel, kind) not in _cache:
        run = lab.crash(kernel, kind, variant="d23" if kernel == "6.12" else None)
        mod = run.dir / "crashmod.ko"
        r = analyze(run.path("rhel/vmcore"), vmlinux=run.vmlinux, engines=("drgn",),
                    modules=[mod] if mod.exists() else [], timeout=600).to_dict()
        _cache[kernel, kind] = (run, r)
    return _cache[kernel, kind]


def _task_line(log: str, cpu: int, comm: str) -> int:
    """The pid on the log's "CPU: n PID: p Comm: comm" line (6.12 adds "UID: 0")."""
    m = re.search(rf"CPU: {cpu} (?:UID: \d+ )?PID: (\d+) Comm: {re.escape(comm)} ", log)
    assert m, f"no task line for {comm} on CPU {cpu}"
    return int(m.group(1))


@pytest.mark.lab
@pytest.mark.slow
@pytest.mark.parametrize("kernel", ["6.1", "6.12"])
@pytest.mark.parametrize("kind", LAB_KINDS)
def test_lab_culprit(lab: Any, kernel: str, kind: str) -> None:
    run, r = _lab_analysis(lab, kernel, kind)
    drgn = r["engines"]["drgn"]
    assert drgn["ok"] and not drgn["cpu_waits"]["errors"], drgn.get("failure")
    # Well under 0.3 s on an idle machine (about 0.05-0.1 s here); slack for a loaded CI host.
    assert drgn["timings"]["cpu_waits"] < 1.5
    log, exp = r["log"], run.manifest["expected"]
    found = [f for f in r["findings"] if f["id"] in LOCKUP_IDS]
    if kind == "nmi_idle":
        [f] = found
        assert f["id"] == "nmi-idle" and "culprit" not in f
        return
    blamed = [f for f in found if f.get("culprit")]
    assert len(blamed) == 1, found
    c = blamed[0]["culprit"]
    assert c["function"] == exp["culprit_function"] or (c["function"] == exp["guilty_function"] and
                                                        exp["culprit_function"] is None)
    if kind == "nmi":
        want = {"cpu": 1, "comm": "crashmod_irqoff", "pid": _task_line(log, 1, "crashmod_irqoff")}
    elif kind == "softlockup":
        m = re.search(r"soft lockup - CPU#(\d+) stuck for \d+s! \[crashmod_spin:(\d+)\]", log)
        assert m
        want = {"cpu": int(m.group(1)), "comm": "crashmod_spin", "pid": int(m.group(2))}
    elif kind == "rcu_stall":
        m = re.search(r"self-detected stall on CPU\n[^\n]*?\t(\d+)-", log)
        assert m
        cpu = int(m.group(1))
        want = {"cpu": cpu, "comm": "crashmod_rcu", "pid": _task_line(log, cpu, "crashmod_rcu")}
    elif kind == "rcu_blocked":
        # "P<pid>/<nesting>:b..l": the reader's pid; it is bound to CPU 0 (the lab offlines CPU 1).
        m = re.search(r"Tasks blocked on level-0 rcu_node \(CPUs 0-1\): P(\d+)/1:b", log)
        assert m
        want = {"cpu": 0, "comm": "crashmod_rcublk", "pid": int(m.group(1))}
    else:  # spin_held: the holder is not in the log at all; its pid is checked by the cpus section.
        holder = next(x for x in r["cpus"] if x["cpu"] == 1)
        want = {"cpu": 1, "comm": "crashmod_holder", "pid": holder["pid"]}
    assert {k: c[k] for k in want} == want
