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
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from lab.channels import Listeners, Recorder, plan, release_prepend, userdata_supported
from lab.debs import Kernel
from lab.kinds import KINDS
from lab.run import CI_CORE, LabRun

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


def _datagrams(run: LabRun, name: str = "netconsole/datagrams.jsonl") -> list[Datagram]:
    out = []
    for n, line in enumerate(run.path(name).read_text().splitlines(), 1):
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


@pytest.mark.parametrize(("kernel", "kind", "variant"), _runs())
def test_userdata_target_appends_its_fields(lab: Any, kernel: str, kind: str, variant: str) -> None:
    run = lab.crash(kernel, kind, variant)
    release = run.manifest["kernel"]["release"]
    if not userdata_supported(release):
        assert not run.has("netconsole/userdata.jsonl")  # 6.1: no userdata in netconsole
        return
    grams = _datagrams(run, "netconsole/userdata.jsonl")
    main = _datagrams(run)
    assert {g.release for g in grams} == {release}
    # Its own source (guest port 6666), and no replay: a configfs target starts with the next record.
    assert len({g.src for g in grams}) == 1 and {g.src for g in grams} != {g.src for g in main}
    assert grams[0].seq > 0
    messages = _messages(_boots(grams)[0])
    fields = run.manifest["channels"]["netconsole"]["userdata_target"]["fields"]
    tail = "".join(f" {k}={v}\n" for k, v in fields.items()).encode()
    # Every record, fragmented or not, ends with the userdata lines (after any dictionary lines);
    # ncfrag= totals count them.
    assert all(body.endswith(tail) for body in messages.values())
    long = [g for g in grams if g.frag is not None]
    assert long and long[0].frag and long[0].frag[1] == len(messages[long[0].seq])
    text = _text(messages)
    for pattern in run.expected["log_patterns"]:
        assert re.search(pattern, text), pattern
    # The same records as the main stream, by sequence number.
    main_messages = _messages(_boots(main)[0])
    shared = [seq for seq in messages if seq in main_messages]
    assert shared and all(main_messages[seq] + tail == messages[seq] for seq in shared)


# Without QEMU: the host side of the channels.


def test_kernel_features_by_release() -> None:
    assert not release_prepend("6.1.0-57-cloud-amd64") and release_prepend("6.12.118+deb12-cloud-amd64")
    assert release_prepend("6.6.1") and not release_prepend("5.10.0-32-cloud-amd64")
    assert not userdata_supported("6.8.0") and userdata_supported("6.9.0") and userdata_supported("6.12.1")


def test_recorder_keeps_exact_payloads(tmp_path: Path) -> None:
    payloads = [b"5,0,0,-;Linux version x\n", bytes(range(256)), b""]
    with Recorder() as rec, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
        started = time.monotonic()
        for p in payloads:
            tx.sendto(p, ("127.0.0.1", rec.port))
        deadline = time.monotonic() + 5
        while len(rec.got) < len(payloads) and time.monotonic() < deadline:
            time.sleep(0.01)
        sender = f"127.0.0.1:{tx.getsockname()[1]}"
    rec.write(tmp_path / "d.jsonl", started)
    rows = [json.loads(line) for line in (tmp_path / "d.jsonl").read_text().splitlines()]
    assert [base64.b64decode(r["data_b64"]) for r in rows] == payloads
    assert {r["src"] for r in rows} == {sender}
    assert all(isinstance(r["t"], float) and 0 <= r["t"] < 5 for r in rows)


def test_plan_writes_what_init_reads(tmp_path: Path) -> None:
    k612 = Kernel("6.12", "6.12.118+deb12-cloud-amd64", "p", "v", tmp_path, tmp_path / "vmlinuz",
                  tmp_path / "vmlinux", tmp_path / "System.map", tmp_path)
    with Listeners(k612.release) as ears:
        p = plan("channels-nokdump", k612, "null", ears)
        assert p is not None and ears.userdata is not None
        assert p.netconsole == f"+r@10.0.2.15/eth0,{ears.main.port}@10.0.2.2/"
        assert not p.kdump and "panic=1" in p.cmdline and "crash_kexec_post_notifiers" in p.cmdline
        assert "memmap=1M$0x20000000 ramoops.mem_address=0x20000000" in p.cmdline
        conf = p.conf()
        assert "PSTORE_READ=boot\n" in conf and f"NC_USERDATA_PORT={ears.userdata.port}\n" in conf
        assert "NC_USERDATA='lab_kind=null lab_variant=channels-nokdump'" in conf
        assert plan(None, k612, "null", ears) is None
    k61 = Kernel("6.1", "6.1.0-57-cloud-amd64", "p", "v", tmp_path, tmp_path / "vmlinuz",
                 tmp_path / "vmlinux", tmp_path / "System.map", tmp_path)
    with Listeners(k61.release) as ears:
        p = plan("channels", k61, "sysrq", ears)
        assert p is not None and ears.userdata is None and p.netconsole.startswith("+@")
        assert p.kdump and "panic=1" not in p.cmdline and "lab.pstore=1" in p.capture_cmdline
        assert "NC_USERDATA_PORT=\n" in p.conf() and "PSTORE_READ=\n" in p.conf()
