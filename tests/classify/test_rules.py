"""Grouping rules: their conditions on real reports, their checks and their JSON round trip."""

from __future__ import annotations

import pytest
from tests.labdata import LOGS

from crashhub.classify import Condition, GroupingRule, Subject, check, split_rule, subject_of
from crashhub.errors import InputError
from crashhub.triage import parse_file


def _null_subject() -> Subject:
    report = parse_file(LOGS / "6.1-null-1.vmcore-dmesg.txt")[0]
    return subject_of("c1", title=report.title, host="web1.dc2", release=report.release,
                      hardware=report.hardware, report=report)


def test_conditions_read_a_real_report() -> None:
    s = _null_subject()
    assert s.guilty == "crashmod_null" and "vfs_write" in s.frames and "crashmod" in s.modules
    holds = {
        ("frame", "vfs_*"): True,
        ("frame", "ext4_*"): False,
        ("guilty", "crashmod_null"): True,
        ("module", "crashmod"): True,
        ("module", "ext4"): False,
        ("release", "6.1.*"): True,
        ("release", "6.12.*"): False,
        ("host", "web1*"): True,
        ("title", "*NULL pointer*"): True,
        ("crash", "c1"): True,
        ("crash", "c2"): False,
        ("hardware", "QEMU*"): True,
    }
    got = {k: Condition(k[0], k[1]).holds(s) for k in holds}  # type: ignore[arg-type]
    assert got == holds


def test_a_crash_without_a_report_has_only_its_own_fields() -> None:
    s = subject_of("c9", title="no crash report found in the log", host="h")
    assert not Condition("frame", "*").holds(s) and Condition("title", "no crash*").holds(s)
    assert not Condition("release", "*").holds(s)  # unknown is not "anything"


def test_the_newest_split_rule_that_takes_the_crash_wins() -> None:
    s = _null_subject()
    def rule(rid: str, cond: Condition, at: float) -> GroupingRule:
        return GroupingRule(rid, "split", f"t{rid}", source="b", when=(cond,), created_at=at)

    old = rule("r1", Condition("frame", "vfs_write"), 1)
    new = rule("r2", Condition("guilty", "crashmod_*"), 2)
    miss = rule("r3", Condition("host", "db*"), 3)
    assert split_rule([old, new, miss], s) == new
    assert split_rule([old, miss], s) == old
    assert split_rule([miss], s) is None


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        ({"action": "join", "target": "t"}, "action"),
        ({"action": "merge", "target": "t", "algorithm": "sig:2026-11"}, "key"),
        ({"action": "split", "target": "t", "source": "s"}, "when"),
        ({"action": "split", "target": "t", "source": "s", "when": [{"field": "colour", "pattern": "x"}]},
         "field"),
        ({"action": "split", "target": "t", "source": "s", "when": [{"field": "frame", "pattern": " "}]},
         "pattern"),
        ({"action": "split", "target": "s", "source": "s", "when": [{"field": "frame", "pattern": "f"}]},
         "target"),
        ({"action": "merge", "target": "", "algorithm": "a", "key": "k"}, "target"),
        ({"action": "merge", "target": "t", "algorithm": "a", "key": "k", "version": 99}, "version"),
    ],
)
def test_bad_rules_are_refused_naming_the_field(doc: dict[str, object], field: str) -> None:
    with pytest.raises(InputError) as e:
        GroupingRule.from_dict(doc)
    assert e.value.path == field


def test_check_refuses_what_cannot_work() -> None:
    with pytest.raises(InputError):
        check(GroupingRule("r", "merge", "t"))
    check(GroupingRule("r", "merge", "t", algorithm="sig:2026-11", key="k"))
