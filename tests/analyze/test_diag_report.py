"""The findings a crash's own report makes (``_diag_report``): an assertion that fired and a crash
made on purpose.  Unit tests on real lab log text; golden tests on lab dumps (6.1 default, 6.12
``d23``), each checking the culprit against the lab's manifest and the log."""
# ruff: noqa: E501  (expected claims are kept whole, so they can be grepped for)

from __future__ import annotations

import re
from typing import Any

import pytest

from crashhub.analyze import analyze
from crashhub.analyze._diag_report import check_report
from crashhub.analyze._model import Analysis, StackFrame
from crashhub.model import CrashReport, Frame
from crashhub.triage import parse

BUG_LOG = """\
[    4.939284] kernel BUG at crashmod/crashmod.c:53!
[    4.939620] invalid opcode: 0000 [#1] PREEMPT SMP NOPTI
[    4.939774] CPU: 0 PID: 109 Comm: sh Kdump: loaded Tainted: G           OE      6.1.0-57-cloud-amd64 #1  Debian 6.1.192-3
[    4.940017] RIP: 0010:crashmod_bug+0x16/0x20 [crashmod]
[    4.940500] Call Trace:
[    4.940600]  <TASK>
[    4.940700]  crashmod_write+0x27f/0x310 [crashmod]
[    4.940800]  proc_reg_write+0x56/0xa0
[    4.940900]  vfs_write+0xc7/0x3f0
[    4.941000]  ksys_write+0x6b/0xf0
[    4.941100]  do_syscall_64+0x5d/0x90
[    4.941200]  entry_SYSCALL_64_after_hwframe+0x6e/0xd8
[    4.941300]  </TASK>
"""

SYSRQ_LOG = """\
[    4.666371] sysrq: Trigger a crash
[    4.666753] Kernel panic - not syncing: sysrq triggered crash
[    4.666932] CPU: 0 PID: 147 Comm: sh Kdump: loaded Not tainted 6.1.0-57-cloud-amd64 #1  Debian 6.1.192-3
[    4.667446] Call Trace:
[    4.667995]  <TASK>
[    4.668562]  dump_stack_lvl+0x44/0x5c
[    4.668562]  panic+0x118/0x2f4
[    4.668562]  sysrq_handle_crash+0x16/0x20
[    4.668562]  __handle_sysrq.cold+0x43/0x11b
[    4.668562]  write_sysrq_trigger+0x24/0x40
[    4.668562]  proc_reg_write+0x56/0xa0
[    4.668562]  vfs_write+0xc7/0x3f0
[    4.668562]  ksys_write+0x6b/0xf0
[    4.668562]  do_syscall_64+0x5d/0x90
[    4.668562]  entry_SYSCALL_64_after_hwframe+0x6e/0xd8
[    4.668562]  </TASK>
"""


def _findings(log: str, stack: tuple[StackFrame, ...] = ()) -> dict[str, Any]:
    a = Analysis(log=log, stack=stack)
    return {f.id: f for f in check_report(a, parse(log.encode()))}


def test_bug_on_is_an_assertion_named_by_its_function_and_line() -> None:
    f = _findings(BUG_LOG)["assertion"]
    assert f.severity == "critical"
    assert f.claim == "assertion failed: BUG()/BUG_ON() in crashmod_bug() [crashmod] at crashmod/crashmod.c:53, run by sh:109 on CPU 0"
    assert f.culprit.function == "crashmod_bug" and f.culprit.pid == 109 and f.culprit.cpu == 0
    assert f.evidence[0] == "log: kernel BUG at crashmod/crashmod.c:53!"


def test_sysrq_is_a_deliberate_crash_with_its_writer() -> None:
    got = _findings(SYSRQ_LOG)
    assert "assertion" not in got
    f = got["deliberate-crash"]
    assert f.claim == "deliberate crash: echo c > /proc/sysrq-trigger by sh:147 on CPU 0 (not a kernel fault)"
    assert f.culprit.function == "sysrq_handle_crash" and f.culprit.comm == "sh"


def test_a_bug_before_the_sysrq_is_named_in_the_deliberate_crash() -> None:
    earlier = BUG_LOG.replace("kernel BUG at crashmod/crashmod.c:53!", "BUG: scheduling while atomic: sh/109/0x00000002")
    got = _findings(earlier.replace("invalid opcode: 0000 [#1] PREEMPT SMP NOPTI\n", "") + SYSRQ_LOG.replace("[    4.", "[    6."))
    f = got["deliberate-crash"]
    assert "; before it: BUG: scheduling while atomic in crashmod_write" in f.claim, f.claim
    assert "assertion" not in got  # a scheduling-while-atomic BUG is no BUG_ON()


def test_a_warning_is_an_assertion_only_when_panic_on_warn_made_it_fatal() -> None:
    warn = """\
[   10.000000] ------------[ cut here ]------------
[   10.000001] WARNING: CPU: 1 PID: 120 at crashmod/crashmod.c:71 crashmod_warn+0x11/0x20 [crashmod]
[   10.000002] Modules linked in: crashmod(OE)
[   10.000003] CPU: 1 PID: 120 Comm: sh Tainted: G           OE      6.1.0-57-cloud-amd64 #1  Debian 6.1.192-3
[   10.000004] RIP: 0010:crashmod_warn+0x11/0x20 [crashmod]
[   10.000005] Call Trace:
[   10.000006]  <TASK>
[   10.000007]  crashmod_write+0x27f/0x310 [crashmod]
[   10.000008]  vfs_write+0xc7/0x3f0
[   10.000009]  </TASK>
[   10.000010] ---[ end trace 0000000000000000 ]---
"""
    assert "assertion" not in _findings(warn)
    fatal = warn + "[   10.000011] Kernel panic - not syncing: kernel: panic_on_warn set ...\n"
    f = _findings(fatal)["assertion"]
    assert f.claim.startswith("assertion failed: WARN() with panic_on_warn set in crashmod_warn() [crashmod] at crashmod/crashmod.c:71")


def test_a_deep_chain_without_recursion_names_the_deepest_function() -> None:
    frames = tuple(Frame(f"f{i}", 0, 0x40) for i in range(12))
    r = CrashReport(kind="stack_overflow", title="BUG: stack guard page was hit in f0", guilty=Frame("f0"),
                    frames=frames, registers={"RSP": 0x1048, "CR2": 0x1038})
    [f] = check_report(Analysis(), [r])
    assert f.claim == "kernel stack overflow: f0() ran the call chain past the end of the task's stack"
    assert f.evidence[1].startswith("the fault address CR2 0x1038 is 16 bytes below RSP 0x1048")


def test_the_dump_line_stands_in_when_the_log_names_no_file() -> None:
    # BUG() on architectures and configs without CONFIG_DEBUG_BUGVERBOSE prints no "at file:line".
    r = CrashReport(kind="bug", title="kernel BUG in crashmod_bug", message="invalid opcode: 0000 [#1] SMP",
                    guilty=Frame("crashmod_bug", module="crashmod"), text="invalid opcode: 0000 [#1] SMP")
    stack = (StackFrame("crashmod_bug", "crashmod", "crashmod/crashmod.c", 53),)
    [f] = check_report(Analysis(stack=stack), [r])
    assert f.claim == "assertion failed: BUG()/BUG_ON() in crashmod_bug() [crashmod] at crashmod/crashmod.c:53"


_cache: dict[tuple[str, str], Any] = {}


def _lab(lab: Any, kernel: str, kind: str) -> tuple[Any, Any]:
    if (kernel, kind) not in _cache:
        run = lab.crash(kernel, kind, variant="d23" if kernel == "6.12" else None)
        mod = run.dir / "crashmod.ko"
        a = analyze(run.path("rhel/vmcore"), vmlinux=run.vmlinux, engines=("drgn",),
                    modules=[mod] if mod.exists() else [])
        _cache[kernel, kind] = (run, a)
    return _cache[kernel, kind]


@pytest.mark.lab
@pytest.mark.slow
@pytest.mark.parametrize("kernel", ["6.1", "6.12"])
def test_lab_bug_on_leads_with_the_assertion(lab: Any, kernel: str) -> None:
    run, a = _lab(lab, kernel, "bug")
    f = a.findings[0]
    assert f.id == "assertion", [x.claim for x in a.findings]
    at = re.search(r"kernel BUG at (\S+?:\d+)!", a.log or "")
    assert at and f"at {at.group(1)}" in f.claim
    assert f.culprit.function == run.manifest["expected"]["guilty_function"] == "crashmod_bug"
    assert f.culprit.pid == run.manifest["expected"]["trigger_pid"]
    assert any("ud2" in e for e in f.evidence), f.evidence  # read from the dump at the crashed pc


@pytest.mark.lab
@pytest.mark.slow
@pytest.mark.parametrize("kernel", ["6.1", "6.12"])
def test_lab_sysrq_leads_with_the_deliberate_crash(lab: Any, kernel: str) -> None:
    run, a = _lab(lab, kernel, "sysrq")
    f = a.findings[0]
    assert f.id == "deliberate-crash", [x.claim for x in a.findings]
    assert f"by sh:{run.manifest['expected']['trigger_pid']} " in f.claim and "/proc/sysrq-trigger" in f.claim


@pytest.mark.lab
@pytest.mark.slow
def test_lab_sysrq_after_a_bug_names_the_bug(lab: Any) -> None:
    _run, a = _lab(lab, "6.1", "atomic_sysrq")
    f = next(x for x in a.findings if x.id == "deliberate-crash")
    assert "; before it: BUG: scheduling while atomic" in f.claim, f.claim


@pytest.mark.lab
@pytest.mark.slow
@pytest.mark.parametrize("kind", ["warn", "warn_core"])
def test_lab_fatal_warning_leads_with_the_assertion(lab: Any, kind: str) -> None:
    run, a = _lab(lab, "6.1", kind)
    f = a.findings[0]
    assert f.id == "assertion", [x.claim for x in a.findings]
    assert "WARN() with panic_on_warn set" in f.claim
    exp = run.manifest["expected"]
    # warn_core: the WARN() sits in ida_free(); the module's double free that called it is the culprit.
    assert f.culprit.function == (exp["culprit_function"] or exp["guilty_function"])
    assert re.search(rf"in {exp['guilty_function']}\(\)(?: \[crashmod\])? at \S+\.c:\d+", f.claim), f.claim
    assert not any("instruction at pc" in e for e in f.evidence)  # the pc is panic()'s, not the WARN's


@pytest.mark.lab
@pytest.mark.slow
@pytest.mark.parametrize("kernel", ["6.1", "6.12"])
def test_lab_stack_overflow_names_the_recursion(lab: Any, kernel: str) -> None:
    run, a = _lab(lab, kernel, "stack_overflow")
    f = a.findings[0]
    assert f.id == "stack-overflow", [x.claim for x in a.findings]
    assert f.culprit.function == run.manifest["expected"]["guilty_function"] == "crashmod_recurse"
    assert re.search(r"crashmod_recurse\(\) \[crashmod\] called itself until the task's stack ran into its guard "
                     r"page \(\d+ of the trace's \d+ frames are crashmod_recurse\)", f.claim), f.claim
    assert f.culprit.pid == run.manifest["expected"]["trigger_pid"]
