"""``to_dict`` / ``from_dict`` round-trips of every model: every field survives the store.

A field dropped on the way back (as ``panic_message``, ``timestamp`` and ``caller`` once were) makes a
KB entry that matches it stop matching when buckets are re-matched from stored reports.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, get_args

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.labdata import LOGS

from crashhub import model
from crashhub.agent._config import AgentConfig, LocalDumps, SendVmcore
from crashhub.alerts import ALL_RULES, Alert, DeliveryRecord
from crashhub.alerts._records import RESULTS
from crashhub.alerts._rules import SEVERITIES as ALERT_SEVERITIES
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
from crashhub.channels import NetconsoleCrash
from crashhub.channels._stream import ENDED as NETCONSOLE_ENDED
from crashhub.classify import FIELDS, Condition, GroupingRule
from crashhub.classify._similarity import Likeness
from crashhub.debuginfo._index import Entry as DebugEntry
from crashhub.debuginfo._index import Match as DebugMatch
from crashhub.ingest._reports import report_from_dict
from crashhub.kb import KINDS, Command, KbEntry, KbMatch, KbView, ReleaseRange, Rule
from crashhub.kb._schema import STATUSES as KB_ENTRY_STATUSES
from crashhub.kb._schema import KbText
from crashhub.kernel._layouts import CrashFiles, DirName
from crashhub.kernel._release import Release
from crashhub.kernel._taint import TaintFlag
from crashhub.model import CrashReport, DumpFacts, Frame, HostInfo, HostReport, LogReport, Process, Taint
from crashhub.readiness import CHECK_KINDS, FILE_ROLES, CheckFile, CheckRequest, KindResult, ReadinessReport
from crashhub.readiness._boot import BootResult
from crashhub.store import KB_STATUSES, BucketRecord, CrashRecord, ReadinessRecord
from crashhub.store._base import FileRecord, HostRecord
from crashhub.store._bucket_page import Breakdown, Share
from crashhub.store._channels import ChannelRecord, Coverage, CoverageRow
from crashhub.store._grouping_records import BucketAlias, RekeyEntry, RekeyOutcome
from crashhub.store._kb import KbRecord
from crashhub.store._retention_records import EvictedDump
from crashhub.store._workflow import STATUSES
from crashhub.triage import parse_file
from crashhub.web._fleet import KernelReadiness
from crashhub.web._similar import Similar

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
    (KbText, st.builds(KbText, title=_text, cause=_text, advice=_text,
                       why=st.lists(_text, max_size=2).map(tuple))),
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


# --------------------------------------------------------------------------- every to_dict in src
# The store's records, the KB's vocabulary, debuginfo, similarity and alerts.  A field a record's
# to_dict does not carry (a file's created_at, a debuginfo entry's module map: only counted) is
# generated at its default, so equality says every field that *is* carried survives.

_secs_int = st.integers(0, 2_000_000_000).map(float)  # ISO 8601 in to_dict: whole seconds survive
_strs = st.lists(_text, max_size=3)
_tuple_strs = _strs.map(tuple)
_kb_matches = st.builds(
    KbMatch, entry_id=_text, title=_text, status=st.sampled_from(KB_ENTRY_STATUSES), generic=st.booleans(),
    matched_rules=_strs, regression=st.booleans(), score=st.integers(0, 100), fixed_in=_opt_text,
    unchecked=_strs, algorithm=_text, comparison=_opt_text, skipped=_strs)
_ranges = st.builds(ReleaseRange, introduced_in=_opt_text, fixed_in=_opt_text)
_rules_kb = st.builds(Rule, kinds=_tuple_strs, title=_opt_text, function=_opt_text, frame=_opt_text,
                      modules=_tuple_strs, loaded=_tuple_strs, taint=_text,
                      releases=st.lists(_ranges, max_size=2).map(tuple), hardware=_opt_text)
_commands = st.builds(Command, tool=st.sampled_from(["crash", "drgn", "shell"]), run=_text, why=_text)
_entry_ids = st.text("abcdefghij0123456789", min_size=1, max_size=10)
_words = st.text("abcdefgh ", min_size=1, max_size=12).map(str.strip).filter(bool)
_kb_entries = st.builds(
    KbEntry, id=_entry_ids, title=_words,
    rule=st.builds(Rule, kinds=st.sampled_from(KINDS).map(lambda k: (k,))),
    status=st.sampled_from(KB_ENTRY_STATUSES), generic=st.booleans(), cause=_words, advice=_words,
    commands=st.lists(st.builds(Command, tool=st.just("crash"), run=_words, why=_words),
                      max_size=2).map(tuple))
_views = st.builds(KbView, answer=st.sampled_from(["known", "new", "regression"]),
                   matches=st.lists(_kb_matches, max_size=3).map(tuple), comparison=_opt_text,
                   skipped=_tuple_strs)
_files = st.builds(FileRecord, name=_text, role=_text, digest=_text, size=st.integers(0, 1 << 40))
_evicted = st.builds(EvictedDump, name=_text, digest=_text, size=st.integers(0, 1 << 40), reason=_text,
                     at=_secs_int, actor=_text)
_pins = st.none() | st.tuples(_text, _secs_int)
_crash_records = st.builds(
    lambda pin, **kw: CrashRecord(**kw, pinned_by=pin[0] if pin else None, pinned_at=pin[1] if pin else None),
    _pins, id=_text, identity=_text, received_at=_secs_int, crash_time=st.none() | _secs_int,
    crash_time_source=_opt_text, host=_text, host_source=_text, release=_opt_text, kind=_text, title=_text,
    bucket_id=_text, signature_algorithm=_text, signature_key=_text, hardware=_opt_text,
    report=st.none() | _json_obj, reports=st.integers(0, 100), source=_text, crash_dir=_opt_text,
    has_vmcore=st.booleans(), dump_facts=st.none() | _json_obj,
    versions=st.dictionaries(_text, _text, max_size=2),
    kb=st.lists(_json_obj, max_size=2), analysis=st.none() | _json_obj,
    files=st.lists(_files, max_size=2).map(tuple), dump_evicted=st.none() | _evicted)
_bucket_records = st.builds(
    BucketRecord, id=_text, algorithm=_text, key=_text, kind=_text, title=_text, count=_n, dumps=_n,
    first_seen=_secs_int, last_seen=_secs_int, merged_into=_opt_text, kb=st.lists(_json_obj, max_size=2),
    hosts=_tuple_strs, kernels=_tuple_strs, hardware=_tuple_strs, days=st.dictionaries(_text, _n, max_size=2),
    trend=st.floats(-1e6, 1e6, allow_nan=False), spike=st.booleans(), frames=_tuple_strs, host_count=_n,
    kernel_count=_n, status=st.sampled_from(STATUSES), owner=_opt_text, advice_deadline=st.none() | _secs_int,
    advice=_opt_text, kb_status=st.sampled_from(KB_STATUSES))
_host_records = st.builds(HostRecord, name=_text, first_seen=_secs_int, last_seen=_secs_int,
                          release=_opt_text,
                          build_id=_opt_text, hardware=_opt_text, machine=_opt_text, agent_version=_opt_text,
                          kdump=st.none() | _json_obj, crashes=_n, address=_opt_text)
_part = st.integers(0, 10_000).map(lambda k: k / 10_000)  # to_dict rounds to 4 places
_likeness = st.builds(Likeness, score=_part, guilty=st.none() | _part, stack=st.none() | _part, title=_part,
                      kind=_part)
_similar = st.builds(Similar, bucket=st.builds(
    BucketRecord, id=_text, algorithm=st.just(""), key=st.just(""), kind=_text, title=_text, count=_n,
    dumps=st.just(0), first_seen=st.just(0.0), last_seen=st.just(0.0), merged_into=st.none(), kb=st.just([]),
    kernels=_tuple_strs, status=st.none() | st.sampled_from(STATUSES)), likeness=_likeness)
_debug_entries = st.builds(
    DebugEntry, id=_name, release=_opt_text, kind=st.sampled_from(["rpm", "deb", "dir", "vmlinux"]),
    source=_text, package=_opt_text, imported_at=_times, size=_n,
    dir=_name.map(lambda n: Path("/var/lib/crashhub/debuginfo") / n))
_debug_matches = st.builds(DebugMatch, ok=st.booleans(), reason=_text, entry=st.none() | _debug_entries,
                           by=st.none() | st.sampled_from(["build-id", "release"]))
_deliveries = st.builds(
    lambda attempted, status, seconds, **kw: DeliveryRecord(
        **kw, attempted=attempted, status=status if attempted else None,
        seconds=seconds if attempted else None),
    st.booleans(), st.none() | st.integers(100, 599), _secs, at=_times, channel=_opt_text, rule=_text,
    key=_opt_text, title=_opt_text, result=st.sampled_from(RESULTS), error=_opt_text,
    hosts=st.none() | _tuple_strs, host_count=st.none() | _n)
_alerts = st.builds(Alert, rule=st.sampled_from(ALL_RULES), key=_text, title=_text, text=_text,
                    severity=st.sampled_from(ALERT_SEVERITIES), link=_opt_text, data=_json_obj,
                    plain=_opt_text,
                    markdown=st.booleans(), once=st.booleans())
_seconds = st.floats(min_value=0, max_value=1e6, allow_nan=False)
_opt_bool = st.none() | st.booleans()
_kind_results = st.builds(
    KindResult, kind=st.sampled_from(CHECK_KINDS), captured=st.booleans(), failure=_opt_text,
    capture_log=_text, dump_format=_opt_text, dump_bytes=st.none() | _n, ram_bytes=_n,
    dump_level=st.none() | st.integers(0, 31),
    dmesg_matches_log=_opt_bool, panic_task_readable=_opt_bool, stack_readable=_opt_bool,
    dropped_needed_pages=st.lists(_text, max_size=2), triage_title=_opt_text, guilty_function=_opt_text,
    expected_function=_opt_text, drgn=_opt_text, crash_tool=_opt_text, advice=st.lists(_text, max_size=2),
    seconds=_seconds, skipped=_opt_text, notes=st.lists(_text, max_size=2))
_readiness_reports = st.builds(
    ReadinessReport, release=_text, packages=st.lists(_text, max_size=2), package_digest=_text,
    debuginfo=_opt_text, makedumpfile=_text, core_collector=_text, crashkernel=_text,
    accel=st.sampled_from(["kvm", "tcg"]), checked_at=_seconds, crashhub_version=_text,
    kinds=st.lists(_kind_results, max_size=3), seconds=_seconds)
_boots = st.builds(BootResult, kind=st.sampled_from(CHECK_KINDS), accel=st.sampled_from(["kvm", "tcg"]),
                   console=_text, collector_log=_text, dump=_opt_text, finished=st.booleans(),
                   seconds=_seconds)
_shares = st.builds(Share, value=_opt_text, count=_n)
_share_lists = st.lists(_shares, max_size=3).map(tuple)
_channel_records = st.builds(
    lambda log, **kw: ChannelRecord(**kw, log_name=log[0] if log else None,
                                    log_digest=log[1] if log else None, log_size=log[2] if log else 0),
    st.none() | st.tuples(_text, _text, _n), channel=st.sampled_from(["kdump", "pstore", "netconsole"]),
    arrived_at=_secs_int, crash_time=st.none() | _secs_int, source=_text,
    notes=st.lists(_text, max_size=2).map(tuple))
_coverage_rows = st.builds(
    CoverageRow, name=_text, crashes=_n, by_channel=st.dictionaries(_text, _n, max_size=3), dump_missing=_n,
    waiting=_n, unverified=_n, kdump=st.none() | _json_obj, missing=st.lists(_text, max_size=2).map(tuple))
_coverages = st.builds(
    Coverage, since=_secs_int, grace_hours=st.floats(0, 1e4, allow_nan=False), total=_coverage_rows,
    hosts=st.lists(_coverage_rows, max_size=2).map(tuple),
    kernels=st.lists(_coverage_rows, max_size=2).map(tuple),
    channels=st.lists(_text, max_size=3).map(tuple))
MORE_MODELS: list[tuple[type[Any], st.SearchStrategy[Any]]] = [
    (ChannelRecord, _channel_records), (CoverageRow, _coverage_rows), (Coverage, _coverages),
    (KbMatch, _kb_matches), (ReleaseRange, _ranges), (Rule, _rules_kb), (Command, _commands),
    (KbEntry, _kb_entries), (KbView, _views), (CrashRecord, _crash_records), (BucketRecord, _bucket_records),
    (HostRecord, _host_records), (EvictedDump, _evicted), (Likeness, _likeness), (Similar, _similar),
    (DebugEntry, _debug_entries), (DebugMatch, _debug_matches),
    (DirName, st.builds(DirName, layout=st.sampled_from(["rhel", "debian"]), host=_opt_text, when=_text)),
    (CrashFiles, st.builds(CrashFiles, log=_opt_text, dump=_opt_text, kexec_log=_opt_text)),
    (TaintFlag, st.builds(TaintFlag, letter=_text, bit=st.integers(0, 31), name=_text, meaning=_text,
                          short=_text)),
    (Release, st.builds(Release, raw=_text, series=_text, key=_text, upstream=_opt_text)),
    (KbRecord, st.builds(KbRecord, id=_text, text=_text, revision=_n, updated_at=_times,
                         updated_by=_opt_text)),
    (DeliveryRecord, _deliveries), (Alert, _alerts),
    (Share, _shares),
    (Breakdown, st.builds(Breakdown, total=_n, kernels=_share_lists, hosts=_share_lists,
                          hardware=_share_lists, modules=_share_lists, taints=_share_lists, kernel_count=_n,
                          host_count=_n, hardware_count=_n, sampled=_n)),
    (KernelReadiness, st.builds(
        KernelReadiness, release=_text, crashes=_n, hosts=_n,
        crash_build_ids=st.lists(_text, max_size=2).map(tuple),
        state=st.sampled_from(["ready", "mismatch", "missing"]),
        by=st.none() | st.sampled_from(["build-id", "release", "vmlinux_dir"]), store_build_id=_opt_text,
        vmlinux=st.booleans(), modules=_n, sources=st.booleans(), dumps=_n, waiting=_n,
        waiting_ids=st.lists(_text, max_size=2).map(tuple))),
    (NetconsoleCrash, st.builds(
        NetconsoleCrash, sender=_text, text=_text, extended=st.booleans(), first_seq=st.none() | _n,
        last_seq=st.none() | _n, gaps=st.lists(st.tuples(_n, _n), max_size=3).map(tuple), missing=_n,
        release=_opt_text, first_time=_times, last_time=_times, ended=st.sampled_from(NETCONSOLE_ENDED))),
]
# Kernel readiness (issue 20): the runner's report, the hub's stored row and the check job's payload.
_opt_bool = st.none() | st.booleans()
_fsecs = st.floats(0, 1e6, allow_nan=False)
_check_files = st.builds(CheckFile, role=st.sampled_from(FILE_ROLES), name=_text, digest=_text, size=_n)
MORE_MODELS += [
    (KindResult, _kind_results), (ReadinessReport, _readiness_reports), (BootResult, _boots),
    (CheckFile, _check_files),
    (ReadinessRecord, st.builds(ReadinessRecord, release=_text, package_digest=_text, core_collector=_text,
                                crashkernel=_text, checked_at=_fsecs, report=_json_obj)),
    (CheckRequest, st.builds(
        CheckRequest, files=st.lists(_check_files, max_size=3).map(tuple), core_collector=_text,
        crashkernel=_text, kinds=st.none() | st.lists(st.sampled_from(CHECK_KINDS), min_size=1, max_size=3,
                                                      unique=True).map(tuple),
        requested_by=_text)),
]
# Round-tripped by their own tests above (a report from every real lab log, the agent's settings,
# the upload protocol's answers).
DEDICATED = {CrashReport, AgentConfig, model.UploadState, model.CrashAccepted}


@settings(max_examples=300, deadline=None)
@given(st.one_of(*(s for _m, s in MORE_MODELS)))
def test_every_record_round_trips_through_json(x: Any) -> None:
    back = type(x).from_dict(json.loads(json.dumps(x.to_dict())))
    assert back == x


def _classes_with_to_dict() -> set[tuple[str, str]]:
    import ast  # noqa: PLC0415

    src = Path(__file__).resolve().parents[1] / "src"
    out = set()
    for path in sorted((src / "crashhub").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.ClassDef) and any(
                isinstance(f, ast.FunctionDef) and f.name == "to_dict" for f in node.body
            ):
                parts = path.relative_to(src).with_suffix("").parts
                mod = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)  # a package's own
                out.add((mod, node.name))
    return out


def test_every_class_with_to_dict_has_from_dict_and_a_round_trip() -> None:
    """Scans the source: a class given a to_dict without a from_dict, or without a strategy in one
    of the tables here, fails (a model nobody can read back is a stage boundary nobody checked)."""
    import importlib  # noqa: PLC0415

    found = _classes_with_to_dict()
    assert len(found) >= 40  # the scan really reads the package
    covered = {m for m, _s in [*MODELS, *MORE_MODELS]} | DEDICATED | {RssUser, ModuleInfo, EngineError}
    missing, unchecked = [], []
    for mod, name in sorted(found):
        cls = getattr(importlib.import_module(mod), name)
        if not callable(getattr(cls, "from_dict", None)):
            missing.append(f"{mod}.{name}")
        elif cls not in covered:
            unchecked.append(f"{mod}.{name}")
    assert not missing, f"to_dict without from_dict: {missing}"
    assert not unchecked, f"no round-trip strategy: {unchecked}"


def _field_loop(obj: Any) -> Any:
    """What ``model.to_jsonable`` computes, written as the plain recursive loop over the fields."""
    if isinstance(obj, (str, int, float, bool, type(None))):
        return obj
    if isinstance(obj, (list, tuple)):
        return [_field_loop(x) for x in obj]
    if isinstance(obj, dict):
        return {str(k): _field_loop(v) for k, v in obj.items()}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _field_loop(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    return obj


@settings(max_examples=300, deadline=None)
@given(st.one_of(*(s for _m, s in [*MODELS, *MORE_MODELS])))
def test_generated_converters_equal_the_field_loop(x: Any) -> None:
    """to_jsonable's per-class converters (made from the declared field types) give what the loop
    gives, for every model."""
    assert model.to_jsonable(x) == _field_loop(x)


def test_generated_converters_on_real_reports() -> None:
    reports = [r for log in sorted(Path(LOGS).glob("*.vmcore-dmesg.txt")) for r in parse_file(log)]
    assert len(reports) > 10
    for r in reports:
        assert r.to_dict() == _field_loop(r)
