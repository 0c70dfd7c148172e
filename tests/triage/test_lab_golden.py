"""Golden cases from the project's own crash lab: real Debian 6.1/6.12 kernels crashed in QEMU.

The logs in tests/triage/data/lab/ are the lab's ``rhel/vmcore-dmesg.txt`` files (our own data);
``<case>.expected.json`` keeps what the lab knew independently of the log (from its manifest).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.triage.answers import answer
from tests.triage.golden_files import check_golden

from crashhub.classify import signature
from crashhub.triage import parse_file

DATA = Path(__file__).resolve().parent / "data" / "lab"
CASES = sorted(p.name[: -len(".vmcore-dmesg.txt")] for p in DATA.glob("*.vmcore-dmesg.txt"))

# The lab's kind -> ours.
KIND = {
    "null": "null_deref",
    "bug": "bug",
    "gpf": "gpf",
    "sysrq": "sysrq",
    "warn": "warning",
    "softlockup": "soft_lockup",
    "hung": "hung_task",
    "oom": "oom",
    "list_corruption": "list_corruption",
    "rcu_stall": "rcu_stall",
    "stack_overflow": "stack_overflow",
    "uaf": "gpf",
    # A CPU stuck with interrupts off, stopped by an NMI from outside (a BMC's NMI button): the kernel
    # says only "NMI: unknown reason"; the stuck function is named from the CPU dumps.
    "nmi": "nmi",
    # The same NMI with both CPUs idle: nothing in the kernel is stuck.
    "nmi_idle": "nmi",
    "bad_page": "bad_page",
    # A bug, then a deliberate SysRq-c: the bug is the primary (triage/cascade.py, ``_reason``).
    "atomic_sysrq": "atomic_sleep",
    "warn_core": "warning",
}
# Kinds ended by hand after a bug: the primary is the lab's first "earlier" function's report, the
# deliberate crash (the lab's guilty function) a later report of the same log.
ENDED_BY_HAND = frozenset({"atomic_sysrq"})
# Where the lab's expectation and the log part ways, and why we follow the log.
NOTES = {
    "hung": "crashmod_hung is inlined into crashmod_write: the log's stack has no crashmod_hung frame",
}


@pytest.mark.parametrize("case", CASES)
def test_lab_case(case: str, update_golden: bool) -> None:
    expected = json.loads((DATA / f"{case}.expected.json").read_text())
    reports = parse_file(DATA / f"{case}.vmcore-dmesg.txt")
    check_golden("lab", case, answer(reports), update_golden, NOTES.get(expected["kind"]))
    r = reports[0]
    assert r.kind == KIND[expected["kind"]]
    assert r.release == expected["release"] and r.arch == "x86_64"
    want = expected["culprit_function"] or expected["guilty_function"]
    if expected["kind"] in ENDED_BY_HAND:
        assert not r.fatal and [o.guilty.function for o in reports[1:] if o.fatal and o.guilty] == [want]
        want = expected["earlier_functions"][0]
    else:
        assert r.fatal
    if expected["kind"] in NOTES:
        assert r.guilty is not None and r.guilty.module == expected["module"]
    elif want is not None:
        # (No function to blame, as for an NMI that found both CPUs idle: no guilty frame is asked.)
        assert r.guilty is not None and r.guilty.function == want
        if expected["module"] and want.startswith("crashmod"):
            assert r.guilty.module == expected["module"]
    if expected["kind"] not in ("hung",):
        assert r.process is not None and r.process.comm == expected["comm"]
    assert r.taint is not None and r.hardware is not None and r.version is not None
    # A log with two bugs: each earlier, non-fatal report names its own culprit.
    earlier = [o.guilty.function if o.guilty else None for o in reports if not o.fatal]
    for function in expected.get("earlier_functions", []):
        assert function in earlier, f"no earlier report blames {function}: {earlier}"


def test_debian_dmesg_equals_rhel_log() -> None:
    """Debian's dmesg.<stamp> and RHEL's vmcore-dmesg.txt of one crash give the same answer."""
    deb = DATA / "6.1-null-1.debian-dmesg.txt"
    a, b = parse_file(deb)[0], parse_file(DATA / "6.1-null-1.vmcore-dmesg.txt")[0]
    assert signature(a).key == signature(b).key and a.title == b.title


def test_same_bug_same_bucket_across_runs_and_kernels() -> None:
    """Two boots (new KASLR offset, module address, pid, CPU) and two kernel families: one bucket."""
    keys = {}
    for case in CASES:
        kind = json.loads((DATA / f"{case}.expected.json").read_text())["kind"]
        reports = parse_file(DATA / f"{case}.vmcore-dmesg.txt")
        keys.setdefault(kind, set()).add(signature(reports[0]).key)
        # An earlier bug of the log is a bug of its own: one bucket across kernels, shared with no other.
        for i, earlier in enumerate(o for o in reports[1:] if not o.fatal):
            keys.setdefault(f"{kind}:earlier{i}", set()).add(signature(earlier).key)
    for kind, ks in keys.items():
        assert len(ks) == 1, f"{kind}: {ks}"
    # Different bugs never share a bucket.
    owners: dict[str, list[str]] = {}
    for kind, ks in keys.items():
        for k in ks:
            owners.setdefault(k, []).append(kind)
    assert not [o for o in owners.values() if len(o) > 1], [o for o in owners.values() if len(o) > 1]
    assert len(keys.get("null", ())) == 1 and len([c for c in CASES if "-null-" in c]) >= 2
