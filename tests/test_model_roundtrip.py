"""``to_dict`` / ``from_dict`` round-trips of every model: every field survives the store.

A field dropped on the way back (as ``panic_message``, ``timestamp`` and ``caller`` once were) makes a
KB entry that matches it stop matching when buckets are re-matched from stored reports.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, get_args

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.labdata import LOGS

from crashhub import model
from crashhub.agent._config import AgentConfig, LocalDumps, SendVmcore
from crashhub.analyze import (
    SEVERITIES,
    Analysis,
    AnalysisRecord,
    Culprit,
    Diagnosis,
    EngineError,
    EngineRun,
    Finding,
    ModuleInfo,
    RssUser,
    StackFrame,
    TaskInfo,
)
from crashhub.analyze._model import ENGINE_KEYS
from crashhub.classify import FIELDS, Condition, GroupingRule
from crashhub.ingest._reports import report_from_dict
from crashhub.model import CrashReport, DumpFacts, Frame, HostInfo, HostReport, LogReport, Process, Taint
from crashhub.store._grouping_records import BucketAlias, RekeyEntry, RekeyOutcome
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


# --------------------------------------------------------------------------- every other model
# The analysis (stored on a crash, served by the API) and the host report (agent -> hub) cross
# stages as JSON too: each model must come back equal from ``from_dict(to_dict(x))`` through JSON.

_json_scalar = st.none() | st.booleans() | st.integers(-(1 << 53), 1 << 53) | _text
_json = st.recursive(_json_scalar, lambda inner: st.lists(inner, max_size=3)
                     | st.dictionaries(_text, inner, max_size=3), max_leaves=8)
_json_obj = st.dictionaries(_text, _json, max_size=3)
_kb = st.integers(0, 1 << 40)
_secs = st.none() | st.floats(0, 1e6, allow_nan=False)
_stack_frames = st.builds(
    StackFrame, function=_opt_text, module=_opt_text, file=_opt_text, line=_opt_int, address=_opt_int,
    inline=st.booleans(), offset=_opt_int, source=_opt_text, name_from=st.none() | st.sampled_from(
        ["dwarf", "symbol", "log", "crash"]), exception=st.booleans(), sp=_opt_int,
    locals=st.dictionaries(_text, _text, max_size=3))
_stacks = st.lists(_stack_frames, max_size=3).map(tuple)
_tasks = st.builds(TaskInfo, pid=_opt_int, comm=_opt_text, cpu=_opt_int, state=_opt_text, source=_opt_text,
                   error=_opt_text, waiting_on=_opt_text, stack=st.none() | _stacks)
_findings = st.builds(Finding, id=_text, severity=st.sampled_from(SEVERITIES), claim=_text, detail=_text,
                      evidence=st.lists(_text, max_size=3).map(tuple), command=_opt_text,
                      culprit=st.none() | st.builds(Culprit, function=_opt_text, cpu=_opt_int, pid=_opt_int,
                                                    comm=_opt_text))
_diagnoses = st.builds(Diagnosis, st.lists(_findings, max_size=3).map(tuple))
_engine_runs = st.builds(
    EngineRun, engine=st.sampled_from(["drgn", "crash", ""]), ok=st.booleans(), version=_opt_text,
    failure=_opt_text, seconds=_secs, peak_rss_kb=_opt_int, mode=_opt_text,
    timings=st.dictionaries(_text, _secs, max_size=3),
    errors=st.lists(st.builds(EngineError, section=_text, error=_text), max_size=2).map(tuple),
    warnings=st.lists(_text, max_size=2).map(tuple),
    raw=st.dictionaries(_text.filter(lambda k: k not in ENGINE_KEYS), _json, max_size=3))
# Analyses keep dump facts without VMCOREINFO; the crash keeps that once.
_facts = st.builds(
    DumpFacts, path=_text, format=_text, compression=_opt_text, release=_opt_text, build_id=_opt_text,
    crash_time=_opt_int, dump_level=st.none() | st.integers(0, 31), partial=st.booleans(),
    dump_level_excludes=st.lists(_text, max_size=2).map(tuple),
    warnings=st.lists(_text, max_size=2).map(tuple),
    registers=st.dictionaries(_text, st.integers(0, (1 << 64) - 1), max_size=2),
    split_pfns=st.none() | st.tuples(st.integers(0, 1 << 40), st.integers(0, 1 << 40)))
_analyses = st.builds(
    Analysis, engine=_opt_text, panic_message=_opt_text, panic_task=st.none() | _tasks, stack=_stacks,
    stack_source=st.none() | st.sampled_from(["unwind", "log", "crash"]), tasks=_opt_int,
    cpus=st.lists(_tasks, max_size=2).map(tuple), dstate=st.lists(_tasks, max_size=2).map(tuple),
    task_states=st.dictionaries(_text, st.integers(0, 10**6), max_size=3),
    top_rss=st.lists(st.builds(RssUser, pid=_opt_int, comm=_opt_text, rss_kb=_kb, anon_kb=_kb, file_kb=_kb,
                                       shmem_kb=_kb, swap_kb=_kb),
                     max_size=2).map(tuple),
    modules=st.lists(st.builds(ModuleInfo, name=_text, taints=_opt_text, debuginfo=st.booleans()),
                     max_size=2).map(tuple),
    taint=_opt_text, log=_opt_text, engines=st.dictionaries(_text, _engine_runs, max_size=2),
    versions=st.dictionaries(_text, _opt_text, max_size=2), crash_mode=_opt_text, diagnosis=_diagnoses,
    notes=st.lists(_text, max_size=2).map(tuple), seconds=_secs, dump=st.none() | _facts, debuginfo=_json_obj,
    sys=_json_obj, memory=_json_obj, runq=st.lists(_json, max_size=2).map(tuple),
    agreement=st.none() | _json_obj, sources=st.lists(_json, max_size=2).map(tuple))
_records = st.builds(AnalysisRecord, status=st.sampled_from(["done", "failed", "engine unavailable"]),
                     result=st.none() | _analyses, error=_opt_text, reason=_opt_text, started=_secs,
                     seconds=_secs, vmlinux=_opt_text)
_host_infos = st.builds(HostInfo, release=_opt_text, build_id=_opt_text, machine=_opt_text,
                        hardware=_opt_text, version=_opt_text, agent_version=_opt_text)
_host_reports = st.builds(HostReport, host=_text.filter(bool), release=_opt_text, build_id=_opt_text,
                          hardware=_opt_text, machine=_opt_text, agent_version=_opt_text,
                          kdump=st.none() | _json_obj)
# Versioned grouping: rules (checked on the way in, so only rules that can work) and the ledger.
_name = st.text("abcdef0123456789", min_size=1, max_size=8)
_conditions = st.builds(Condition, field=st.sampled_from(FIELDS),
                        pattern=st.text(min_size=1, max_size=12).map(str.strip).filter(bool))
_times = st.floats(0, 2e9, allow_nan=False)
_merges = st.builds(GroupingRule, id=_name, action=st.just("merge"), target=_name, algorithm=_name, key=_name,
                    created_at=_times, created_by=_text, note=_text, parent=st.none() | _name)
_splits = st.builds(
    lambda rid, source, target, when, at, by: GroupingRule(rid, "split", target, source=source, when=when,
                                                           created_at=at, created_by=by),
    _name, _name.map(lambda x: "s" + x), _name.map(lambda x: "t" + x),
    st.lists(_conditions, min_size=1, max_size=3).map(tuple), _times, _text)
_aliases = st.builds(BucketAlias, algorithm=_name, key=_name, bucket_id=_name, created_at=_times,
                     origin=st.sampled_from(["ingest", "rekey", "migration"]))
_rekey_entries = st.builds(
    RekeyEntry, run=_name, at=_times, from_algorithm=_name, to_algorithm=_name, old_key=_name, new_key=_name,
    old_bucket=_name, new_bucket=_name, crashes=st.integers(0, 10**6),
    change=st.sampled_from(["same", "rename", "merge", "split", "regroup"]), rule=st.none() | _name)
_n = st.integers(0, 10**6)
_outcomes = st.builds(RekeyOutcome, run=_name, algorithm=_name, crashes=_n, rekeyed=_n, moved=_n,
                      new_buckets=_n, retired=_n, rules_carried=_n, flows=_n)
MODELS: list[tuple[type[Any], st.SearchStrategy[Any]]] = [
    (StackFrame, _stack_frames), (TaskInfo, _tasks), (Finding, _findings), (Diagnosis, _diagnoses),
    (Culprit, st.builds(Culprit, function=_opt_text, cpu=_opt_int, pid=_opt_int, comm=_opt_text)),
    (EngineRun, _engine_runs), (Analysis, _analyses), (AnalysisRecord, _records), (HostInfo, _host_infos),
    (HostReport, _host_reports), (DumpFacts, _facts), (Condition, _conditions),
    (GroupingRule, _merges | _splits), (BucketAlias, _aliases), (RekeyEntry, _rekey_entries),
    (RekeyOutcome, _outcomes), (LogReport, st.builds(LogReport, report=_reports, primary=st.booleans())),
]


@settings(max_examples=150, deadline=None)
@given(st.one_of(*(s for _m, s in MODELS)))
def test_every_model_round_trips_through_json(x: Any) -> None:
    back = type(x).from_dict(json.loads(json.dumps(x.to_dict())))
    assert back == x


def test_every_model_has_a_strategy() -> None:
    """A model added to the analysis or host vocabulary without a strategy here is not checked."""
    import crashhub.analyze._model as amod  # noqa: PLC0415

    typed = {c for c in vars(amod).values() if isinstance(c, type) and hasattr(c, "from_dict")}
    typed |= {HostInfo, HostReport, DumpFacts, Condition, GroupingRule, BucketAlias, RekeyEntry, RekeyOutcome,
              LogReport}
    covered = {m for m, _s in MODELS} | {RssUser, ModuleInfo, EngineError}  # covered inside Analysis
    assert typed <= covered, typed - covered


def test_host_report_refuses_wrong_types() -> None:
    with pytest.raises(ValueError, match="'host'"):
        HostReport.from_dict({"host": ""})
    with pytest.raises(ValueError, match="'kdump'"):
        HostReport.from_dict({"host": "h", "kdump": []})
    with pytest.raises(ValueError, match="'release'"):
        HostReport.from_dict({"host": "h", "release": 6})
    assert HostReport.from_dict({"host": "h", "later": 1}) == HostReport("h")


# The agent's settings: the document it reads (TOML) is what to_dict gives back.
_agent_configs = st.builds(
    AgentConfig, hub=st.sampled_from(["http://hub:8470", "https://crashhub.example.net/x"]), token=_text,
    token_file=_text, crash_dirs=st.lists(_text, max_size=3).map(tuple), state_file=_text, host=_text,
    send_vmcore=st.sampled_from(get_args(SendVmcore)), local_dumps=st.sampled_from(get_args(LocalDumps)),
    chunk_size=st.integers(1 << 20, 256 << 20), settle_seconds=st.floats(0, 1e6, allow_nan=False),
    retry_attempts=st.integers(1, 100), retry_initial=st.floats(0, 1e6), retry_max=st.floats(0, 1e6),
    timeout=st.floats(0, 1e6), interval=st.floats(0, 1e6), ca_file=_text, report_host=st.booleans(),
    kdump_root=_text)


@settings(max_examples=150, deadline=None)
@given(_agent_configs)
def test_agent_config_round_trips(cfg: AgentConfig) -> None:
    """The agent's settings: what to_dict gives is a settings document from_dict reads back equal."""
    assert AgentConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg


# The agent <-> hub protocol: what the hub writes, the agent reads back equal.
_counts = st.integers(0, 1 << 40)
_upload_states = st.builds(model.UploadState, offset=_counts, size=st.none() | _counts,
                           complete=st.booleans())
_accepted = st.builds(model.CrashAccepted, id=_text.filter(bool), created=st.booleans(),
                      wants_vmcore=st.booleans(), has_vmcore=st.booleans())


@settings(max_examples=100, deadline=None)
@given(st.one_of(_upload_states, _accepted))
def test_protocol_answers_round_trip(x: model.UploadState | model.CrashAccepted) -> None:
    assert type(x).from_dict(json.loads(json.dumps(x.to_dict()))) == x


def test_protocol_answers_do_not_believe_wrong_types() -> None:
    """A value of another type reads as unknown: never a completed upload or a wanted dump by accident."""
    assert model.UploadState.from_dict({"offset": -1, "size": True, "complete": 1}) == model.UploadState()
    assert model.UploadState.from_dict({"offset": "12", "size": 7.0}) == model.UploadState()
    loose = {"id": "c", "wants_vmcore": "yes", "has_vmcore": 1}
    assert model.CrashAccepted.from_dict(loose) == model.CrashAccepted("c")
    with pytest.raises(ValueError, match="without a crash id"):
        model.CrashAccepted.from_dict({"id": ""})
