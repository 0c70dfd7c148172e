"""The typed analysis: what ``analyze`` returns, the store keeps and the web and reports read.

Frozen dataclasses with ``to_dict``/``from_dict``.  ``to_dict`` gives the JSON shape the store has
always held (docs/analysis.md), so rows written before these types existed read back through
``from_dict``: a missing key takes its default, an unknown key is ignored.  What an engine reports
beyond the typed fields (drgn's raw sections, crash's verbatim outputs, the memory figures) stays
plain JSON in ``extra``/``raw`` fields: it is shown, never reasoned about by type.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal, cast, get_args

from crashhub.model import DumpFacts, JsonObject, to_jsonable

Json = Any  # a value json.loads can give back: nested dicts, lists, str, int, float, bool, None
Severity = Literal["critical", "error", "warning", "info"]
SEVERITIES: tuple[Severity, ...] = get_args(Severity)
# How the panic stack was got: drgn unwound the task, the log's Call Trace was looked up in DWARF,
# the unwound stack with raw frames named or its missing tail filled from the log ("merged"; each
# frame from the log has source "log"), or crash's bt.
StackSource = Literal["unwind", "log", "merged", "crash"]
# Where a frame's function name came from: the DWARF subprogram, the vmlinux's (or a module file's)
# symbol table, a module's kallsyms read from the dump, the log's "function+off/size", crash's bt.
NameSource = Literal["dwarf", "symbol", "kallsyms", "log", "crash"]
Status = Literal["done", "failed", "skipped", "engine unavailable"]


def _opt_int(v: Any) -> int | None:
    return int(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def _opt_str(v: Any) -> str | None:
    return None if v is None else str(v)


def _fields(cls: type) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)}


@dataclass(frozen=True, slots=True)
class Culprit:
    """What a finding blames, as read from the dump: the function at fault and, where known, the
    CPU it ran on and the task (pid, comm) that ran it."""

    function: str | None = None
    cpu: int | None = None
    pid: int | None = None
    comm: str | None = None

    def to_dict(self) -> JsonObject:
        keys = ("function", "cpu", "pid", "comm")
        return {k: getattr(self, k) for k in keys if getattr(self, k) is not None}

    @classmethod
    def from_dict(cls, d: JsonObject) -> Culprit:
        return cls(function=_opt_str(d.get("function")), cpu=_opt_int(d.get("cpu")),
                   pid=_opt_int(d.get("pid")), comm=_opt_str(d.get("comm")))


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing the checks concluded, and why.  ``claim`` is stored as ``title`` (its name in the
    JSON since the first analysis rows); ``command`` reproduces the evidence by hand."""

    id: str
    severity: Severity
    claim: str
    detail: str = ""
    evidence: tuple[str, ...] = ()
    command: str | None = None  # a drgn snippet or crash command that shows the evidence again
    culprit: Culprit | None = None

    def to_dict(self) -> JsonObject:
        d: JsonObject = {
            "id": self.id,
            "severity": self.severity,
            "title": self.claim,
            "detail": self.detail,
            "evidence": list(self.evidence),
        }
        if self.command is not None:
            d["command"] = self.command
        if self.culprit is not None:
            d["culprit"] = self.culprit.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: JsonObject) -> Finding:
        sev = d.get("severity")
        return cls(
            id=str(d.get("id") or ""),
            severity=cast(Severity, sev) if sev in SEVERITIES else "info",
            claim=str(d.get("title") or d.get("claim") or ""),
            detail=str(d.get("detail") or ""),
            evidence=tuple(str(e) for e in d.get("evidence") or ()),
            command=_opt_str(d.get("command")),
            culprit=Culprit.from_dict(c) if isinstance(c := d.get("culprit"), dict) else None,
        )


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """The findings over one analysis, worst first."""

    findings: tuple[Finding, ...] = ()

    def to_dict(self) -> JsonObject:
        return {"findings": [f.to_dict() for f in self.findings]}

    @classmethod
    def from_dict(cls, d: JsonObject) -> Diagnosis:
        return cls(tuple(Finding.from_dict(f) for f in d.get("findings") or ()))


@dataclass(frozen=True, slots=True)
class StackFrame:
    """One frame of an analysed stack.  ``source`` is "log" for a frame from the log's Call Trace;
    ``name_from`` says where ``function`` came from (None in rows stored before it was kept)."""

    function: str | None
    module: str | None = None
    file: str | None = None
    line: int | None = None
    address: int | None = None
    inline: bool = False
    offset: int | None = None
    source: str | None = None
    name_from: NameSource | None = None
    exception: bool = False  # crash's "[exception RIP: ...]"
    sp: int | None = None
    locals: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> JsonObject:
        # Only the keys the engine gave: the stored shape differs by engine, and stays so.
        d: JsonObject = {
            "function": self.function,
            "module": self.module,
            "file": self.file,
            "line": self.line,
            "address": self.address,
            "inline": self.inline,
        }
        for k in ("offset", "source", "name_from", "sp"):
            if getattr(self, k) is not None:
                d[k] = getattr(self, k)
        if self.exception:
            d["exception"] = True
        if self.locals:
            d["locals"] = dict(self.locals)
        return d

    @classmethod
    def from_dict(cls, d: JsonObject) -> StackFrame:
        nf = d.get("name_from")
        return cls(
            function=_opt_str(d.get("function")),
            module=_opt_str(d.get("module")),
            file=_opt_str(d.get("file")),
            line=_opt_int(d.get("line")),
            address=_opt_int(d.get("address")),
            inline=bool(d.get("inline")),
            offset=_opt_int(d.get("offset")),
            source=_opt_str(d.get("source")),
            name_from=cast(NameSource, nf) if nf in get_args(NameSource) else None,
            exception=bool(d.get("exception")),
            sp=_opt_int(d.get("sp")),
            locals={str(k): str(v) for k, v in (d.get("locals") or {}).items()},
        )


def _stack(v: Any) -> tuple[StackFrame, ...]:
    return tuple(StackFrame.from_dict(f) for f in v or () if isinstance(f, dict))


@dataclass(frozen=True, slots=True)
class TaskInfo:
    """A task as an engine saw it: the panic task, a CPU's current task, a blocked (D-state) task.

    ``source`` is "log" when the task was read from the oops's "CPU: PID: Comm:" line; ``error``
    says why its stack could not be read; ``waiting_on`` is what a sleeping task waits in."""

    pid: int | None = None
    comm: str | None = None
    cpu: int | None = None
    state: str | None = None
    source: str | None = None
    error: str | None = None
    waiting_on: str | None = None
    stack: tuple[StackFrame, ...] | None = None

    def to_dict(self) -> JsonObject:
        d: JsonObject = {"pid": self.pid, "comm": self.comm, "cpu": self.cpu}
        for k in ("state", "source", "error", "waiting_on"):
            if getattr(self, k) is not None:
                d[k] = getattr(self, k)
        if self.stack is not None:
            d["stack"] = [f.to_dict() for f in self.stack]
        return d

    @classmethod
    def from_dict(cls, d: JsonObject) -> TaskInfo:
        return cls(
            pid=_opt_int(d.get("pid")),
            comm=_opt_str(d.get("comm")),
            cpu=_opt_int(d.get("cpu")),
            state=_opt_str(d.get("state")),
            source=_opt_str(d.get("source")),
            error=_opt_str(d.get("error")),
            waiting_on=_opt_str(d.get("waiting_on")),
            stack=_stack(d["stack"]) if isinstance(d.get("stack"), list) else None,
        )


@dataclass(frozen=True, slots=True)
class RssUser:
    pid: int | None
    comm: str | None
    rss_kb: int = 0
    anon_kb: int = 0
    file_kb: int = 0
    shmem_kb: int = 0
    swap_kb: int = 0

    def to_dict(self) -> JsonObject:
        d: JsonObject = to_jsonable(self)
        return d

    @classmethod
    def from_dict(cls, d: JsonObject) -> RssUser:
        sizes = {k: _opt_int(d.get(k)) or 0 for k in ("rss_kb", "anon_kb", "file_kb", "shmem_kb", "swap_kb")}
        return cls(pid=_opt_int(d.get("pid")), comm=_opt_str(d.get("comm")), **sizes)


@dataclass(frozen=True, slots=True)
class ModuleInfo:
    name: str
    taints: str | None = None
    debuginfo: bool = False

    def to_dict(self) -> JsonObject:
        return {"name": self.name, "taints": self.taints, "debuginfo": self.debuginfo}

    @classmethod
    def from_dict(cls, d: JsonObject) -> ModuleInfo:
        return cls(
            name=str(d.get("name") or ""),
            taints=_opt_str(d.get("taints")),
            debuginfo=bool(d.get("debuginfo")),
        )


@dataclass(frozen=True, slots=True)
class EngineError:
    section: str
    error: str

    def to_dict(self) -> JsonObject:
        return {"section": self.section, "error": self.error}

    @classmethod
    def from_dict(cls, d: JsonObject) -> EngineError:
        return cls(section=str(d.get("section") or ""), error=str(d.get("error") or ""))


ENGINE_KEYS = (
    "engine",
    "ok",
    "version",
    "failure",
    "seconds",
    "peak_rss_kb",
    "timings",
    "errors",
    "warnings",
    "mode",
)


@dataclass(frozen=True, slots=True)
class EngineRun:
    """One engine's run: whether it answered, why not, its timings and section errors.  ``raw``
    holds the rest as the engine gave it (drgn's sections, crash's outputs and attempts)."""

    engine: str
    ok: bool = False
    version: str | None = None
    failure: str | None = None
    seconds: float | None = None
    peak_rss_kb: int | None = None
    mode: str | None = None  # crash: "normal", "--zero_excluded", "--minimal"
    timings: dict[str, float | None] = field(default_factory=dict)
    errors: tuple[EngineError, ...] = ()
    warnings: tuple[str, ...] = ()
    raw: JsonObject = field(default_factory=dict)

    def to_dict(self) -> JsonObject:
        d: JsonObject = {"engine": self.engine, "ok": self.ok}
        for k in ("version", "failure", "seconds", "peak_rss_kb", "mode"):
            if getattr(self, k) is not None:
                d[k] = getattr(self, k)
        if self.timings:
            d["timings"] = dict(self.timings)
        if self.errors or self.engine == "drgn":
            d["errors"] = [e.to_dict() for e in self.errors]
        if self.warnings:
            d["warnings"] = list(self.warnings)
        d.update(self.raw)
        return d

    @classmethod
    def from_dict(cls, d: JsonObject) -> EngineRun:
        secs = d.get("seconds")
        return cls(
            engine=str(d.get("engine") or ""),
            ok=bool(d.get("ok")),
            version=_opt_str(d.get("version")),
            failure=_opt_str(d.get("failure")),
            seconds=float(secs) if isinstance(secs, (int, float)) else None,
            peak_rss_kb=_opt_int(d.get("peak_rss_kb")),
            mode=_opt_str(d.get("mode")),
            timings={str(k): v for k, v in (d.get("timings") or {}).items()},
            errors=tuple(EngineError.from_dict(e) for e in d.get("errors") or () if isinstance(e, dict)),
            warnings=tuple(str(w) for w in d.get("warnings") or ()),
            raw={k: v for k, v in d.items() if k not in ENGINE_KEYS},
        )

    def section(self, name: str) -> Json:
        """A raw section (drgn: "panic", "tasks", "sys", ...; crash: "outputs", "stack", ...)."""
        return self.raw.get(name)


def _facts_json(facts: DumpFacts | None) -> JsonObject:
    """Dump facts as analyses store them: without VMCOREINFO (kept once, on the crash)."""
    if facts is None:
        return {}
    d = facts.to_dict()
    d.pop("vmcoreinfo", None)
    return d


@dataclass(frozen=True, slots=True)
class Analysis:
    """The merged result of one analysis of a dump (docs/analysis.md, "Merge").

    ``dump`` is the dump's facts as ``DumpFacts.to_dict`` gives them without ``vmcoreinfo`` (empty
    when the dump reader failed); ``debuginfo`` how the vmlinux was matched.  ``sys``, ``memory``,
    ``runq``, ``agreement`` and ``sources`` are shown as they are, so they stay JSON."""

    engine: str | None = None  # "drgn", "crash", "log", or None when nothing answered
    panic_message: str | None = None
    panic_task: TaskInfo | None = None
    stack: tuple[StackFrame, ...] = ()
    stack_source: StackSource | None = None
    stack_note: str | None = None  # when and why unwinding stopped early, or was not used
    tasks: int | None = None
    cpus: tuple[TaskInfo, ...] = ()
    dstate: tuple[TaskInfo, ...] = ()
    task_states: dict[str, int] = field(default_factory=dict)
    top_rss: tuple[RssUser, ...] = ()
    modules: tuple[ModuleInfo, ...] = ()
    taint: str | None = None
    log: str | None = None
    engines: dict[str, EngineRun] = field(default_factory=dict)
    versions: dict[str, str | None] = field(default_factory=dict)
    crash_mode: str | None = None
    diagnosis: Diagnosis = Diagnosis()
    notes: tuple[str, ...] = ()
    seconds: float | None = None
    dump: DumpFacts | None = None  # None: the dump reader could not read it
    debuginfo: JsonObject = field(default_factory=dict)
    sys: JsonObject = field(default_factory=dict)
    memory: JsonObject = field(default_factory=dict)
    runq: tuple[Json, ...] = ()
    agreement: JsonObject | None = None
    sources: tuple[Json, ...] = ()

    @property
    def findings(self) -> tuple[Finding, ...]:
        return self.diagnosis.findings

    def to_dict(self) -> JsonObject:
        d: JsonObject = {
            "dump": _facts_json(self.dump),
            "debuginfo": self.debuginfo,
            "notes": list(self.notes),
            "engines": {k: e.to_dict() for k, e in self.engines.items()},
            "versions": dict(self.versions),
            "engine": self.engine,
            "crash_mode": self.crash_mode,
            "panic_message": self.panic_message,
            "panic_task": self.panic_task.to_dict() if self.panic_task else None,
            "stack": [f.to_dict() for f in self.stack],
            "stack_source": self.stack_source,
            "tasks": self.tasks,
            "cpus": [c.to_dict() for c in self.cpus],
            "dstate": [t.to_dict() for t in self.dstate],
            "task_states": dict(self.task_states),
            "top_rss": [u.to_dict() for u in self.top_rss],
            "runq": list(self.runq),
            "memory": self.memory,
            "modules": [m.to_dict() for m in self.modules],
            "sys": self.sys,
            "taint": self.taint,
            "log": self.log,
            "sources": list(self.sources),
            "findings": [f.to_dict() for f in self.findings],
            "seconds": self.seconds,
        }
        if self.agreement is not None:
            d["agreement"] = self.agreement
        if self.stack_note is not None:  # rows before it was kept have no key
            d["stack_note"] = self.stack_note
        return d

    @classmethod
    def from_dict(cls, d: JsonObject) -> Analysis:
        pt, ss, secs = d.get("panic_task"), d.get("stack_source"), d.get("seconds")
        return cls(
            engine=_opt_str(d.get("engine")),
            panic_message=_opt_str(d.get("panic_message")),
            panic_task=TaskInfo.from_dict(pt) if isinstance(pt, dict) else None,
            stack=_stack(d.get("stack")),
            stack_source=cast(StackSource, ss) if ss in get_args(StackSource) else None,
            stack_note=_opt_str(d.get("stack_note")),
            tasks=_opt_int(d.get("tasks")),
            cpus=tuple(TaskInfo.from_dict(c) for c in d.get("cpus") or () if isinstance(c, dict)),
            dstate=tuple(TaskInfo.from_dict(t) for t in d.get("dstate") or () if isinstance(t, dict)),
            task_states={str(k): int(v) for k, v in (d.get("task_states") or {}).items()},
            top_rss=tuple(RssUser.from_dict(u) for u in d.get("top_rss") or () if isinstance(u, dict)),
            modules=tuple(ModuleInfo.from_dict(m) for m in d.get("modules") or () if isinstance(m, dict)),
            taint=_opt_str(d.get("taint")),
            log=_opt_str(d.get("log")),
            engines={
                str(k): EngineRun.from_dict(e)
                for k, e in (d.get("engines") or {}).items()
                if isinstance(e, dict)
            },
            versions={str(k): _opt_str(v) for k, v in (d.get("versions") or {}).items()},
            crash_mode=_opt_str(d.get("crash_mode")),
            diagnosis=Diagnosis.from_dict(d),
            notes=tuple(str(n) for n in d.get("notes") or ()),
            seconds=float(secs) if isinstance(secs, (int, float)) else None,
            dump=DumpFacts.from_dict(d["dump"]) if d.get("dump") else None,
            debuginfo=dict(d.get("debuginfo") or {}),
            sys=dict(d.get("sys") or {}),
            memory=dict(d.get("memory") or {}),
            runq=tuple(d.get("runq") or ()),
            agreement=d["agreement"] if isinstance(d.get("agreement"), dict) else None,
            sources=tuple(d.get("sources") or ()),
        )


@dataclass(frozen=True, slots=True)
class AnalysisRecord:
    """What the store keeps on a crash: the analysis job's outcome around its result."""

    status: Status | str
    result: Analysis | None = None
    error: str | None = None
    reason: str | None = None
    started: float | None = None
    seconds: float | None = None
    vmlinux: str | None = None

    def to_dict(self) -> JsonObject:
        d: JsonObject = {"status": self.status}
        if self.result is not None:
            d["result"] = self.result.to_dict()
        for k in ("error", "reason"):
            if getattr(self, k) is not None:
                d[k] = getattr(self, k)
        if any(v is not None for v in (self.started, self.seconds, self.vmlinux)):
            d.update(started=self.started, seconds=self.seconds, vmlinux=self.vmlinux)
        return d

    @classmethod
    def from_dict(cls, d: JsonObject) -> AnalysisRecord:
        res = d.get("result")
        num = {k: float(d[k]) if isinstance(d.get(k), (int, float)) else None for k in ("started", "seconds")}
        return cls(
            status=str(d.get("status") or ""),
            result=Analysis.from_dict(res) if isinstance(res, dict) else None,
            error=_opt_str(d.get("error")),
            reason=_opt_str(d.get("reason")),
            vmlinux=_opt_str(d.get("vmlinux")),
            **num,
        )
