"""Netconsole datagrams to records, one sender's stream, and the crash cutter, on real lab logs."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from tests.channels.netconsole_wire import as_console, extended, log_datagrams, plain_datagrams, records

from crashhub import triage
from crashhub.channels import Cut, DatagramError, NetconsoleCrash, Stream, StreamLimits, judge, parse_header
from crashhub.channels._netconsole import MAX_PARTIALS, MAX_RECORD, Reassembly, record, unescape
from crashhub.channels._stream import LINE_COST

LAB = Path(__file__).resolve().parents[1] / "triage" / "data" / "lab"
CASES = ["6.1-null-1", "6.12-gpf-1", "6.1-softlockup-1", "6.12-hung-1", "6.1-oom-1", "6.12-atomic_sysrq-1",
         "6.12-stack_overflow-1"]


def lab_log(name: str) -> str:
    return (LAB / f"{name}.vmcore-dmesg.txt").read_text()


def run(stream: Stream, datagrams: list[bytes], t: float = 1000.0) -> list[NetconsoleCrash]:
    """Feed datagrams (one a millisecond), let the stream fall quiet, judge every cut as the
    receiver does (settling each), and return the crashes."""
    cuts: list[Cut] = []
    for i, d in enumerate(datagrams):
        cuts += stream.feed(d, t + i / 1000)
    cuts += stream.tick(t + len(datagrams) / 1000 + stream.limits.quiet + 1)
    return settle(stream, cuts)


def settle(stream: Stream, cuts: list[Cut]) -> list[NetconsoleCrash]:
    out = []
    for cut in cuts:
        crash = judge(cut)
        stream.settle(cut, crash is not None)
        if crash is not None:
            out.append(crash)
    return out


# --------------------------------------------------------------------------- the wire format
def test_extended_header_fields_release_caller_and_dictionary() -> None:
    (d,) = extended(17, 5_123_456, "usb 1-1: new device", level=14, release="6.12.118+deb12-cloud-amd64",
                    caller="T42",
                    dict_lines=("SUBSYSTEM=usb", "DEVICE=c189:1", "cpu=3", "taskname=kworker/0:1"))
    parsed = parse_header(d)
    assert parsed is not None
    h, body = parsed
    assert (h.seq, h.ts_us, h.level, h.caller, h.release, h.frag) == (
        17, 5_123_456, 6, "T42", "6.12.118+deb12-cloud-amd64", None)
    r = record(h, body)
    assert r.text == "usb 1-1: new device"
    assert r.fields == (("SUBSYSTEM", "usb"), ("DEVICE", "c189:1"), ("cpu", "3"), ("taskname", "kworker/0:1"))
    # /dev/kmsg's format without the release prefix (6.1's netconsole=+...)
    h2, _ = parse_header(b"4,0,0,-;Linux version 6.1.0-57-cloud-amd64\n") or pytest.fail("not parsed")
    assert (h2.seq, h2.level, h2.release) == (0, 4, None)


def test_plain_text_is_not_taken_for_extended() -> None:
    assert parse_header(b"[   12.345678] ACPI: a;b\n") is None
    assert parse_header(b"6,1,2;x\n") is None  # three numbers and no flags: not the format
    assert parse_header(b"\xff\xfe,1,2,-;x") is None


def test_escaped_bytes_come_back_as_printk_wrote_them() -> None:
    # printk escapes control bytes, bytes from 0x7f and the backslash (msg_add_ext_text)
    assert unescape(b"a\\x5cb\\x09c") == "a\\b\tc"
    assert unescape("café".encode().replace(b"\xc3\xa9", b"\\xc3\\xa9")) == "café"
    assert unescape(b"bad \\xzz stays") == "bad \\xzz stays"
    (d,) = extended(3, 1_000_000, "first line\nsecond line")  # a message with a newline in it
    assert b"\\x0a" in d
    s = Stream("10.0.0.1:6665")
    s.feed(d, 1.0)
    assert s.stats.lines == 2
    s.feed(extended(4, 2_000_000, "BUG: kernel NULL pointer dereference, address: 0000000000000000")[0], 1.0)
    (cut,) = s.tick(100.0)
    assert cut.crash.text.startswith("[    1.000000] first line\n[    1.000000] second line\n")


def test_fragments_reassembled_in_and_out_of_order() -> None:
    long = "Modules linked in: " + " ".join(f"mod{i}(E)" for i in range(400))
    frags = extended(9, 7_000_000, long, release="6.1.0-57-cloud-amd64", dict_lines=("cpu=1",))
    assert len(frags) >= 4 and all(len(f) <= 1000 and b",ncfrag=" in f for f in frags)
    for order in (frags, frags[::-1], [frags[2], frags[0], frags[3], frags[1], *frags[4:]]):
        s = Stream("10.0.0.1:6665")
        for f in [*order, order[0]]:  # a repeated fragment is a duplicate datagram, not more text
            s.feed(f, 1.0)
        assert s.stats.lines == 1 and s.stats.refused == 0
        assert s._window[0][2] == f"[    7.000000] {long}"
        assert s.release == "6.1.0-57-cloud-amd64"


def test_hostile_fragments_are_bounded() -> None:
    with pytest.raises(DatagramError, match="larger than a record"):
        parse_header(b"6,1,2,-,ncfrag=0/999999999;x")
    with pytest.raises(DatagramError, match="past the total"):
        parse_header(b"6,1,2,-,ncfrag=50/50;x")
    with pytest.raises(DatagramError):
        parse_header(b"6,1,2,-,ncfrag=a/b;x")
    r = Reassembly()
    with pytest.raises(DatagramError, match="does not fit"):
        r.add(1, 90, 100, b"x" * 20)  # runs past the total it announced
    r.add(2, 0, 100, b"x" * 10)
    with pytest.raises(DatagramError):
        r.add(2, 10, 200, b"x" * 10)  # another total for the same record
    # Endless fragments of records that never finish: at most MAX_PARTIALS kept at once.
    for seq in range(1000):
        assert r.add(100 + seq, 0, MAX_RECORD, b"y" * 900) is None
    assert len(r._partials) == MAX_PARTIALS and r.dropped >= 1000 - MAX_PARTIALS


def test_junk_and_floods_keep_the_stream_bounded() -> None:
    rng = random.Random(19)
    s = Stream("10.0.0.9:6665", StreamLimits(max_bytes=64 * 1024))
    for _ in range(3000):
        s.feed(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 1100))), 1.0)
    s.feed(b"x" * 65000, 1.0)  # no netconsole datagram is this long
    assert s.stats.refused >= 1
    assert s.kept_bytes <= 64 * 1024 + 9000  # the window's bound, plus one unfinished line
    # An extended sender flooding headers with a new sequence number each: held back, then gaps.
    e = Stream("10.0.0.8:6665", StreamLimits(max_bytes=64 * 1024, reorder=16))
    e.feed(extended(0, 1, "start")[0], 1.0)
    for i in range(2, 5000, 2):
        e.feed(extended(i, 10 + i, "WARNING: CPU: 0 PID: 1 at x.c:1 f+0x0/0x10")[0], 1.0)
    assert len(e._held) <= 16 and e.kept_bytes <= 64 * 1024 + 17 * (LINE_COST + 100)
    assert e.stats.gaps >= 2000


# --------------------------------------------------------------------------- order, gaps, duplicates
def test_gaps_are_reported_and_duplicates_dropped() -> None:
    log = lab_log("6.1-null-1")
    grams = log_datagrams(log)
    lost = {40, 41, 42, 100}
    sent = [d for i, d in enumerate(grams) if i not in lost]
    sent.insert(10, grams[5])  # a late duplicate
    sent[200], sent[201] = sent[201], sent[200]  # reordered on the way
    s = Stream("10.0.0.1:6665", StreamLimits(hold=0.5))
    (crash,) = run(s, sent)
    assert s.stats.duplicates == 1
    assert s.stats.gaps == 2 and s.stats.missing == 4
    assert crash.gaps == ((40, 42), (100, 100)) and crash.missing == 4
    assert (crash.first_seq, crash.last_seq) == (0, len(grams) - 1)
    assert "4 messages missing" in " ".join(crash.notes())
    # the reordered pair is back in order: only the lost records are missing from the text
    want = [ln for i, ln in enumerate(as_console(log).splitlines()) if i not in lost]
    assert crash.text.splitlines() == want


def test_a_new_boot_restarts_the_numbering() -> None:
    s = Stream("10.0.0.1:6665")
    for i in range(50):
        s.feed(extended(i, 20_000_000 + i, f"line {i}")[0], 1.0)
    banner = "Linux version 6.12.118+deb12-cloud-amd64 (debian-kernel@lists.debian.org) #1 SMP"
    s.feed(extended(0, 0, banner)[0], 2.0)
    s.feed(extended(1, 5, "Command line: console=ttyS0")[0], 2.0)
    assert s.stats.duplicates == 0 and s.stats.gaps == 0
    assert s.release == "6.12.118+deb12-cloud-amd64" and len(s._window) == 2


# --------------------------------------------------------------------------- the cutter on real logs
@pytest.mark.parametrize("name", CASES)
def test_the_crash_cut_from_the_stream_is_the_dumps_log(name: str) -> None:
    """Every line of a lab crash's vmcore-dmesg, sent as extended netconsole (6.6's release prefix),
    comes out as one crash whose text is that log and that triage reads the same."""
    log = lab_log(name)
    want = triage.parse(log)
    s = Stream("192.0.2.7:6665")
    (crash,) = run(s, log_datagrams(log, release=want[0].release))
    assert crash.text == as_console(log)
    got = triage.parse(crash.text)
    assert (got[0].kind, got[0].title, got[0].release) == (want[0].kind, want[0].title, want[0].release)
    assert crash.ended == "quiet" and crash.extended and crash.release == want[0].release
    assert crash.gaps == () and crash.first_time < crash.last_time


def test_plain_netconsole_lines_span_datagrams() -> None:
    log = lab_log("6.12-null-1")
    grams = plain_datagrams(log, 333)  # cuts fall inside lines
    s = Stream("192.0.2.7:6666")
    (crash,) = run(s, grams)
    assert crash.text == log and not crash.extended and crash.first_seq is None
    assert crash.release == triage.parse(log)[0].release  # from the banner


def test_the_next_boot_banner_cuts_at_once_and_lines_after_a_cut_are_the_next_crash() -> None:
    first, second = lab_log("6.1-gpf-1"), lab_log("6.1-bug-1")
    s = Stream("192.0.2.7:6665")
    cuts: list[Cut] = []
    for d in log_datagrams(first):
        cuts += s.feed(d, 10.0)
    assert cuts == []
    for d in log_datagrams(second):  # seq 0 and a banner: the first crash is cut, not a tick needed
        cuts += s.feed(d, 11.0)
    crashes = settle(s, cuts)
    assert [c.ended for c in crashes] == ["banner"]
    assert crashes[0].text == as_console(first)
    crashes += settle(s, s.tick(100.0))
    assert [triage.parse(c.text)[0].kind for c in crashes] == ["gpf", "bug"]
    assert crashes[1].text == as_console(second)


def test_a_warning_the_host_survives_is_no_crash_and_a_later_oops_is() -> None:
    warn = lab_log("6.1-warn-1")
    cut_at = warn.index("Kernel panic")  # the host without panic_on_warn lives on
    lived = warn[: warn.rindex("\n", 0, cut_at) + 1]
    assert triage.parse(lived)[0].kind == "warning" and not triage.parse(lived)[0].fatal
    s = Stream("192.0.2.7:6665", StreamLimits(quiet=5.0, report_wait=30.0))
    grams = log_datagrams(lived)
    t = 0.0
    cuts: list[Cut] = []
    for d in grams:
        cuts += s.feed(d, t)
    n = len(grams)
    for i in range(60):  # the host goes on printing, never quiet for 5 s: judged 30 s after the warning
        t += 1.0
        cuts += s.feed(extended(n + i, 900_000_000 + i, f"systemd[1]: tick {i}")[0], t)
        cuts += s.tick(t)
    assert len(cuts) == 1 and cuts[0].crash.ended == "wait"
    assert settle(s, cuts) == []
    oops = [text for _, text in records(lab_log("6.1-null-1"))]
    start = next(i for i, text in enumerate(oops) if text.startswith("BUG: kernel NULL pointer"))
    for j, text in enumerate(oops[start:]):
        cuts = s.feed(extended(n + 60 + j, 950_000_000 + j, text)[0], t)
        assert cuts == []
    (crash,) = settle(s, s.tick(t + 10))
    primary = triage.parse(crash.text)[0]
    booted = triage.parse(lived)[0].release
    assert primary.kind == "null_deref" and primary.release == booted  # this boot's banner is kept
    assert crash.text.startswith(f"[    0.000000] Linux version {booted} ")


def test_a_full_window_judges_the_report_before_dropping_it() -> None:
    log = lab_log("6.12-gpf-1")
    s = Stream("192.0.2.7:6665", StreamLimits(max_bytes=16 * 1024))
    grams = log_datagrams(log)
    cuts: list[Cut] = []
    for i, d in enumerate(grams):
        cuts += s.feed(d, i / 1000)
    for i in range(400):  # chatter after the oops pushes the report out of a 16 KiB window
        cuts += s.feed(extended(len(grams) + i, 99_000_000 + i, "x" * 100)[0], 1.0)
    (crash,) = settle(s, cuts)
    assert crash.ended == "full" and triage.parse(crash.text)[0].kind == "gpf"
    assert s.kept_bytes <= 16 * 1024


def test_netconsole_crash_round_trips() -> None:
    log = lab_log("6.1-null-1")
    grams = log_datagrams(log)
    (crash,) = run(Stream("[2001:db8::7]:6665", StreamLimits(hold=0.1)), grams[:30] + grams[31:])
    assert crash.gaps == ((30, 30),)
    assert NetconsoleCrash.from_dict(json.loads(json.dumps(crash.to_dict()))) == crash
    with pytest.raises(ValueError, match="ended"):
        NetconsoleCrash.from_dict({**crash.to_dict(), "ended": "never"})


def test_a_sender_switched_to_extended_is_read_as_extended() -> None:
    s = Stream("192.0.2.7:6665")
    s.feed(b"[    1.000000] plain line\n[    2.0000", 1.0)
    assert s.extended is False
    s.feed(extended(40, 3_000_000, "now extended")[0], 2.0)
    assert s.extended is True
    kept = [t for _, _, t in s._window]
    assert kept == ["[    1.000000] plain line", "[    2.0000", "[    3.000000] now extended"]
