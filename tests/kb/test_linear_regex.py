"""Issue 14 finding 4: no KB regex can stall the hub (RE2 runs every rule pattern in linear time)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from crashhub.cli import main
from crashhub.errors import KbError
from crashhub.kb import parse_entry
from crashhub.kb._match import match_entry
from crashhub.triage import parse

EVIL_TITLE = "id: evil\ntitle: t\nmatch:\n  title: (a+)+$\n"

# A kernel log whose oops line gives Python's backtracking `re` 2**27 paths to try for `(a+)+$`.
EVIL_LOG = (
    b"[    0.000000] Linux version 6.1.0-27-amd64 (debian-kernel@lists.debian.org) (gcc-12) #1 SMP "
    b"PREEMPT_DYNAMIC Debian 6.1.115-1 (2024-11-01)\n"
    b"[    5.100000] Kernel panic - not syncing: " + b"a" * 27 + b"b\n"
    b"[    5.100001] CPU: 0 PID: 1 Comm: swapper/0 Not tainted 6.1.0-27-amd64 #1\n"
)


def test_catastrophic_pattern_answers_in_milliseconds() -> None:
    entry = parse_entry(EVIL_TITLE, "evil.yaml")
    report = parse(EVIL_LOG)[0]
    assert "a" * 27 + "b" in (report.message or "")
    t0 = time.perf_counter()
    got = match_entry(entry, report)
    took = time.perf_counter() - t0
    assert got is None  # the text ends in "b": no match, as under `re`
    # Python's re takes seconds here (9 s on the machine); RE2 well under a millisecond.
    assert took < 0.1, f"matching took {took:.3f} s"


def test_semantics_kept_for_ordinary_patterns() -> None:
    report = parse(EVIL_LOG.replace(b"a" * 27 + b"b", b"crashmod: Oops at 0x20"))[0]
    hit = parse_entry("id: ok\ntitle: t\nmatch:\n  title: (?i)CRASHMOD:\\s+oops\n", "ok.yaml")
    anchored = parse_entry("id: anchored\ntitle: t\nmatch:\n  title: ^crashmod\n", "anchored.yaml")
    assert match_entry(hit, report) is not None
    assert match_entry(anchored, report) is None


@pytest.mark.parametrize(
    ("pattern", "why"),
    [(r"(ab)\1", "backreferences"), (r"foo(?=bar)", "lookaround"), (r"(?<!x)y", "lookaround")],
)
def test_patterns_re2_cannot_run_are_refused_naming_entry_and_field(pattern: str, why: str) -> None:
    with pytest.raises(KbError) as e:
        parse_entry(f"id: slow\ntitle: t\nmatch:\n  frame: '{pattern}'\n", "slow.yaml")
    msg = str(e.value)
    assert "\n" not in msg
    assert msg.startswith("slow.yaml:4: field 'match.frame': bad regex")
    assert "RE2" in msg and why in msg


def test_kb_lint_refuses_a_pattern_re2_cannot_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "look.yaml").write_text("id: look\ntitle: t\nmatch:\n  function: '^ext4_(?!mb)'\n")
    assert main(["kb", "lint", str(kb)]) == 2
    (line,) = capsys.readouterr().out.splitlines()
    assert line.startswith(f"{kb}/look.yaml:4: field 'match.function': bad regex")
    assert "RE2" in line
