"""The vocabulary every stage shares: frozen dataclasses, no behaviour beyond ``to_dict``.

Fields a source does not give are ``None`` (or empty): nothing is invented.
Contract: fields are only ever added, never renamed or removed, since the store,
the API and the knowledge base read them by name.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeAlias

from crashhub._face import face

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


# The rest of the vocabulary, loaded on first use (crashhub._face): the dump readers' and the agent
# protocol's models are not needed to read a log, and each frozen dataclass costs ~0.5 ms to make.
if TYPE_CHECKING:
    from crashhub.model._dump import DumpFacts as DumpFacts
    from crashhub.model._host import CrashAccepted as CrashAccepted
    from crashhub.model._host import HostInfo as HostInfo
    from crashhub.model._host import HostReport as HostReport
    from crashhub.model._host import UploadState as UploadState

__getattr__ = face(globals(), {
    "DumpFacts": "crashhub.model._dump",
    "CrashAccepted": "crashhub.model._host",
    "HostInfo": "crashhub.model._host",
    "HostReport": "crashhub.model._host",
    "UploadState": "crashhub.model._host",
})
