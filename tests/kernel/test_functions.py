"""crashhub.kernel function names: the one base-name rule (triage's and analyze's old cases) and the
skip list moved from classify."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from crashhub.kernel import SKIP, SKIP_GROUPS, base_name, compile_skip, skipped, strip_prefix


@pytest.mark.parametrize(("raw", "base"), [
    # triage/frames' old cases
    ("foo.isra.0", "foo"), ("foo.constprop.3", "foo"), ("foo.part.1", "foo"), ("foo.cold", "foo"),
    ("foo.isra.56.cold.74", "foo"), ("foo", "foo"),
    # analyze's old cases: crash's ELF symbol against drgn's DWARF name
    ("__handle_sysrq.cold", "__handle_sysrq"), ("f.constprop.0.isra.0", "f"),
    # what only one of the two folded, and clang's
    ("f.localalias", "f"), ("f.llvm.12345678901234567", "f"), ("f.lto_priv.0", "f"), ("f.part.0.cold", "f"),
    ("static_local.5", "static_local"), ("__x64_sys_read", "__x64_sys_read"),
])
def test_base_name(raw: str, base: str) -> None:
    assert base_name(raw) == base


def test_strip_prefix_removes_one_prefix_the_longest() -> None:
    assert strip_prefix("__x64_sys_read") == "sys_read"
    assert strip_prefix("SyS_read") == "read"
    assert strip_prefix("__se_sys_read") == "read"
    assert strip_prefix("__do_sys_openat") == "openat"
    assert strip_prefix("ksys_write") == "write"
    assert strip_prefix("vfs_read") == "vfs_read"


def test_skip_list_is_the_groups_in_order() -> None:
    assert tuple(p for g in SKIP_GROUPS.values() for p in g) == SKIP
    skip = compile_skip()
    for plumbing in ("dump_stack", "warn_slowpath_fmt", "__kmalloc", "_raw_spin_lock", "memcpy", "kasan_rep"):
        assert skip.search(plumbing), plumbing
    for guilty in ("crashmod_init", "ext4_fill_super", "tcp_v4_rcv"):
        assert not skip.search(guilty), guilty
    assert compile_skip(("^crashmod_",)).search("crashmod_init")


def test_skipped_answers_as_the_skip_list_regexp() -> None:
    # skipped() splits the list (exact names, prefixes, suffixes, a trie of plain text, the rest):
    # the same answers as compile_skip() on real frame names and on names made around each pattern.
    data = Path(__file__).resolve().parent.parent / "triage" / "data"
    names = {m.group(1) for path in sorted(data.rglob("*")) if path.is_file()
             for m in re.finditer(r"([A-Za-z_][\w.]*)\+0x", path.read_text(errors="replace"))}
    for p in SKIP:
        text = p.strip("^$")
        names |= {text, "x" + text, text + "x", "x" + text + "x", text + "\n", text[:-1], text[1:]}
    assert len(names) > 1000
    skip = compile_skip()
    for name in names:
        assert skipped(name) == (skip.search(name) is not None), name
