"""A false start never hides a real report (issue 16, class 7).

A program echoing a crash title, or a log collector's header, puts a line that looks like a report's
header before the real one.  Whatever title is quoted, and before whichever real crash, triage must
still find the real report with the same title, guilty frame and bucket, as the primary.

Three shapes: a line behind a program's syslog tag ("name[pid]: ") or prefix ("monitor: ") with
the kernel's timestamp (through /dev/kmsg), and any such line, bare kernel-looking ones too,
without a timestamp amid stamped lines (a program writing to the serial console).  A bare,
stamped header cut to its first line stays a crash, as syzkaller counts it (its cases 114, 154).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.labdata import LOGS

from crashhub.classify import signature
from crashhub.triage import parse

# A program's own output quoting a title: with a syslog tag, a plain prefix, or a header no format
# accepts without a trace of its own.
QUOTED = (
    "myprog[321]: INFO: rcu detected stall in foo",
    "collector[77]: WARNING: CPU: 0 PID: 1 at lib/foo.c:12 bar+0x1/0x2",
    "syz-executor.0[4242]: BUG: kernel NULL pointer dereference, address: 0000000000000000",
    "echo: general protection fault, probably for non-canonical address 0xdead",
    "logger[9]: INFO: task kworker/0:1:12 blocked for more than 120 seconds.",
    "monitor: INFO: rcu detected stall in foo",
    "myprog: INFO: rcu_sched self-detected stall on CPU",
    "logger: INFO: task kworker/0:1:12 blocked for more than 120 seconds.",
    "monitor: WARNING: CPU: 0 PID: 1 at lib/foo.c:12 bar+0x1/0x2",
    "watchdog-agent: BUG: soft lockup - CPU#0 stuck for 22s! [foo:1]",
)
# Kernel-looking lines without a prefix: only as console noise (no timestamp) are they not the kernel's.
BARE = (
    "WARNING: CPU: 0 PID: 1 at lib/foo.c:12 bar+0x1/0x2",
    "INFO: task kworker/0:1:12 blocked for more than 120 seconds.",
    "Kernel panic - not syncing: foo",
    "BUG: kernel NULL pointer dereference, address: 0000000000000000",
)
CASES = sorted(p for p in Path(LOGS).glob("*-1.vmcore-dmesg.txt"))


def _before_report(text: str, line: str, back: int = 3, stamped: bool = True) -> str:
    lines = text.splitlines(keepends=True)
    start = parse(text)[0].start_line
    at = max(0, start - back)
    stamp = lines[at].split("]", 1)[0] + "] " if stamped and lines[at].startswith("[") else ""
    return "".join([*lines[:at], stamp + line + "\n", *lines[at:]])


def _same_primary(text: str, quoted: str, back: int, stamped: bool) -> None:
    want = parse(text)[0]
    got = parse(_before_report(text, quoted, back, stamped))
    assert got, f"the quoted line hid the real report: {quoted!r}"
    primary = got[0]
    assert (primary.kind, primary.title) == (want.kind, want.title)
    assert signature(primary).key == signature(want).key


@pytest.mark.parametrize("log", CASES, ids=[p.name.removesuffix(".vmcore-dmesg.txt") for p in CASES])
@pytest.mark.parametrize("quoted", QUOTED, ids=range(len(QUOTED)))
@pytest.mark.parametrize("stamped", (True, False), ids=("stamped", "console"))
def test_quoted_title_before_a_real_report(log: Path, quoted: str, stamped: bool) -> None:
    text = log.read_text(errors="replace")
    for back in (1, 3):
        _same_primary(text, quoted, back, stamped)


@pytest.mark.parametrize("log", CASES, ids=[p.name.removesuffix(".vmcore-dmesg.txt") for p in CASES])
@pytest.mark.parametrize("bare", BARE, ids=range(len(BARE)))
def test_console_noise_before_a_real_report(log: Path, bare: str) -> None:
    _same_primary(log.read_text(errors="replace"), bare, 3, stamped=False)
