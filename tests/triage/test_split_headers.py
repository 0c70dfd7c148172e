"""Class 6 of issue 16: a header cut by another CPU's output is read whole again.

A console prints a record in pieces; another CPU's line lands in the middle of the header with its
own timestamp, and the header's rest follows on a line of its own without one (the shapes of
syzkaller's cases 84 and 217: "...[#1] [ 387.811073] audit: ...", "...bytes[   76.471107] BUG: ...").
Hung-task titles came out as "INFO: t" or "INFO: task".  Every kept lab crash, its header cut at
every third character after the header word, in both shapes: the primary report is the same.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from tests.labdata import LOGS

from crashhub.classify import signature
from crashhub.triage import parse
from crashhub.triage._oops import find_oops

CASES = sorted(p for p in Path(LOGS).glob("*-1.vmcore-dmesg.txt"))
OTHER = "e1000e: eth0 NIC Link is Up 1000 Mbps Full Duplex, Flow Control: None"


def _split(text: str, cut: int, embedded: bool) -> tuple[str, str]:
    """The log with its primary's header line cut after ``cut`` characters of the message."""
    lines = text.splitlines(keepends=True)
    at = parse(text)[0].start_line
    m = re.match(r"(\[ *\d+\.\d+\] )(.*)\n", lines[at])
    assert m is not None
    stamp, message = m.groups()
    piece, rest = message[:cut], message[cut:]
    if embedded:  # "INFO: t[   21.140761] e1000e: ..." then "ask sh:132 blocked ..."
        new = [f"{stamp}{piece}{stamp.strip()} {OTHER}\n", rest + "\n"]
    else:  # "INFO: task", then the other CPU's line, then " sh:132 blocked ..."
        new = [f"{stamp}{piece}\n", f"{stamp}{OTHER}\n", rest + "\n"]
    return "".join(lines[:at] + new + lines[at + 1 :]), piece


def _cuts(text: str) -> list[int]:
    message = re.sub(r"^\[ *\d+\.\d+\] ", "", text.splitlines()[parse(text)[0].start_line])
    oops = find_oops(message)
    assert oops is not None
    start = message.find(oops.header) + len(oops.header)
    return list(range(start, len(message), 3))


@pytest.mark.parametrize("log", CASES, ids=[p.name.removesuffix(".vmcore-dmesg.txt") for p in CASES])
@pytest.mark.parametrize("embedded", (True, False), ids=("stamp-inside", "rest-below"))
def test_a_cut_header_is_read_whole(log: Path, embedded: bool) -> None:
    text = log.read_text()
    want = parse(text)[0]
    for cut in _cuts(text):
        cut_log, piece = _split(text, cut, embedded)
        if not embedded and piece.startswith("Kernel panic - not syncing: Out of memory"):
            continue  # "Out of memory" may be the whole reason: a panic's free text has no known end
        got = parse(cut_log)[0]
        assert (got.kind, got.title) == (want.kind, want.title), piece
        assert signature(got).key == signature(want).key, piece


@pytest.mark.parametrize("kernel", ("6.1", "6.12"))
def test_hung_task_titles_are_not_cut_short(kernel: str) -> None:
    text = (LOGS / f"{kernel}-hung-1.vmcore-dmesg.txt").read_text()
    for piece in ("INFO: t", "INFO: task"):
        for embedded in (True, False):
            got = parse(_split(text, len(piece), embedded)[0])[0]
            assert (got.kind, got.title) == ("hung_task", "INFO: task hung in crashmod_write")
            assert not got.corrupted
