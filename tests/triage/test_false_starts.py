"""A false start never hides a real report (issue 16, class 7).

A program echoing a crash title, or a log collector's header, puts a line that looks like a report's
header before the real one.  Whatever title is quoted, and before whichever real crash, triage must
still find the real report with the same title, guilty frame and bucket.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.labdata import LOGS

from crashhub.classify import signature
from crashhub.triage import parse

# A program's own output on the kernel's console or in its log, quoting a title: with a syslog tag
# ("name[pid]: "), or a header no format accepts without a trace of its own.
QUOTED = (
    "myprog[321]: INFO: rcu detected stall in foo",
    "collector[77]: WARNING: CPU: 0 PID: 1 at lib/foo.c:12 bar+0x1/0x2",
    "syz-executor.0[4242]: BUG: kernel NULL pointer dereference, address: 0000000000000000",
    "echo: general protection fault, probably for non-canonical address 0xdead",
    "logger[9]: INFO: task kworker/0:1:12 blocked for more than 120 seconds.",
    "monitor: INFO: rcu detected stall in foo",
)
CASES = sorted(p for p in Path(LOGS).glob("*-1.vmcore-dmesg.txt"))


def _before_report(text: str, line: str, back: int = 3) -> str:
    lines = text.splitlines(keepends=True)
    start = parse(text)[0].start_line
    at = max(0, start - back)
    stamp = lines[at].split("]", 1)[0] + "] " if lines[at].startswith("[") else ""
    return "".join([*lines[:at], stamp + line + "\n", *lines[at:]])


@pytest.mark.parametrize("log", CASES, ids=[p.name.removesuffix(".vmcore-dmesg.txt") for p in CASES])
@pytest.mark.parametrize("quoted", QUOTED, ids=range(len(QUOTED)))
def test_quoted_title_before_a_real_report(log: Path, quoted: str) -> None:
    text = log.read_text(errors="replace")
    want = parse(text)[0]
    got = parse(_before_report(text, quoted))
    assert got, f"the quoted line hid the real report: {quoted!r}"
    primary = got[0]
    assert (primary.kind, primary.title) == (want.kind, want.title)
    assert signature(primary).key == signature(want).key
