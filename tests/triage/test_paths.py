"""Class 4 of issue 16: a source path in a header is read, whatever the build directory was.

Debian's 6.12 builds under ``/build/reproducible-path/linux-6.12.117+deb12/``; backports carry
``~bpo12+1``, other builders ``@`` in their directories; and a caller without a symbol prints as an
address ("at lib/idr.c:527 0xffffffffc0a01234").  The header must still be read: the title names
the function the stack gives, never the path, and the bucket is the one of the plain header.  The
lab's real WARNINGs (a module's, 6.1 and 6.12; one inside the kernel, lib/idr.c) and syzkaller's
arm64 list corruption (read in place).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from bench.corpus_cases import syzkaller_log
from tests.labdata import LOGS

from crashhub.classify import signature
from crashhub.triage import parse
from crashhub.triage._frames import parse_frame

PREFIXES = (
    "/build/reproducible-path/linux-6.12.117+deb12/",
    "/usr/src/linux-6.12.117~bpo12+1/",
    "/home/builder@ci/linux/",
)
WARNINGS = ("6.1-warn-1", "6.12-warn-1", "6.1-warn_core-1")
_AT = re.compile(r"(WARNING: CPU: \d+ PID: \d+ at )(\S+) (\S+)")


@pytest.mark.parametrize("case", WARNINGS)
@pytest.mark.parametrize("prefix", PREFIXES, ids=range(len(PREFIXES)))
@pytest.mark.parametrize("symbol", (True, False), ids=("symbol", "address"))
def test_warning_header_with_any_path(case: str, prefix: str, symbol: bool) -> None:
    text = (LOGS / f"{case}.vmcore-dmesg.txt").read_text()
    want = parse(text)[0]

    def move(m: re.Match[str]) -> str:
        caller = m.group(3) if symbol else "0xffffffffc0a01234"
        return f"{m.group(1)}{prefix}{m.group(2)} {caller}"

    moved = _AT.sub(move, text, count=1)
    assert moved != text
    got = parse(moved)[0]
    assert (got.kind, got.title) == (want.kind, want.title)
    assert "/" not in got.title
    if symbol:
        assert signature(got).key == signature(want).key


def test_kernel_bug_in_list_debug_under_a_build_path(corpus: Path) -> None:
    text = syzkaller_log(corpus / "syzkaller" / "linux" / "report" / "659").decode()
    moved = text.replace("kernel BUG at lib/list_debug.c", f"kernel BUG at {PREFIXES[0]}lib/list_debug.c")
    assert moved != text
    want = "BUG: corrupted list in nilfs_sysfs_delete_device_group"
    assert parse(moved)[0].title == parse(text)[0].title == want


def test_a_symbolized_frame_under_a_build_path() -> None:
    f = parse_frame(f" dump_stack+0x194/0x257 {PREFIXES[0]}lib/dump_stack.c:53")
    assert f is not None and f.function == "dump_stack"
    assert (f.file, f.line) == (f"{PREFIXES[0]}lib/dump_stack.c", 53)
