"""The oops table's own invariants (as syzkaller checks its linuxOopses)."""

from __future__ import annotations

import re
from pathlib import Path

from crashhub.classify import ALGORITHM, SKIP_GROUPS
from crashhub.kernel import skipped
from crashhub.triage import KINDS
from crashhub.triage._extract import _skip_re
from crashhub.triage._formats import expand, required_literals
from crashhub.triage._oops import HEADERS, OOPSES, SCAN_ANCHORS
from crashhub.triage._title import _NEEDS, REPLACEMENTS, normalize, sanitize

DATA = Path(__file__).resolve().parent / "data"
_HEADER_RE = re.compile("|".join(re.escape(h) for h in HEADERS))

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


def test_required_literals_are_plain_text_every_match_holds() -> None:
    assert required_literals(r"WARNING: .*kernel/watchdog\.c") == ("kernel/watchdog.c", "WARNING: ")
    kasan = r"BUG: KASAN: ([a-z\-]+) on address(?:.*\n)+?"
    assert required_literals(kasan) == ("BUG: KASAN: ", " on address")
    assert required_literals(r"^\s*BUG:[ \t]*$") == ("BUG:",)
    assert required_literals(r"kernel BUG at (?:\S*/)?mm/usercopy\.c") == ("kernel BUG at ", "mm/usercopy.c")
    assert required_literals(r"Oops: (?:Kernel access|Exception)") == ("Oops: ",)
    assert required_literals(r"abcd?e") == ("abc", "e")  # "d" is optional
    assert required_literals(r"ab{0,2}cd") == ("cd", "a")
    assert required_literals(r"int3|NMI") == ()  # either: neither is sure
    assert required_literals(r"(?i)warning") == ()
    assert required_literals(r"[(|)]xyz") == ("xyz",)  # a class's "|" and parentheses are members


def test_every_title_literal_is_in_every_line_its_title_matches(corpus: Path) -> None:
    # title_search answers None without the regexp when the literal is absent: over the header
    # lines of the corpus and the lab logs, that must never hide a match.
    files = [p for d in (DATA, corpus) for p in sorted(d.rglob("*")) if p.is_file() and p.suffix != ".json"]
    lines = {ln for path in files for ln in path.read_text(errors="replace").splitlines()
             if _HEADER_RE.search(ln)}
    assert len(lines) > 1000
    for oops in OOPSES:
        for f in oops.formats:
            literals = required_literals(expand(f.title))
            assert all(lit in f.title.replace("\\", "") for lit in literals), (f.title, literals)
            for ln in lines:
                if f.title_re.search(ln):
                    assert all(lit in ln for lit in literals), (f.title, ln)
                    assert f.title_search(ln) is not None


def test_a_formats_skip_list_answers_as_its_regexp_would() -> None:
    # Plain patterns ("spin_", "^msleep", "^ssleep$") are string tests: the same answers as the
    # alternation searched as a regexp, on real frame names and on names made to hit each anchor.
    names = {m.group(1) for path in sorted(DATA.rglob("*")) if path.is_file()
             for m in re.finditer(r"([A-Za-z_][\w.]*)\+0x", path.read_text(errors="replace"))}
    skips = {f.stack.skip for o in OOPSES for f in o.formats if f.stack is not None and f.stack.skip}
    for skip in skips:
        made = {p.strip("^$") for p in skip} | {"x" + p.strip("^$") + "x" for p in skip}
        alternation = re.compile("|".join(skip))
        for name in names | made:
            expected = skipped(name) or alternation.search(name) is not None
            assert _skip_re(skip).search(name) == expected, (skip, name)


def test_each_title_replacement_needs_the_text_it_is_skipped_without() -> None:
    # normalize runs a replacement only on titles holding its needed text: that text must be in
    # every match, so a plain part of its regexp.
    for (pat, _), needs in zip(REPLACEMENTS, _NEEDS, strict=True):
        assert needs in pat.pattern.replace("\\", ""), (pat.pattern, needs)
    assert normalize("WARNING in foo+0x1/0x2 at bar.c:12 on CPU#3, 10.0.0.1:\t x") == \
        "WARNING in foo at bar.c:LINE on CPU, IP: x"
    assert sanitize("a\tb  c\x01é ") == "a b c"
