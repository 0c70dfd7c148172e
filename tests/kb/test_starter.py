"""The shipped starter KB (one generic entry per kind) and the example entries."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

from crashhub.cli import main
from crashhub.kb import KINDS, load_examples, load_starter, match

STARTER = Path(__file__).resolve().parents[2] / "src/crashhub/kb/starter"
EXAMPLES = STARTER.parent / "examples"
KERNEL_PATH = re.compile(r"(arch|block|drivers|fs|include|kernel|lib|mm|net)/[\w./-]+\.[ch]")
LAB_FUNCTIONS = ("crashmod_null", "crashmod_gpf", "crashmod_list_corruption", "crashmod_hung")


def test_lint_passes_on_the_shipped_kbs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["kb", "lint", str(STARTER), str(EXAMPLES)]) == 0
    assert capsys.readouterr().out.strip() == f"{len(KINDS) + len(load_examples())} entries fine"


def test_one_generic_entry_per_kind() -> None:
    starter = load_starter()
    assert sorted(k for e in starter for k in e.rule.kinds) == sorted(KINDS)
    for e in starter:
        assert e.generic and e.status == "known", e.id
        assert e.id == f"generic-{e.rule.kinds[0]}" and len(e.rule.kinds) == 1
        assert e.rule.to_dict() == {"kinds": [e.rule.kinds[0]]}, "generic entries match on kind only"
        assert len(e.cause) > 150 and len(e.advice) > 150, e.id
        assert e.commands, f"{e.id}: which crash/drgn commands answer it"


def test_references_are_kernel_documentation_or_tree_paths() -> None:
    for e in load_starter():
        assert e.references, e.id
        for ref in e.references:
            assert ref.startswith("https://docs.kernel.org/") or KERNEL_PATH.fullmatch(ref), (e.id, ref)


def test_examples_are_specific_and_name_lab_functions() -> None:
    examples = load_examples()
    assert 2 <= len(examples) <= 5
    for e in examples:
        assert not e.generic and e.rule.modules == ("crashmod",)
        pattern = e.rule.function or e.rule.frame
        assert pattern is not None and any(re.search(pattern, f) for f in LAB_FUNCTIONS), e.id


def test_every_corpus_report_finds_its_generic_entry(corpus: Path) -> None:
    """Real logs: whatever kind triage assigns, the starter explains it (and only its own entry)."""
    triage = importlib.import_module("crashhub.triage")
    starter = load_starter()
    seen: set[str] = set()
    for folder in ("abrt-examples/examples", "satyr-kerneloopses/kerneloopses", "fwts-oops"):
        for f in sorted((corpus / folder).iterdir()):
            if f.suffix in (".md", ".jsonl", ".json", ".right") or not f.is_file():
                continue
            try:
                reports = triage.parse_file(f)
            except Exception:  # a corpus file triage refuses is triage's business, not the KB's
                continue
            for r in reports:
                got = match(starter, r)
                assert [m.entry_id for m in got] == [f"generic-{r.kind}"], (f.name, r.kind)
                seen.add(r.kind)
    assert len(seen) >= 5, seen
