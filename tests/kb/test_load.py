"""Loading and validating entry files: every error names file, line and field."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crashhub.errors import KbError
from crashhub.kb import (
    SCHEMA_ID,
    KbEntry,
    ReleaseRange,
    check_paths,
    dump_entry,
    load_dir,
    load_examples,
    load_starter,
    parse_entry,
)

GOOD = """\
schema: crashhub-kb/1
id: ext4-mb-lockup
title: ext4 allocator soft lockup on huge filesystems
status: investigating
match:
  kinds: [soft_lockup, rcu_stall]
  function: ^ext4_mb_
  frame: ext4_mb_regular_allocator
  modules: [ext4]
  taint: O
  releases:
    - introduced_in: 6.1.0-50
      fixed_in: 6.1.0-57
    - fixed_in: 5.14.0-362.8.1.el9_3
  hardware: PowerEdge
cause: |
  The allocator scans every group.
advice: |
  Upgrade, or mount with `mb_optimize_scan=1`.
references:
  - https://example.org/bug/1
  - rhbz#123456
"""


def _err(text: str) -> KbError:
    with pytest.raises(KbError) as info:
        parse_entry(text, "kb/x.yaml")
    return info.value


def test_good_entry() -> None:
    e = parse_entry(GOOD, "kb/ext4-mb-lockup.yaml")
    assert e.id == "ext4-mb-lockup" and e.status == "investigating" and not e.generic
    assert e.rule.kinds == ("soft_lockup", "rcu_stall")
    assert e.rule.releases == (ReleaseRange("6.1.0-50", "6.1.0-57"),
                               ReleaseRange(None, "5.14.0-362.8.1.el9_3"))
    assert e.references == ("https://example.org/bug/1", "rhbz#123456")
    assert e.schema == SCHEMA_ID and e.path == "kb/ext4-mb-lockup.yaml"


def test_round_trip_through_yaml_and_dict() -> None:
    e = parse_entry(GOOD, "a.yaml")
    assert parse_entry(dump_entry(e), "b.yaml") == e
    assert KbEntry.from_dict(e.to_dict(), path="api") == e
    for shipped in load_starter() + load_examples():
        assert parse_entry(dump_entry(shipped), "c.yaml") == shipped


@pytest.mark.parametrize(("text", "line", "field", "words"), [
    (GOOD.replace("function: ^ext4_mb_", "function: ^ext4_mb_("), 7, "match.function", "bad regex"),
    (GOOD.replace("  taint: O", "  tiant: O"), 10, "match.tiant", "unknown field 'tiant'"),
    (GOOD.replace("status: investigating", "status: 7"), 4, "status", "expected a string"),
    (GOOD.replace("status: investigating", "status: closed"), 4, "status", "unknown status"),
    (GOOD.replace("rcu_stall]", "rcu_stal]"), 6, "match.kinds[1]", "unknown kind"),
    (GOOD.replace("taint: O", "taint: OQ"), 10, "match.taint", "unknown taint letter"),
    (GOOD.replace("modules: [ext4]", "modules: ['ext 4']"), 9, "match.modules[0]", "not a module name"),
    (GOOD.replace("fixed_in: 6.1.0-57", "fixed_in: 6.1.0-40"), 12, "match.releases[0]", "not before"),
    (GOOD.replace("fixed_in: 6.1.0-57", "fixed_in: 5.14.0-1.el9"), 12, "match.releases[0]", "different"),
    (GOOD.replace("fixed_in: 6.1.0-57", "fixed_in: soon"), 13, "match.releases[0].fixed_in", "not a kernel"),
    (GOOD.replace("id: ext4-mb-lockup", "id: Ext4 Lockup"), 2, "id", "lower-case"),
    (GOOD.replace("  - rhbz#123456", "  - {bug: 1}"), 22, "references[1]", "expected a string"),
    (GOOD.replace("title: ext4", "owner: me\ntitle: ext4"), 3, "owner", "unknown field 'owner'"),
    (GOOD.replace("status: investigating", "status: known\nstatus: fixed"), 5, "status", "given twice"),
    (GOOD.replace("generic", "x") + "generic: yes please\n", 23, "generic", "true or false"),
    (GOOD.replace("hardware: PowerEdge", "hardware: '" + "a" * 600 + "'"), 15, "match.hardware", "longer"),
])
def test_errors_name_line_and_field(text: str, line: int, field: str, words: str) -> None:
    e = _err(text)
    assert (e.path, e.line, e.field) == ("kb/x.yaml", line, field), str(e)
    assert words in e.message
    assert str(e).startswith(f"kb/x.yaml:{line}: field {field!r}: ")


def test_structural_errors() -> None:
    assert "required field 'match'" in str(_err("id: a\ntitle: b\n"))
    e = _err("id: a\ntitle: b\nmatch: {}\n")
    assert e.field == "match" and "no rule" in e.message and e.line == 3
    e = _err("id: a\ntitle: [unclosed\nmatch: {kinds: [oom]}\n")
    assert "not valid YAML" in e.message and e.line == 3
    assert "mapping" in _err("- just\n- a list\n").message
    assert "empty" in _err("").message
    assert "another document" in _err("id: a\n---\nid: b\n").message
    e = _err("id: a\ntitle: !!python/object:os.system x\nmatch: {kinds: [oom]}\n")
    assert e.line == 2 and "constructor" in e.message and "\n" not in str(e)


def test_alias_bomb_is_bounded() -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    for i in range(1, 8):
        name, prev = chr(97 + i), chr(96 + i)
        bomb += f"{name}: &{name} [*{prev}, *{prev}, *{prev}, *{prev}]\n"
    assert "YAML nodes" in _err(bomb).message


def test_numbers_that_look_like_versions_stay_versions() -> None:
    text = GOOD.replace("    - fixed_in: 5.14.0-362.8.1.el9_3\n", "    - introduced_in: 6.10\n")
    e = parse_entry(text, "x.yaml")
    assert e.rule.releases[1] == ReleaseRange("6.10", None)  # not the float 6.1


def test_load_dir_name_order_and_file_checks(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("not an entry")
    for name in ("b-two", "a-one"):
        (tmp_path / f"{name}.yaml").write_text(f"id: {name}\ntitle: t\nmatch: {{kinds: [oom]}}\n")
    assert [e.id for e in load_dir(tmp_path)] == ["a-one", "b-two"]

    (tmp_path / "c-three.yml").write_text("id: not-c\ntitle: t\nmatch: {kinds: [oom]}\n")
    with pytest.raises(KbError) as info:
        load_dir(tmp_path)
    assert info.value.field == "id" and info.value.line == 1 and "file name" in info.value.message


def test_check_paths_collects_every_problem(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "dup.yaml").write_text("id: dup\ntitle: t\nmatch: {kinds: [oom]}\n")
    (b / "dup.yaml").write_text("id: dup\ntitle: t\nmatch: {kinds: [mce]}\n")
    (b / "bad.yaml").write_text("id: bad\ntitle: t\nmatch: {kinds: [oom], title: '('}\n")
    (b / "bin.yaml").write_bytes(b"id: \xff\n")
    entries, errors = check_paths([a, b, tmp_path / "missing"])
    assert [e.id for e in entries] == ["dup"]
    msgs = sorted(str(e) for e in errors)
    assert len(msgs) == 4, msgs
    assert any("bad.yaml:3: field 'match.title': bad regex" in m for m in msgs)
    assert any("also defined in" in m for m in msgs)
    assert any("not UTF-8" in m for m in msgs)
    assert any("missing" in m and "no such" in m for m in msgs)


def test_oversized_file_is_refused(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_text("id: big\ntitle: t\nmatch: {kinds: [oom]}\ncause: '" + "x" * 300_000 + "'\n")
    _, errors = check_paths([tmp_path])
    assert len(errors) == 1 and "larger than" in errors[0].message


def test_from_dict_validates_like_the_loader() -> None:
    with pytest.raises(KbError) as info:
        KbEntry.from_dict({"id": "x", "title": "t", "match": {"function": "a[", "kinds": ["oom"]}},
                          path="api")
    assert info.value.field == "match.function" and info.value.line is None and info.value.path == "api"
    with pytest.raises(KbError):
        KbEntry.from_dict(["not", "a", "mapping"])


@given(st.text(max_size=200), st.text(min_size=1, max_size=100).filter(str.strip),
       st.lists(st.text(min_size=1, max_size=50).filter(str.strip), max_size=4))
@settings(max_examples=200, deadline=None)
def test_round_trip_of_arbitrary_text(advice: str, title: str, refs: list[str]) -> None:
    base = parse_entry("id: a\ntitle: t\nmatch: {kinds: [oom]}\n", "a.yaml")
    e = dataclasses.replace(base, advice=advice, cause=advice, title=title, references=tuple(refs))
    assert parse_entry(dump_entry(e), "a.yaml") == e
