"""Three channels of one real crash (issue 19): the lab's `channels` runs give what a 6.1 and a 6.12
kernel really sent over extended netconsole and kept in ramoops beside the kdump dump; the
`channels-nokdump` runs the same crash with no capture kernel, read from pstore on the next boot.

The netconsole text is what the hub's receiver hands to ingest: the crash its stream core
(crashhub.channels.Stream) cuts out of the recorded datagrams.  The pstore records are the files
as /sys/fs/pstore shows them.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from tests.channels.test_netconsole_lab import datagrams, replay

from crashhub import dump as dumpmod
from crashhub.ingest import Arrival, Pipeline
from crashhub.store import Hub


def netconsole_log(run: Any) -> bytes:
    """The crash the hub's netconsole stream core cuts out of the run's recorded datagrams."""
    (crash,) = replay(datagrams(run))
    return crash.text.encode()


def _arrivals(run: Any, host: str, when: float) -> tuple[Arrival, list[Arrival]]:
    nc = Arrival(log=netconsole_log(run), log_name="netconsole.log",
                 host=host, host_source="netconsole", source="netconsole", channel="netconsole",
                 strict_dump=False, crash_time=when + 1)
    records = sorted(Path(run.path("pstore/dmesg-ramoops-0")).parent.glob("dmesg-ramoops-*"))
    ps = [Arrival(log=r.read_bytes(), log_name=f"pstore-{r.name}", host=host, host_source="token",
                  source="http", channel="pstore", crash_time=when) for r in records]
    return nc, ps


@pytest.mark.lab
@pytest.mark.parametrize("kernel", ["6.1", "6.12"])
def test_real_channels_are_one_crash_and_triage_alike(lab: Any, hub: Hub, pipeline: Pipeline,
                                                      kernel: str) -> None:
    run = lab.crash(kernel, "null", "channels")
    vmcore = Path(run.path("rhel/vmcore"))
    crashed = dumpmod.facts(vmcore).crash_time
    assert crashed is not None
    nc, ps = _arrivals(run, "guest1", float(crashed))
    first = pipeline.ingest(nc)
    assert first.created and first.crash.kind == "null_deref"
    for record in ps:  # the Oops record and the Panic record: the same crash
        out = pipeline.ingest(record)
        assert out.crash.id == first.crash.id, out.notes
    kd = pipeline.ingest(Arrival(log=vmcore.with_name("vmcore-dmesg.txt").read_bytes(), dump=vmcore,
                                 host="guest1", host_source="token", source="http"))
    assert kd.crash.id == first.crash.id and kd.crash.has_vmcore
    chans = sorted(ch.channel for ch in hub.store.crashes.crash_channels(first.crash.id))
    assert chans == ["kdump", "netconsole", "pstore"]
    c = hub.store.crashes.get_crash(first.crash.id)
    assert c is not None and [f.name for f in c.files if f.role == "log"] == ["vmcore-dmesg.txt"]
    assert kd.bucket.count == 1 and kd.bucket.dumps == 1
    # The same crash with kdump broken: netconsole and pstore alone give it, triaged the same.
    broken = lab.crash(kernel, "null", "channels-nokdump")
    nc2, ps2 = _arrivals(broken, "guest2", time.time())
    alone = pipeline.ingest(nc2)
    for record in ps2:
        assert pipeline.ingest(record).crash.id == alone.crash.id
    again = hub.store.crashes.get_crash(alone.crash.id)
    assert again is not None and again.id != c.id
    assert (again.kind, again.signature_key, again.bucket_id) == (c.kind, c.signature_key, c.bucket_id)
    assert sorted(ch.channel for ch in hub.store.crashes.crash_channels(again.id)) == ["netconsole", "pstore"]
    assert hub.store.buckets.get_bucket(c.bucket_id).count == 2  # type: ignore[union-attr]
