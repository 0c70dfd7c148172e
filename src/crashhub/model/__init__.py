"""The vocabulary every stage shares: frozen dataclasses, no behaviour beyond ``to_dict``.

Fields a source does not give are ``None`` (or empty): nothing is invented.
Contract: fields are only ever added, never renamed or removed, since the store,
the API and the knowledge base read them by name.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeAlias

# A decoded JSON object: what a serialization edge (``to_dict``/``from_dict``, an HTTP body, a JSON
# column, a queue message) holds before a model reads it or after one wrote it. Data that crosses a
# stage inside the process travels as a model; this name marks the places where it is JSON.
JsonObject: TypeAlias = dict[str, Any]


_SCALARS = (str, int, float, bool, type(None))
_SCALAR_TYPES = frozenset(_SCALARS)
_SCALAR_NAMES = frozenset({"str", "int", "float", "bool", "None"})
# A dataclass's own to_jsonable, made on first use (dataclasses.fields is slow).
_CONVERTERS: dict[type, Callable[[Any], JsonObject]] = {}


def to_jsonable(obj: Any) -> Any:
    """Turn a model (or nested models) into plain JSON types."""
    if isinstance(obj, _SCALARS):
        return obj
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(x) for x in obj]
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    convert = _CONVERTERS.get(type(obj))
    if convert is None:
        if not dataclasses.is_dataclass(obj) or isinstance(obj, type):
            return obj
        convert = _CONVERTERS[type(obj)] = _converter(type(obj))
    return convert(obj)


def _converter(cls: type) -> Callable[[Any], JsonObject]:
    """A function making ``cls``'s dict in one expression, as dataclasses makes ``__init__``: a field
    declared a scalar ("int", "str | None") is taken as it is, any other goes through to_jsonable.
    A report's ~20 frames and ~30 fields are most of ``crashhub triage --json``'s output, and this
    is twice as fast as a loop over the fields."""
    items = []
    for f in dataclasses.fields(cls):
        declared = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", "")
        scalar = {part.strip() for part in declared.split("|")} <= _SCALAR_NAMES
        items.append(f"{f.name!r}: o.{f.name}" if scalar else f"{f.name!r}: J(o.{f.name})")
    namespace: dict[str, Any] = {"J": to_jsonable}
    exec(f"def convert(o):\n    return {{{', '.join(items)}}}", namespace)  # the code holds field names only
    convert: Callable[[Any], JsonObject] = namespace["convert"]
    return convert


# --------------------------------------------------------------------------- triage


@dataclass(frozen=True, slots=True)
class Frame:
    """One stack frame as the log (or an analysis engine) gives it."""

    function: str | None
    offset: int | None = None
    size: int | None = None
    module: str | None = None
    address: int | None = None
    reliable: bool = True
    # Where the frame ran: "task", "irq", "softirq", "nmi", "exception" (x86 stack markers).
    context: str = "task"
    file: str | None = None
    line: int | None = None

    @classmethod
    def from_dict(cls, d: JsonObject) -> Frame:
        return cls(**_known(cls, d))


@dataclass(frozen=True, slots=True)
class Process:
    """The task a report names (its comm and pid)."""

    comm: str | None
    pid: int | None

    @classmethod
    def from_dict(cls, d: JsonObject) -> Process:
        return cls(comm=d.get("comm"), pid=d.get("pid"))


@dataclass(frozen=True, slots=True)
class Taint:
    """Taint flags: the letters as printed and what each set letter means."""

    letters: str
    flags: tuple[str, ...] = ()  # e.g. ("P: proprietary module was loaded", ...)

    @classmethod
    def from_dict(cls, d: JsonObject) -> Taint:
        return cls(letters=d.get("letters") or "", flags=tuple(d.get("flags") or ()))


@dataclass(frozen=True, slots=True)
class CrashReport:
    """One oops / panic / warning found in a kernel log."""

    kind: str
    title: str
    message: str | None = None  # the panic / BUG line as printed
    fatal: bool = True
    guilty: Frame | None = None
    rip: Frame | None = None
    frames: tuple[Frame, ...] = ()
    registers: dict[str, int] = field(default_factory=dict)
    process: Process | None = None
    cpu: int | None = None
    taint: Taint | None = None
    release: str | None = None  # e.g. "6.1.0-56-cloud-amd64"
    version: str | None = None  # e.g. "#1 SMP PREEMPT_DYNAMIC Debian 6.1.192-2"
    hardware: str | None = None  # "Hardware name:" line
    bios: str | None = None
    arch: str | None = None
    modules: tuple[str, ...] = ()
    start_line: int = 0  # 0-based line numbers into the log, inclusive
    end_line: int = 0
    corrupted: bool = False
    corrupted_reason: str | None = None
    text: str = ""  # the report's lines, prefixes stripped
    # Added by triage (issue 2): the "Kernel panic - not syncing: ..." message when the report
    # ended in (or is) a panic; the first timestamp; the printk caller id ("T123"/"C1").
    panic_message: str | None = None
    timestamp: float | None = None
    caller: str | None = None
    # The first "Code:" line's bytes as printed (the byte at RIP in <..>), and the address a page
    # fault or general protection fault names in its header line (x86).
    code: str | None = None
    fault_address: int | None = None

    def to_dict(self) -> JsonObject:
        d: JsonObject = to_jsonable(self)
        return d

    @classmethod
    def from_dict(cls, d: JsonObject) -> CrashReport:
        """The report ``to_dict`` gave (every field, so nothing a KB rule reads is lost on the way
        through the store); keys this version does not know are ignored, missing ones default."""
        v = _known(cls, d)
        nested = {"guilty": Frame, "rip": Frame, "process": Process, "taint": Taint}
        for name, model in nested.items():
            if v.get(name) is not None:
                v[name] = model.from_dict(v[name])  # type: ignore[attr-defined]
        v["frames"] = tuple(Frame.from_dict(f) for f in v.get("frames") or ())
        v["modules"] = tuple(v.get("modules") or ())
        v["registers"] = {str(k): int(x) for k, x in (v.get("registers") or {}).items()}
        v.setdefault("kind", "unknown")
        v.setdefault("title", "")
        return cls(**v)


def _known(cls: type, d: JsonObject) -> JsonObject:
    """The entries of ``d`` that are fields of the dataclass ``cls``."""
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in d.items() if k in names}


@dataclass(frozen=True, slots=True)
class LogReport:
    """One report of a crash's log as the crash page lists them (in log order, the primary marked).

    The links between reports are triage's own: a panic_on_* or die() panic is folded into the report
    that raised it (``report.panic_message``), and the primary is the bug that began the cascade,
    which may be reported before the crash that stopped the machine (SysRq-c after a BUG).
    """

    report: CrashReport
    primary: bool = False

    def to_dict(self) -> JsonObject:
        return {"primary": self.primary, "report": self.report.to_dict()}

    @classmethod
    def from_dict(cls, d: JsonObject) -> LogReport:
        return cls(report=CrashReport.from_dict(d.get("report") or {}), primary=bool(d.get("primary")))


@dataclass(frozen=True, slots=True)
class Signature:
    """A bucket key under a versioned algorithm."""

    algorithm: str  # e.g. "sig:2026-12"
    key: str  # hex digest
    title: str  # normalised title
    frames: tuple[str, ...] = ()  # the frames that went into the key
    # Added by classify (issue 2): the guilty function, the kind, and a longer normalised stack
    # (up to 16 frames, not part of the key) that ``classify.similarity`` compares.
    guilty: str | None = None
    kind: str | None = None
    stack: tuple[str, ...] = ()


# --------------------------------------------------------------------------- dumps


@dataclass(frozen=True, slots=True)
class DumpFacts:
    """What a dump is, read without debuginfo."""

    path: str
    format: str  # "kdump", "diskdump", "flat-kdump", "flat-elf", "elf", "qemu-elf", "split", ...
    compression: str | None = None  # page codec(s) ("lzo", "zlib", ...) or outer wrapper
    wrapper: str | None = None  # "gzip", "xz", ... when the file is wrapped
    arch: str | None = None
    release: str | None = None
    version: str | None = None
    build_id: str | None = None
    hostname: str | None = None
    crash_time: int | None = None  # seconds since the epoch (VMCOREINFO CRASHTIME)
    cpus: int | None = None
    page_size: int | None = None
    dump_level: int | None = None
    dump_level_excludes: tuple[str, ...] = ()
    partial: bool = False
    incomplete: bool = False
    excluded_vmemmap: bool = False
    pages_present: int | None = None
    max_pfn: int | None = None
    file_size: int | None = None
    ram_bytes: int | None = None
    phys_base: int | None = None
    kernel_offset: int | None = None
    panic_cpu: int | None = None
    panic_pid: int | None = None
    registers: dict[str, int] = field(default_factory=dict)
    vmcoreinfo: dict[str, str] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    # (start_pfn, end_pfn) when the file is one part of a `makedumpfile --split` dump.
    split_pfns: tuple[int, int] | None = None
    # How the kernel log was found in the dump: "lockless", "printk_log", "char-ring" (None: not read).
    log_layout: str | None = None

    def to_dict(self) -> JsonObject:
        d: JsonObject = to_jsonable(self)
        return d

    @classmethod
    def from_dict(cls, d: JsonObject) -> DumpFacts:
        """The facts ``to_dict`` gave (or an analysis stored them, without ``vmcoreinfo``)."""
        v = _known(cls, d)
        v.setdefault("path", "")
        v.setdefault("format", "")
        for name in ("dump_level_excludes", "warnings"):
            v[name] = tuple(v.get(name) or ())
        v["registers"] = {str(k): int(x) for k, x in (v.get("registers") or {}).items()}
        v["vmcoreinfo"] = {str(k): str(x) for k, x in (v.get("vmcoreinfo") or {}).items()}
        pfns = v.get("split_pfns")
        v["split_pfns"] = (int(pfns[0]), int(pfns[1])) if pfns else None
        return cls(**v)


# --------------------------------------------------------------------------- hosts


@dataclass(frozen=True, slots=True)
class HostInfo:
    """What the agent reads about its own host (``agent.hostinfo.host_info``)."""

    release: str | None = None
    build_id: str | None = None  # the running kernel's GNU build-id, hex
    machine: str | None = None
    hardware: str | None = None  # built as the kernel's "Hardware name:" line is
    version: str | None = None  # /proc/version
    agent_version: str | None = None

    def to_dict(self) -> JsonObject:
        d: JsonObject = to_jsonable(self)
        return d

    @classmethod
    def from_dict(cls, d: JsonObject) -> HostInfo:
        return cls(**{k: (None if v is None else str(v)) for k, v in _known(cls, d).items()})


_HOST_TEXT = ("release", "build_id", "hardware", "machine", "agent_version")


@dataclass(frozen=True, slots=True)
class HostReport:
    """The body of ``POST /api/v1/hosts/report``: what the agent tells the hub about its host
    before it crashes.  ``kdump`` is the agent's kdump check as JSON (``CheckResult.to_json``)."""

    host: str
    release: str | None = None
    build_id: str | None = None
    hardware: str | None = None
    machine: str | None = None
    agent_version: str | None = None
    kdump: JsonObject | None = None

    @classmethod
    def of(cls, host: str, info: HostInfo, kdump: JsonObject | None) -> HostReport:
        return cls(host=host, release=info.release, build_id=info.build_id, hardware=info.hardware,
                   machine=info.machine, agent_version=info.agent_version, kdump=kdump)

    def to_dict(self) -> JsonObject:
        d: JsonObject = to_jsonable(self)
        return d

    @classmethod
    def from_dict(cls, d: JsonObject) -> HostReport:
        """A report as received; ``ValueError`` naming the field when a value has the wrong type
        (the hub answers it as a 400).  Keys this version does not know are ignored."""
        if not isinstance(d.get("host"), str) or not d["host"]:
            raise ValueError("field 'host': a non-empty string is required")
        kd = d.get("kdump")
        if kd is not None and not isinstance(kd, dict):
            raise ValueError("field 'kdump': expected an object")
        for k in _HOST_TEXT:
            if d.get(k) is not None and not isinstance(d[k], str):
                raise ValueError(f"field {k!r}: expected a string or null")
        return cls(host=d["host"], kdump=kd, **{k: d.get(k) for k in _HOST_TEXT})


# --------------------------------------------------------------------------- agent <-> hub protocol
# What the agent acts on in the hub's answers (docs/api.md). The hub writes them with to_dict and
# the agent reads them with from_dict, so a field renamed on one side fails the other's tests.


def _count(v: object) -> int | None:
    """A byte count from JSON: a non-negative int, else None (bool is not a count)."""
    return v if isinstance(v, int) and not isinstance(v, bool) and v >= 0 else None


@dataclass(frozen=True, slots=True)
class UploadState:
    """Where a crash's resumable dump upload stands (``GET .../vmcore/upload``, every ``PUT``'s
    answer, and the extras of its 409): the hub holds ``offset`` bytes of ``size`` (None: no size
    announced yet); ``complete`` once the dump is attached to the crash."""

    offset: int = 0
    size: int | None = None
    complete: bool = False

    def to_dict(self) -> JsonObject:
        return {"offset": self.offset, "size": self.size, "complete": self.complete}

    @classmethod
    def from_dict(cls, d: JsonObject) -> UploadState:
        """As the agent reads an answer: a value of another type is not believed (offset 0, size
        unknown, not complete), so the agent re-asks or sends again rather than deleting a dump."""
        return cls(offset=_count(d.get("offset")) or 0, size=_count(d.get("size")),
                   complete=d.get("complete") is True)


@dataclass(frozen=True, slots=True)
class CrashAccepted:
    """The part of ``POST /api/v1/crashes``'s answer the agent acts on: the crash's id, whether it
    is new, whether the hub wants its dump and whether it holds one already."""

    id: str
    created: bool = False
    wants_vmcore: bool = False
    has_vmcore: bool = False

    def to_dict(self) -> JsonObject:
        return {"id": self.id, "created": self.created, "wants_vmcore": self.wants_vmcore,
                "has_vmcore": self.has_vmcore}

    @classmethod
    def from_dict(cls, d: JsonObject) -> CrashAccepted:
        """``ValueError`` without a crash id (nothing can be resumed against it)."""
        cid = d.get("id")
        if not isinstance(cid, str) or not cid:
            raise ValueError(f"answer without a crash id: {d!r}"[:300])
        return cls(id=cid, created=d.get("created") is True, wants_vmcore=d.get("wants_vmcore") is True,
                   has_vmcore=d.get("has_vmcore") is True)
