"""The netconsole stream core on what real kernels sent (issue 19): the lab's `channels` runs record
every datagram a Debian 6.1 or 6.12 guest sent over extended netconsole through QEMU's user network,
with its arrival time; `channels-nokdump` the same crash with no capture kernel, then the next boot.

Each stream is replayed to :class:`crashhub.channels.Stream` at its recorded times, as the hub's
receiver feeds it: the crash cut out of it must read as the kdump log of the same boot reads.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from tests.channels.test_netconsole import settle

from crashhub import triage
from crashhub.channels import Cut, NetconsoleCrash, Stream
from crashhub.classify import signature

KERNELS = ["6.1", "6.12"]


def datagrams(run: Any) -> list[tuple[float, str, bytes]]:
    text = Path(run.path("netconsole/datagrams.jsonl")).read_text()
    rows = [json.loads(line) for line in text.splitlines()]
    return [(float(r["t"]), str(r["src"]), base64.b64decode(r["data_b64"])) for r in rows]


Gram = tuple[float, str, bytes]  # arrival (s), sender, payload


def replay(grams: list[Gram], drop: frozenset[int] = frozenset()) -> list[NetconsoleCrash]:
    """Every datagram (but the indexes in ``drop``) at its recorded time, then quiet; each cut
    judged and settled as the receiver does."""
    stream = Stream(grams[0][1])
    cuts: list[Cut] = []
    for i, (t, _src, data) in enumerate(grams):
        if i not in drop:
            cuts += stream.feed(data, t)
    cuts += stream.tick(grams[-1][0] + stream.limits.quiet + stream.limits.report_wait + 1)
    cuts += stream.close(grams[-1][0] + 3600)
    return settle(stream, cuts)


def _seq(data: bytes) -> int | None:
    head = data.split(b";", 1)[0].decode("ascii", "replace").split(",")
    if not head[0].isdigit():
        head = head[1:]  # 6.6+'s release prefix
    return int(head[1]) if len(head) > 1 and head[1].isdigit() else None


@pytest.mark.lab
@pytest.mark.parametrize("kernel", KERNELS)
def test_the_stream_of_a_real_crash_reads_as_its_kdump_log(lab: Any, kernel: str) -> None:
    run = lab.crash(kernel, "null", "channels")
    (crash,) = replay(datagrams(run))
    got = triage.parse(crash.text)
    want = triage.parse(Path(run.path("rhel/vmcore-dmesg.txt")).read_text())
    assert got and want
    assert (got[0].kind, got[0].title) == (want[0].kind, want[0].title)
    assert got[0].guilty is not None and got[0].guilty.function == run.expected["guilty_function"]
    assert signature(got[0]).key == signature(want[0]).key
    assert crash.extended and crash.release == run.expected["release"]


@pytest.mark.lab
@pytest.mark.parametrize("kernel", KERNELS)
def test_lost_datagrams_are_reported_as_gaps_and_the_crash_still_reads(lab: Any, kernel: str) -> None:
    """Every 7th datagram of the boot messages lost: the gaps name them, the oops still triages."""
    grams = datagrams(lab.crash(kernel, "null", "channels"))
    whole = replay(grams)[0]
    oops_at = next(i for i, g in enumerate(grams) if b"BUG: kernel NULL pointer dereference" in g[2])
    drop = {i for i in range(20, oops_at - 5) if i % 7 == 0}
    lost = {s for i in drop if (s := _seq(grams[i][2])) is not None}
    (crash,) = replay(grams, frozenset(drop))
    assert crash.missing >= whole.missing + len(lost)
    in_gaps = {s for a, b in crash.gaps for s in range(a, b + 1)}
    assert lost <= in_gaps
    got = triage.parse(crash.text)
    assert got and got[0].guilty is not None and got[0].guilty.function == "crashmod_null"
    assert any("messages missing" in n for n in crash.notes())


@pytest.mark.lab
@pytest.mark.parametrize("kernel", KERNELS)
def test_kdump_broken_the_stream_still_gives_the_crash_once(lab: Any, kernel: str) -> None:
    """No capture kernel: the guest panics, reboots (seq back to 0, a new banner) and the stream
    goes on with the next boot; one crash is cut, from the first boot, and it reads as the dump's log
    of the kdump run of the same kind."""
    nokdump = lab.crash(kernel, "null", "channels-nokdump")
    grams = datagrams(nokdump)
    banners = [i for i, g in enumerate(grams) if b"Linux version " in g[2]]
    assert len(banners) == 2  # the crashing boot and the next one
    (crash,) = replay(grams)
    assert crash.ended == "banner"
    got = triage.parse(crash.text)
    want = triage.parse(Path(lab.crash(kernel, "null", "channels").path("rhel/vmcore-dmesg.txt")).read_text())
    assert signature(got[0]).key == signature(want[0]).key


@pytest.mark.lab
def test_two_guests_interleaved_are_two_streams(lab: Any) -> None:
    """The 6.1 and 6.12 guests' streams arriving interleaved at one receiver (one stream per sender):
    two crashes, each its own kernel's."""
    a, b = datagrams(lab.crash("6.1", "null", "channels")), datagrams(lab.crash("6.12", "null", "channels"))
    one, two = "192.0.2.1:6665", "192.0.2.2:6665"
    merged = sorted([(t, one, d) for t, _s, d in a] + [(t, two, d) for t, _s, d in b], key=lambda g: g[0])
    streams = {one: Stream(one), two: Stream(two)}
    cuts: dict[str, list[Cut]] = {k: [] for k in streams}
    for t, src, data in merged:
        cuts[src] += streams[src].feed(data, t)
    end = merged[-1][0] + 3600
    releases = {}
    for src, s in streams.items():
        for crash in settle(s, cuts[src] + s.tick(end) + s.close(end)):
            releases[src] = crash.release
    assert releases == {one: lab.crash("6.1", "null", "channels").expected["release"],
                        two: lab.crash("6.12", "null", "channels").expected["release"]}
