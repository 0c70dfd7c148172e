"""The oops table's own invariants (as syzkaller checks its linuxOopses)."""

from __future__ import annotations

import re
from pathlib import Path

from crashhub.classify import ALGORITHM, SKIP_GROUPS
from crashhub.triage import KINDS
from crashhub.triage._oops import OOPSES, SCAN_ANCHORS

_META = set(".^$*+?{}[]\\|()")


def _literal_prefix(pattern: str) -> str:
    """The plain text a title regexp starts with (up to its first metacharacter)."""
    out = []
    for ch in pattern:
        if ch in _META:
            break
        out.append(ch)
    return "".join(out)


def test_no_title_is_shadowed_by_an_earlier_one() -> None:
    # A later format whose literal title prefix an earlier format (without a report regexp, so
    # without a way to fall through) already matches could never be chosen.
    for oops in OOPSES:
        for i, later in enumerate(oops.formats):
            prefix = _literal_prefix(later.title.lstrip("^"))
            if len(prefix) < 4:
                continue
            for earlier in oops.formats[:i]:
                if earlier.report is None and earlier.title_re.search(prefix) and not later.corrupted:
                    raise AssertionError(f"{oops.header}: {later.title!r} is shadowed by {earlier.title!r}")


def test_headers_unique_and_every_format_can_match_its_header() -> None:
    headers = [o.header for o in OOPSES]
    assert len(headers) == len(set(headers))
    for oops in OOPSES:
        for f in oops.formats:
            prefix = _literal_prefix(f.title.lstrip("^").replace("\\s*", ""))
            assert (
                oops.header in prefix or prefix in oops.header or oops.header in f.title.replace("\\", "")
            ), (oops.header, f.title)


def test_kinds_are_documented() -> None:
    for oops in OOPSES:
        for f in oops.formats:
            assert f.kind in KINDS, f.kind
    assert all(len(desc) > 10 for desc in KINDS.values())


def test_every_header_is_found_by_the_scan() -> None:
    for oops in OOPSES:
        assert any(a in oops.header for a in SCAN_ANCHORS), oops.header


def test_templates_use_existing_groups() -> None:
    for oops in OOPSES:
        for f in oops.formats:
            rx = f.report_re or f.title_re
            for n in re.findall(r"\{(\d+)\}", f.template):
                assert int(n) <= rx.groups, (f.template, rx.pattern)
            if "{frame" in f.template:
                assert f.stack is not None, f.template


def test_docs_cover_every_kind_skip_group_and_algorithm() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "triage.md").read_text()
    for kind in KINDS:
        assert f"| `{kind}` |" in doc, kind
    for group, patterns in SKIP_GROUPS.items():
        assert f"| {group} |" in doc
        for p in patterns:
            assert "`" + p.replace("|", "\\|") + "`" in doc, p  # pipes escaped in the table
    assert ALGORITHM in doc
