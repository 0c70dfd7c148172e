"""Matching reports against entries: which rules held, regressions, ranking."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest

from crashhub.kb import KbEntry, load_starter, match, parse_entry, would_match
from crashhub.kb._match import match_entry
from crashhub.model import CrashReport, Frame, Taint

DEBIAN_VERSION = "#1 SMP PREEMPT_DYNAMIC Debian 6.1.192-2 (2026-11-16)"


def report(**kw: Any) -> CrashReport:
    base: dict[str, Any] = {
        "kind": "soft_lockup",
        "title": "BUG: soft lockup in ext4_mb_regular_allocator",
        "message": "watchdog: BUG: soft lockup - CPU#3 stuck for 23s! [kworker/u16:2:1234]",
        "guilty": Frame("ext4_mb_regular_allocator", 0x1F0, 0x4A0, "ext4"),
        "frames": (Frame("ext4_mb_regular_allocator", module="ext4"),
                   Frame("ext4_mb_new_blocks", module="ext4"),
                   Frame("ext4_ext_map_blocks", module="ext4"), Frame("worker_thread")),
        "taint": Taint("OE"),
        "release": "6.1.0-56-cloud-amd64",
        "version": DEBIAN_VERSION,
        "hardware": "Dell Inc. PowerEdge R650/0XYZ, BIOS 1.2.3",
        "modules": ("crashmod(OE)", "ext4", "dm-mod", "xt_CT"),
    }
    base.update(kw)
    return CrashReport(**base)


def entry(match_yaml: str, *, id: str = "e", generic: bool = False) -> KbEntry:
    text = f"id: {id}\ntitle: t\ngeneric: {str(generic).lower()}\nmatch:\n"
    text += "".join(f"  {line}\n" for line in match_yaml.strip().splitlines())
    return parse_entry(text, f"{id}.yaml")


def test_every_rule_holds_and_is_explained() -> None:
    e = entry("""
kinds: [soft_lockup, hung_task]
title: soft lockup
function: ^ext4_mb_
frame: ^ext4_ext_map_blocks$
modules: [ext4]
loaded: [dm_mod]
taint: O
releases: [{introduced_in: 6.1.0-50, fixed_in: 6.1.0-57}]
hardware: PowerEdge R6
""")
    m = match_entry(e, report())
    assert m is not None
    assert m.matched_rules == [
        "kind=soft_lockup",
        "title ~ soft lockup",
        "function ~ ^ext4_mb_ (ext4_mb_regular_allocator)",
        "frame ~ ^ext4_ext_map_blocks$ (ext4_ext_map_blocks)",
        "module=ext4 (in the stack)",
        "loaded=dm_mod",
        "taint ⊇ O",
        "release 6.1.0-56-cloud-amd64 >= 6.1.0-50 < 6.1.0-57",
        "hardware ~ PowerEdge R6",
    ]
    assert not m.regression and m.unchecked == [] and m.score == 19


@pytest.mark.parametrize("rule", [
    "kinds: [hung_task]",
    "title: hung task",
    "function: ^xfs_",
    "frame: ^nfs_",
    "modules: [xfs]",
    "loaded: [nvme]",
    "taint: P",
    "releases: [{introduced_in: 6.1.0-57}, {introduced_in: 6.1.0-60, fixed_in: 6.1.0-70}]",
    "releases: [{fixed_in: 5.14.0-362.8.1.el9_3}]",
    "hardware: ProLiant",
])
def test_one_failing_rule_is_no_match(rule: str) -> None:
    e = entry("kinds: [soft_lockup]\n" + rule if not rule.startswith("kinds") else rule)
    assert match_entry(e, report()) is None


def test_regression_when_at_or_past_fixed_in() -> None:
    e = entry("kinds: [soft_lockup]\nreleases: [{fixed_in: 6.1.0-57}, {fixed_in: 5.14.0-362.8.1.el9_3}]")
    assert not match(entries=[e], report=report(release="6.1.0-56-cloud-amd64"))[0].regression
    m = match([e], report(release="6.1.0-57-cloud-amd64"))[0]
    assert m.regression and m.fixed_in == "6.1.0-57"
    assert "regression" in m.matched_rules[-1]
    rhel = match([e], report(release="5.14.0-427.13.1.el9_4.x86_64", version="#1 SMP"))[0]
    assert rhel.regression and rhel.fixed_in == "5.14.0-362.8.1.el9_3"
    assert match([e], report(release="4.18.0-513.5.1.el8_9.x86_64")) == []  # no range for el8


def test_upstream_ranges_use_the_debian_package_version() -> None:
    e = entry("kinds: [soft_lockup]\nreleases: [{introduced_in: '6.1', fixed_in: 6.1.200}]")
    assert match_entry(e, report()) is not None  # Debian 6.1.192
    assert match_entry(e, report(version="#1 SMP PREEMPT_DYNAMIC Debian 6.1.201-1")).regression  # type: ignore[union-attr]
    assert match_entry(e, report(version="#1 SMP")) is None  # 6.1.0-56 alone says nothing upstream


def test_missing_data_is_unchecked_not_failed() -> None:
    e = entry("kinds: [soft_lockup]\nreleases: [{fixed_in: 6.1.0-57}]\nhardware: PowerEdge\ntaint: O")
    m = match_entry(e, report(release=None, hardware=None, taint=None))
    assert m is not None and m.matched_rules == ["kind=soft_lockup"]
    assert [u.split()[0] for u in m.unchecked] == ["taint", "release", "hardware"]
    bare = report(guilty=None, rip=None, frames=())
    m = match_entry(entry("kinds: [soft_lockup]\nframe: ext4\nmodules: [ext4]\nfunction: ext4"), bare)
    assert m is not None and [u.split()[0] for u in m.unchecked] == ["function", "frame", "modules"]
    only_unchecked = entry("hardware: PowerEdge")
    assert match_entry(only_unchecked, report(hardware=None)) is None  # no evidence at all


def test_release_and_hardware_arguments_override_the_report() -> None:
    e = entry("kinds: [soft_lockup]\nreleases: [{fixed_in: 6.1.0-57}]\nhardware: ^HPE")
    assert match_entry(e, report()) is None
    m = match_entry(e, report(), release="6.1.0-58-amd64", hardware="HPE ProLiant DL360 Gen10")
    assert m is not None and m.regression


def test_title_rule_also_searches_the_oops_and_panic_lines() -> None:
    e = entry("title: stuck for \\d+s")
    assert match_entry(e, report()).matched_rules == ["message ~ stuck for \\d+s"]  # type: ignore[union-attr]
    p = entry("title: softlockup. hung tasks")
    r = report(panic_message="softlockup: hung tasks")
    assert match_entry(p, r).matched_rules == ["panic ~ softlockup. hung tasks"]  # type: ignore[union-attr]


def test_module_names_with_dash_or_underscore_are_one() -> None:
    r = report(guilty=Frame("dm_bufio_shrink_scan", module="dm_bufio"), frames=())
    assert match_entry(entry("modules: [dm-bufio]"), r) is not None
    assert match_entry(entry("loaded: [crashmod]"), r) is not None  # "crashmod(OE)"
    assert match_entry(entry("loaded: [xt_CT]"), r) is not None


def test_ranking_specific_before_generic_then_score() -> None:
    entries = [
        entry("kinds: [soft_lockup]", id="generic-soft", generic=True),
        entry("kinds: [soft_lockup]\nfunction: ^ext4_", id="ext4-any"),
        entry("kinds: [soft_lockup]\nfunction: ^ext4_mb_\nmodules: [ext4]", id="ext4-mb"),
        entry("kinds: [oom]", id="oom-other"),
    ]
    got = match(entries, report())
    assert [m.entry_id for m in got] == ["ext4-mb", "ext4-any", "generic-soft"]
    assert [m.generic for m in got] == [False, False, True]


def test_would_match_counts_reports() -> None:
    e = entry("function: ^ext4_")
    reports = [report(), report(guilty=Frame("xfs_buf_lock", module="xfs")), report(kind="hung_task")]
    assert would_match(e, reports) == 2


def test_starter_gives_every_kind_its_generic_entry() -> None:
    starter = load_starter()
    for kind in sorted({k for e in starter for k in e.rule.kinds}):
        got = match(starter, report(kind=kind))
        assert [m.entry_id for m in got] == [f"generic-{kind}"]
        assert got[0].generic and got[0].matched_rules == [f"kind={kind}"]


def test_real_rhel7_oom_log(corpus: Path) -> None:
    """A RHEL 7 panic_on_oom log from ABRT's tests: release ranges and hardware on real fields."""
    triage = importlib.import_module("crashhub.triage")
    (r,) = triage.parse_file(corpus / "abrt-examples/examples/kernel_panic_oom.test")
    assert r.kind == "oom" and r.release == "3.10.0-327.28.2.el7.x86_64"
    affected = entry("kinds: [oom]\nhardware: VMware\nreleases: [{fixed_in: 3.10.0-514.el7}]", id="a")
    fixed = entry("kinds: [oom]\nreleases: [{introduced_in: 3.10.0-123.el7, fixed_in: 3.10.0-327.el7}]",
                  id="b")
    debian = entry("kinds: [oom]\nreleases: [{fixed_in: 6.1.0-57}]", id="c")
    upstream = entry("kinds: [oom]\nreleases: [{fixed_in: '4.0'}]", id="d")
    got = {m.entry_id: m for m in match([affected, fixed, debian, upstream, *load_starter()], r)}
    assert sorted(got) == ["a", "b", "generic-oom"]
    assert not got["a"].regression and "hardware ~ VMware" in got["a"].matched_rules
    assert got["b"].regression and got["b"].fixed_in == "3.10.0-327.el7"
