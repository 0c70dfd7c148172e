"""The crash channels of issue 19 made by the lab on real kernels: netconsole datagrams and pstore records.

Variants ``channels`` (kdump + netconsole + ramoops read in the capture kernel) and ``channels-nokdump``
(no capture kernel: ramoops read on the boot after panic=1 reset the guest). The stream is checked as
the hub's receiver will meet it: extended headers, sequence numbers, ncfrag= fragments, the release
prepend on 6.12.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from typing import Any

import pytest
from lab.channels import release_prepend
from lab.kinds import KINDS
from lab.run import CI_CORE, LabRun

pytestmark = pytest.mark.lab

CORE = {(k, kind, v) for k, kind, v, _ in CI_CORE}


def _runs(kinds: tuple[str, ...] = ("null",)) -> list[Any]:
    return [pytest.param(kernel, kind, variant, id=f"{kernel}-{kind}-{variant}",
                         marks=() if (kernel, kind, variant) in CORE else (pytest.mark.slow,))
            for kernel in ("6.1", "6.12") for kind in kinds for variant in ("channels", "channels-nokdump")]


@dataclass(frozen=True)
class Datagram:
    t: float
    src: str
    release: str | None
    level: int
    seq: int
    ts_us: int
    flags: str
    frag: tuple[int, int] | None  # ncfrag=<offset>/<total>
    body: bytes


# [<release>,]<level>,<seq>,<ts>,<flags>[,ncfrag=<off>/<total>];  (Documentation/networking/netconsole.rst)
_HEAD = re.compile(rb"^(?:(?P<rel>\d+\.\d+[^,;]*),)?(?P<level>\d+),(?P<seq>\d+),(?P<ts>\d+),(?P<flags>[^,;]*)"
                   rb"(?:,ncfrag=(?P<off>\d+)/(?P<total>\d+))?;")


def _datagrams(run: LabRun) -> list[Datagram]:
    out = []
    for n, line in enumerate(run.path("netconsole/datagrams.jsonl").read_text().splitlines(), 1):
        obj = json.loads(line)
        assert set(obj) == {"t", "src", "data_b64"}, f"line {n}: {obj}"
        data = base64.b64decode(obj["data_b64"], validate=True)
        m = _HEAD.match(data)
        assert m, f"line {n}: no extended netconsole header: {data[:80]!r}"
        frag = (int(m["off"]), int(m["total"])) if m["off"] is not None else None
        out.append(Datagram(float(obj["t"]), obj["src"], m["rel"].decode() if m["rel"] else None,
                            int(m["level"]), int(m["seq"]), int(m["ts"]), m["flags"].decode(), frag,
                            data[m.end():]))
    return out


def _boots(grams: list[Datagram]) -> list[list[Datagram]]:
    """The stream cut where the sequence number goes back: a new boot replays its log from seq 0."""
    boots: list[list[Datagram]] = [[]]
    for g in grams:
        if boots[-1] and g.seq < boots[-1][-1].seq:
            boots.append([])
        boots[-1].append(g)
    return boots


def _messages(grams: list[Datagram]) -> dict[int, bytes]:
    """One boot's records by seq, fragments put back together (each covers [off, off + len))."""
    parts: dict[int, dict[int, bytes]] = {}
    totals: dict[int, int] = {}
    for g in grams:
        off, total = g.frag or (0, len(g.body))
        parts.setdefault(g.seq, {})[off] = g.body
        totals[g.seq] = total
    out = {}
    for seq, pieces in parts.items():
        body = b"".join(pieces[o] for o in sorted(pieces))
        assert len(body) == totals[seq], f"seq {seq}: {len(body)} bytes of {totals[seq]}"
        out[seq] = body
    return out


def _text(messages: dict[int, bytes]) -> str:
    # A record's text ends at its first newline; dictionary lines (" SUBSYSTEM=...") follow it.
    return "\n".join(messages[s].decode("utf-8", "replace").split("\n", 1)[0] for s in sorted(messages))


@pytest.mark.parametrize(("kernel", "kind", "variant"), _runs(("null", "sysrq")))
def test_netconsole_stream_is_extended_and_holds_the_crash(lab: Any, kernel: str, kind: str,
                                                           variant: str) -> None:
    run = lab.crash(kernel, kind, variant)
    grams = _datagrams(run)
    assert grams, "no datagram arrived"
    # slirp sends from the host's loopback, one socket per guest source port (6665): one sender.
    assert {g.src.rsplit(":", 1)[0] for g in grams} == {"127.0.0.1"}
    assert len({g.src for g in grams}) == 1
    assert [g.t for g in grams] == sorted(g.t for g in grams)
    # The "r" flag exists from 6.6: 6.12 prepends uname -r to every datagram, 6.1 to none.
    want = run.manifest["kernel"]["release"] if release_prepend(run.manifest["kernel"]["release"]) else None
    assert {g.release for g in grams} == {want}
    boots = _boots(grams)
    assert len(boots) == (2 if variant == "channels-nokdump" else 1)
    crashed = boots[0]
    # netconsole loaded as a module replays the log from its first record.
    assert crashed[0].seq == 0 and b"Linux version" in crashed[0].body
    seqs = [g.seq for g in crashed]
    assert seqs == sorted(seqs)
    messages = _messages(crashed)
    # Records above the console loglevel (KERN_DEBUG) take a sequence number but are never sent: the
    # stream skips exactly the debug records of the log that pstore kept whole.
    skipped = set(range(max(messages) + 1)) - set(messages)
    full_log = _records(run)[max(_records(run))].split("\n", 1)[1]
    assert "Linux version" in full_log.split("\n", 1)[0]
    debug = [line for line in full_log.splitlines() if int(line[1:line.index(">")]) & 7 == 7]
    assert skipped and len(skipped) == len(debug)
    text = _text(messages)
    for pattern in run.expected["log_patterns"]:
        assert re.search(pattern, text), pattern
    # The one record longer than a datagram: fragments with ncfrag=, put back whole.
    frags = [g for g in crashed if g.frag is not None]
    assert frags and {g.frag[1] for g in frags if g.frag} == {len(messages[frags[0].seq])}
    assert messages[frags[0].seq].startswith(b"lab-long-line xxx")
    if variant == "channels-nokdump":
        # The next boot starts over at seq 0 with its banner: where a receiver ends the crash.
        assert boots[1][0].seq == 0 and b"Linux version" in boots[1][0].body
        assert "Rebooting in 1 seconds" in text


def _records(run: LabRun) -> dict[str, str]:
    names = [n for n in run.manifest["files"] if n.startswith("pstore/dmesg-")]
    return {n: run.path(n).read_text() for n in sorted(names)}


@pytest.mark.parametrize(("kernel", "kind", "variant"), _runs(("null", "sysrq")))
def test_pstore_records_hold_the_crash(lab: Any, kernel: str, kind: str, variant: str) -> None:
    run = lab.crash(kernel, kind, variant)
    records = _records(run)
    assert run.path("pstore/dmesg") == run.path("pstore/dmesg-ramoops-0")
    heads = [text.split("\n", 1)[0] for text in records.values()]
    # An oops is dumped twice with crash_kexec_post_notifiers: at oops_exit() (KMSG_DUMP_OOPS), then
    # from panic("Fatal exception"); a direct panic (SysRq-c) once.
    if kind == "null":
        assert heads == ["Oops#1 Part1", "Panic#2 Part1"]
    else:
        assert heads == ["Panic#1 Part1"]
    for name, text in records.items():
        body = text.split("\n", 1)[1]
        # <syslog priority>: facility * 8 + level (<13> is a user-space /dev/kmsg line at level 5).
        assert all(re.match(r"<\d+>\[ *\d+\.\d{6}\] ", line) for line in body.splitlines()), name
        for pattern in KINDS[kind].log_patterns:
            assert re.search(pattern, body), (name, pattern)
    panic = records[max(records)]
    assert re.search(r"Kernel panic - not syncing: ", panic)


@pytest.mark.parametrize(("kernel", "kind", "variant"), _runs())
def test_kdump_is_there_only_when_loaded(lab: Any, kernel: str, kind: str, variant: str) -> None:
    run = lab.crash(kernel, kind, variant)
    if variant == "channels":
        assert run.manifest["capture"]["mode"] == "kdump"
        assert run.path("rhel/vmcore").read_bytes()[:8] == b"KDUMP   "
        dmesg = run.path("rhel/vmcore-dmesg.txt").read_text()
        for pattern in run.expected["log_patterns"]:
            assert re.search(pattern, dmesg), pattern
        assert not run.has("debian/dump") and not run.has("elf/vmcore")
    else:
        assert run.manifest["capture"]["mode"] == "none"
        assert not [n for n in run.manifest["files"] if "vmcore" in n or n.startswith("debian/")]
        assert run.manifest["timings"]["second_boot"] > run.manifest["timings"]["panic"]
