"""``CrashReport.to_dict`` / ``from_dict`` round-trip: every field survives the store.

A field dropped on the way back (as ``panic_message``, ``timestamp`` and ``caller`` once were) makes a
KB entry that matches it stop matching when buckets are re-matched from stored reports.
"""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from tests.labdata import LOGS

from crashhub.ingest.reports import report_from_dict
from crashhub.model import CrashReport, Frame, Process, Taint
from crashhub.triage import parse_file

_text = st.text(max_size=12)
_opt_text = st.none() | _text
_opt_int = st.none() | st.integers(min_value=0, max_value=1 << 64)
_frames = st.builds(Frame, function=_opt_text, offset=_opt_int, size=_opt_int, module=_opt_text,
                    address=_opt_int, reliable=st.booleans(), context=st.sampled_from(["task", "irq", "nmi"]),
                    file=_opt_text, line=st.none() | st.integers(min_value=0, max_value=100_000))
_reports = st.builds(
    CrashReport, kind=_text, title=_text, message=_opt_text, fatal=st.booleans(),
    guilty=st.none() | _frames, rip=st.none() | _frames, frames=st.lists(_frames, max_size=4).map(tuple),
    registers=st.dictionaries(st.sampled_from(["rip", "rsp", "rax"]), st.integers(0, (1 << 64) - 1)),
    process=st.none() | st.builds(Process, comm=_opt_text, pid=st.none() | st.integers(0, 1 << 22)),
    cpu=st.none() | st.integers(0, 4096),
    taint=st.none() | st.builds(Taint, letters=_text, flags=st.lists(_text, max_size=3).map(tuple)),
    release=_opt_text, version=_opt_text, hardware=_opt_text, bios=_opt_text, arch=_opt_text,
    modules=st.lists(_text, max_size=4).map(tuple), start_line=st.integers(0, 10**6),
    end_line=st.integers(0, 10**6), corrupted=st.booleans(), corrupted_reason=_opt_text, text=_text,
    panic_message=_opt_text, timestamp=st.none() | st.floats(0, 1e9, allow_nan=False),
    caller=_opt_text,
)


@settings(max_examples=300, deadline=None)
@given(_reports)
def test_every_report_round_trips_through_json(r: CrashReport) -> None:
    back = report_from_dict(json.loads(json.dumps(r.to_dict())))
    assert back == r


def test_real_reports_round_trip() -> None:
    """Every report triage finds in the kept lab logs, panic line and caller ids included."""
    seen_panic = 0
    for log in sorted(Path(LOGS).glob("*.vmcore-dmesg.txt")):
        for r in parse_file(log):
            assert CrashReport.from_dict(json.loads(json.dumps(r.to_dict()))) == r, log.name
            seen_panic += r.panic_message is not None
    assert seen_panic > 0  # the field that was once dropped is really exercised


def test_old_rows_and_new_keys() -> None:
    """A row stored before a field existed gets its default; a key from a newer version is ignored."""
    r = CrashReport.from_dict({"kind": "oops", "title": "t", "added_later": 1})
    assert r == CrashReport(kind="oops", title="t")
