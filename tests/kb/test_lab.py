"""The shipped entries against real lab crashes kept in the repository (tests/labdata.py)."""

from __future__ import annotations

import pytest
from tests.labdata import case

from crashhub.kb import load_examples, load_starter, match
from crashhub.triage import parse_file

# lab kind -> (the triage kind, the first entry expected): a specific example where one exists.
CASES = {
    "null": ("null_deref", "crashmod-null-obj"),
    "gpf": ("gpf", "crashmod-list-poison"),
    "list_corruption": ("list_corruption", "crashmod-list-poison"),
    "hung": ("hung_task", "crashmod-hung-self-deadlock"),
    "sysrq": ("sysrq", "generic-sysrq"),
}


@pytest.mark.parametrize("kernel", ["6.1", "6.12"])
@pytest.mark.parametrize("lab_kind", sorted(CASES))
def test_lab_crash_finds_its_entry(kernel: str, lab_kind: str) -> None:
    reports = parse_file(case(kernel, lab_kind).log)
    kind, first = CASES[lab_kind]
    hits = [r for r in reports if r.kind == kind]
    assert hits, [(r.kind, r.title) for r in reports]
    got = match(load_starter() + load_examples(), hits[0])
    assert got[0].entry_id == first, [(m.entry_id, m.matched_rules) for m in got]
    assert got[-1].entry_id == f"generic-{kind}" and got[-1].generic
    assert not any(m.regression for m in got)
    if not first.startswith("generic-"):
        assert "module=crashmod (in the stack)" in got[0].matched_rules
