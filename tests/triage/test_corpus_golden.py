"""Golden-file tests over the public corpus (../shared/corpus, read in place).

The cases are the golden files in the repository together with the corpus's own cases: a corpus case
without a golden file fails ("run --update-golden"), and so does a golden file whose input is gone
from the corpus.  Without the corpus every case is missing(): a skip on a desk, a failure in CI.

For every case: our full answer must equal the golden file (``--update-golden`` rewrites it), and
where the upstream project states an answer we must agree, except for the cases listed below with
the reason the upstream answer is wrong for us (a policy difference or an error in the data).
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from bench.corpus_cases import (
    LOGSPEC_KINDS,
    SATYR_TAINTS,
    SQUAD_KINDS,
    abrt_right,
    corpus_dir,
    squad_check,
    syzkaller_log,
    title_frame,
)
from tests.triage.answers import answer
from tests.triage.golden_files import GOLDEN, check_golden

from crashhub.kernel import base_name, strip_prefix
from crashhub.triage import parse

_CORPUS = corpus_dir()

# syzkaller cases where we knowingly differ from pkg/report's expected answer.
SYZKALLER_DISAGREE: dict[str, str] = {
    "6": "a bare 'WARNING: foo' with no stack trace: firmware and drivers print such lines on production "
    "consoles (KernelCI logs: 'WARNING: RO_VPD is uninitialized'), so an unknown WARNING needs a trace",
    "716": "SYZFAIL is syzkaller's own executor failing, not a kernel crash",
    "380": "ppc64 'interrupt' frames: syzkaller skips do_slb_fault by powerpc-only rules we lack",
}
SATYR_DISAGREE: dict[str, str] = {
    "rhbz-1040900-s390x-1": "satyr misses the s390 taint on the 'CPU: ... Tainted: GF W' line and the "
    "PSW frame; we read both",
    "rhbz-1040900-s390x-2": "satyr parses no function names on this s390 trace; we read them",
}
ABRT_DISAGREE: dict[str, str] = {
    "not_oops2": "abrt drops this oops by its own policy (an oops already reported from this host); "
    "the log does hold a NULL pointer dereference",
    "oops7": "ALSA's 'BUG: pcmC0D0p:0, pos = ...' xrun debug line (CONFIG_SND_PCM_XRUN_DEBUG) is not a "
    "kernel "
    "bug and has no stack trace",
    "oops6": "the .right file names kernel 4.8.15 but the .test log says 4.9.3 (upstream data edited apart)",
    "mce2": "abrt prints an empty Version for MCE reports; the log names the release and we report it",
    "oops-32bit-graphics": "abrt leaves the version of the WARNING empty; its task line names it",
}


# Test name -> the golden directory its answers live in.
_GOLDEN_DIR = {"syzkaller": "syzkaller", "satyr": "satyr", "abrt": "abrt", "kernelci": "kernelci",
               "squad": "squad", "faf": "faf"}


def _golden_cases(name: str) -> set[str]:
    return {json.loads(p.read_text())["case"] for p in (GOLDEN / _GOLDEN_DIR[name]).glob("*.json")}


def _corpus_cases(name: str) -> list[str]:
    if _CORPUS is None:
        return []
    root = _CORPUS
    if name == "syzkaller":
        return [
            json.loads(line)["name"]
            for line in (root / "syzkaller" / "expected.jsonl").read_text().splitlines()
        ]
    if name == "satyr":
        return sorted(p.name for p in (root / "satyr-kerneloopses" / "kerneloopses").iterdir())
    if name == "abrt":
        ex = root / "abrt-examples" / "examples"
        return sorted(
            p.name for p in ex.iterdir() if p.suffix in (".test", ".template") or p.name.startswith("koops")
        )
    if name == "kernelci":
        return [
            json.loads(line)["file"]
            for line in (root / "kernelci-logspec" / "expected.jsonl").read_text().splitlines()
        ]
    if name == "squad":
        return sorted(p.name for p in (root / "squad-linux-log-parser" / "linux_log_parser").iterdir())
    if name == "faf":
        return sorted(p.name for p in (root / "faf-ureports").iterdir() if p.name != "README.md")
    raise ValueError(name)


def _params(name: str) -> list[str]:
    return sorted(_golden_cases(name) | set(_corpus_cases(name)))


def _input(path: Path) -> Path:
    """A corpus file a golden case reads; its absence is a failure, never a skip."""
    if not path.exists():
        pytest.fail(f"the corpus has no {path}: its golden file has no input (corpus changed?)")
    return path


def _row(rows: dict[str, dict[str, object]], case: str, where: Path) -> dict[str, object]:
    if case not in rows:
        pytest.fail(f"{where} has no row for {case!r}: its golden file has no input (corpus changed?)")
    return rows[case]


def _norm(func: str | None) -> str | None:
    return strip_prefix(base_name(func)) if func else None


@pytest.mark.parametrize("case", _params("syzkaller"))
def test_syzkaller(corpus: Path, case: str, update_golden: bool) -> None:
    expected = corpus / "syzkaller" / "expected.jsonl"
    rows = {json.loads(line)["name"]: json.loads(line) for line in expected.read_text().splitlines()}
    row: Any = _row(rows, case, expected)
    reports = parse(syzkaller_log(_input(corpus / "syzkaller" / "linux" / "report" / case)))
    check_golden("syzkaller", case, answer(reports), update_golden, SYZKALLER_DISAGREE.get(case))
    first = reports[0] if reports else None  # the primary: what the CLI, UI and bucket show
    agree = bool(first) == row["has_report"]
    frame = title_frame(row["titles"][0]) if row["titles"] else None
    if agree and frame and frame != "corrupted":
        agree = (
            first is not None and first.guilty is not None and _norm(first.guilty.function) == _norm(frame)
        )
    if case in SYZKALLER_DISAGREE:
        assert not agree, "listed as a disagreement but we now agree: drop it from the list"
    else:
        assert agree, (
            f"crash {bool(first)} vs {row['has_report']}; guilty {first and first.guilty} vs {frame}"
        )


@pytest.mark.parametrize("case", _params("satyr"))
def test_satyr(corpus: Path, case: str, update_golden: bool) -> None:
    root = corpus / "satyr-kerneloopses"
    reports = parse(_input(root / "kerneloopses" / case).read_bytes())
    check_golden("satyr", case, answer(reports), update_golden, SATYR_DISAGREE.get(case))
    rows = {
        json.loads(line)["name"]: json.loads(line)
        for line in (root / "expected.jsonl").read_text().splitlines()
    }
    row = rows.get(case)
    if row is None or case in SATYR_DISAGREE:
        return
    if "module_count" in row:
        assert max(len(r.modules) for r in reports) == row["module_count"]
    if "taint_count" in row:
        taint = next((r.taint for r in sorted(reports, key=lambda r: r.start_line) if r.taint), None)
        assert (len(taint.letters) if taint else 0) == row["taint_count"]
    if "reason" in row:
        assert reports[0].title == row["reason"]


@pytest.mark.parametrize("case", _params("faf"))
def test_faf(corpus: Path, case: str, update_golden: bool) -> None:
    problem = json.loads(_input(corpus / "faf-ureports" / case).read_text())["problem"]
    reports = parse(problem["raw_oops"])
    note = (
        "the uReport's modules, version and frames were edited apart from its raw_oops upstream"
        if case == "ureport_kerneloops2"
        else None
    )
    check_golden("faf", case, answer(reports), update_golden, note)
    r = reports[0]
    assert sorted(r.taint.letters if r.taint else "") == sorted(
        SATYR_TAINTS[t] for t in problem["taint_flags"]
    )
    if note is None:
        assert list(r.modules) == [m.split("(")[0] for m in problem["modules"]]
        assert r.release == problem["version"]


@pytest.mark.parametrize("case", _params("abrt"))
def test_abrt(corpus: Path, case: str, update_golden: bool) -> None:
    ex = corpus / "abrt-examples" / "examples"
    reports = parse(_input(ex / case).read_bytes())
    stem = case.split(".", maxsplit=1)[0]
    check_golden("abrt", case, answer(reports), update_golden, ABRT_DISAGREE.get(stem) or None)
    right = ex / f"{stem}.right"
    if (
        not right.exists()
        or stem in ABRT_DISAGREE
        or stem.startswith("xorg")
        or not case.startswith(stem + ".test")
    ):
        return
    want_n, want_versions = abrt_right(right)
    ordered = sorted(reports, key=lambda r: r.start_line)
    assert len(ordered) == want_n
    assert [r.release or "" for r in ordered] == want_versions


@pytest.mark.parametrize("case", _params("kernelci"))
def test_kernelci_kinds(corpus: Path, case: str, update_golden: bool) -> None:
    root = corpus / "kernelci-logspec"
    expected = root / "expected.jsonl"
    rows = {json.loads(line)["file"]: json.loads(line) for line in expected.read_text().splitlines()}
    row: Any = _row(rows, case, expected)
    reports = parse(_input(root / case).read_bytes())
    check_golden("kernelci", case, answer(reports), update_golden)
    kinds = {r.kind for r in reports}
    want = {e["error_type"] for e in row["expected"].get("errors", []) if e["error_type"] in LOGSPEC_KINDS}
    for w in want:
        assert kinds & LOGSPEC_KINDS[w], f"{w} not found among {kinds}"
    if not want:
        assert not reports


@pytest.mark.parametrize("case", _params("squad"))
def test_squad_kinds(corpus: Path, case: str, update_golden: bool) -> None:
    root = corpus / "squad-linux-log-parser"
    reports = parse(_input(root / "linux_log_parser" / case).read_bytes())
    check_golden("squad", case, answer(reports), update_golden)
    kinds = {r.kind for r in reports}
    for line in (root / "expected.jsonl").read_text().splitlines():
        row = json.loads(line)
        check = squad_check(row["test_name"])
        if row["log"] != case or check not in SQUAD_KINDS or row["expected_result"] == "not asserted":
            continue
        found = bool(kinds & SQUAD_KINDS[check])
        assert found == row["expected_result"].startswith("fail"), f"{row['test_name']}: {sorted(kinds)}"


def test_fwts_39_oopses_and_one_warning(corpus: Path, update_golden: bool) -> None:
    reports = parse(_input(corpus / "fwts-oops" / "oops.txt").read_bytes())
    check_golden("fwts", "oops.txt", answer(reports), update_golden)
    warnings = [r for r in reports if r.kind == "warning"]
    assert len(warnings) == 1
    assert len(reports) - len(warnings) == 39
    # Reports never overlap and come in log order after the primary.
    spans = sorted((r.start_line, r.end_line) for r in reports)
    assert all(a[1] < b[0] for a, b in itertools.pairwise(spans))


def test_disagreements_are_explained() -> None:
    for table in (SYZKALLER_DISAGREE, SATYR_DISAGREE, ABRT_DISAGREE):
        for case, why in table.items():
            assert len(why) > 20, case
