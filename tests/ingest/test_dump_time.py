"""A dump sent after its log (the agent's way: the log first, the dump by resumable upload) gives
the crash its own crash time: VMCOREINFO's CRASHTIME outranks the directory name's."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.labdata import case

from crashhub.dump import facts
from crashhub.ingest import Arrival, Pipeline
from crashhub.ingest._layouts import parse_dir_name


def test_dump_after_the_log_sets_the_crash_time_from_the_dump(pipeline: Pipeline, tmp_path: Path) -> None:
    c = case("6.1", "null")
    assert c.dump is not None
    _host, _kind, dir_time, _ = parse_dir_name(c.crash_dir_name)
    assert dir_time is not None
    out = pipeline.ingest(Arrival(log=c.log.read_bytes(), host="web1", host_source="token",
                                  dir_time=dir_time, crash_dir=c.crash_dir_name, source="http"))
    assert out.crash.crash_time == dir_time and out.crash.crash_time_source == "dir-name"

    dump_time = facts(c.dump).crash_time
    assert dump_time and dump_time != dir_time  # the capture kernel's clock is not the crash's
    copy = tmp_path / "vmcore"
    shutil.copyfile(c.dump, copy)
    crash = pipeline.add_dump(out.crash.id, copy, is_temp=False)
    assert crash.has_vmcore and crash.crash_time == float(dump_time) and crash.crash_time_source == "dump"
    again = pipeline.hub.store.crashes.get_crash(crash.id)
    assert again is not None and (again.crash_time, again.crash_time_source) == (float(dump_time), "dump")
