"""The store's records: what crosses the seam between the hub and its database.

The seam itself is :class:`crashhub.store.Store`, a composition of small repositories (crashes,
buckets, retention, hosts, access, uploads, jobs).  Records are plain dataclasses so the web layer
and the CLI never see an ORM object or a session.

Times are seconds since the epoch (UTC floats); days are ``YYYY-MM-DD`` strings in UTC.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from crashhub.model import JsonObject, LogReport
from crashhub.store._retention_records import EvictedDump
from crashhub.store._workflow import effective_status, kb_status

TYPE_CHECKING = False
if TYPE_CHECKING:
    from crashhub.store._channels import ChannelRecord

ROLES = ("host", "viewer", "admin")


def day_of(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d")


def iso(t: float | None) -> str | None:
    return None if t is None else datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


def from_iso(s: object) -> float | None:
    """The seconds of :func:`iso` (None stays None)."""
    if s is None:
        return None
    return datetime.fromisoformat(str(s).replace("Z", "+00:00")).timestamp()


def _t(s: object) -> float:
    t = from_iso(s)
    return 0.0 if t is None else t


def _opt(v: object) -> str | None:
    return None if v is None else str(v)


def now() -> float:
    return time.time()


@dataclass(frozen=True, slots=True)
class FileRecord:
    """One file of a crash: a name as the user sees it, bytes in the blob store."""

    name: str  # "vmcore-dmesg.txt", "vmcore", "kexec-dmesg.log", "dmesg-from-dump.txt"
    role: str  # "log" | "vmcore" | "kexec_log" | "log_from_dump"
    digest: str  # sha256 hex of the bytes
    size: int
    created_at: float = 0.0


@dataclass(slots=True)
class NewCrash:
    """Everything ingest worked out about one crash, ready to be stored in one transaction."""

    identity: str  # content identity (see crashhub.ingest._arrival.identity)
    host: str
    host_source: str  # "token" | "agent" | "utsname" | "dir-ip" | "dir-name" | "unknown"
    release: str | None
    kind: str
    title: str
    signature_algorithm: str
    signature_key: str
    signature_title: str
    signature_frames: tuple[str, ...] = ()
    crash_time: float | None = None
    crash_time_source: str | None = None  # "dump" | "dir-name" | "received"
    hardware: str | None = None
    report: JsonObject | None = None  # primary CrashReport.to_dict()
    reports: int = 0  # how many reports triage found in the log
    log_reports: tuple[LogReport, ...] = ()  # every report of the log, in log order (the primary marked)
    source: str = "cli"  # "http" | "spool" | "cli" | "demo"
    crash_dir: str | None = None
    dump_facts: JsonObject | None = None
    versions: dict[str, str] = field(default_factory=dict)  # stage -> algorithm/version id
    files: list[FileRecord] = field(default_factory=list)
    kb: list[JsonObject] = field(default_factory=list)
    channel: ChannelRecord | None = None  # the channel it came through (None: kdump, its log the crash's)


@dataclass(frozen=True, slots=True)
class CrashRecord:
    id: str
    identity: str
    received_at: float
    crash_time: float | None
    crash_time_source: str | None
    host: str
    host_source: str
    release: str | None
    kind: str
    title: str
    bucket_id: str
    signature_algorithm: str
    signature_key: str
    hardware: str | None
    report: JsonObject | None
    reports: int
    source: str
    crash_dir: str | None
    has_vmcore: bool
    dump_facts: JsonObject | None
    versions: dict[str, str]
    kb: list[JsonObject]
    analysis: JsonObject | None
    files: tuple[FileRecord, ...] = ()
    pinned_by: str | None = None
    pinned_at: float | None = None
    dump_evicted: EvictedDump | None = None

    @property
    def dump_kept(self) -> bool:
        """Whether the dump's bytes are still here (``has_vmcore``: a dump was ever received)."""
        return self.has_vmcore and self.dump_evicted is None

    def to_dict(self) -> JsonObject:
        return {
            "id": self.id,
            "identity": self.identity,
            "received_at": iso(self.received_at),
            "crash_time": iso(self.crash_time),
            "crash_time_source": self.crash_time_source,
            "host": self.host,
            "host_source": self.host_source,
            "release": self.release,
            "kind": self.kind,
            "title": self.title,
            "bucket": self.bucket_id,
            "signature": {"algorithm": self.signature_algorithm, "key": self.signature_key},
            "hardware": self.hardware,
            "report": self.report,
            "reports": self.reports,
            "source": self.source,
            "crash_dir": self.crash_dir,
            "has_vmcore": self.has_vmcore,
            "dump_kept": self.dump_kept,
            "dump_evicted": None if self.dump_evicted is None else self.dump_evicted.to_dict(),
            "dump_pinned": None
            if self.pinned_by is None
            else {"by": self.pinned_by, "at": iso(self.pinned_at)},
            "dump": self.dump_facts,
            "versions": self.versions,
            "kb": self.kb,
            "analysis": self.analysis,
            "files": [
                {"name": f.name, "role": f.role, "sha256": f.digest, "size": f.size} for f in self.files
            ],
        }

    @classmethod
    def from_dict(cls, d: JsonObject) -> CrashRecord:
        """The record of :meth:`to_dict` (the API's crash; a file's ``created_at`` is not in it)."""
        pin = d.get("dump_pinned") or {}
        ev = d.get("dump_evicted")
        return cls(
            id=str(d["id"]), identity=str(d["identity"]), received_at=_t(d["received_at"]),
            crash_time=from_iso(d.get("crash_time")), crash_time_source=_opt(d.get("crash_time_source")),
            host=str(d["host"]), host_source=str(d["host_source"]), release=_opt(d.get("release")),
            kind=str(d["kind"]), title=str(d["title"]), bucket_id=str(d["bucket"]),
            signature_algorithm=str(d["signature"]["algorithm"]), signature_key=str(d["signature"]["key"]),
            hardware=_opt(d.get("hardware")), report=d.get("report"), reports=int(d.get("reports") or 0),
            source=str(d["source"]), crash_dir=_opt(d.get("crash_dir")), has_vmcore=bool(d["has_vmcore"]),
            dump_facts=d.get("dump"), versions=dict(d.get("versions") or {}), kb=list(d.get("kb") or []),
            analysis=d.get("analysis"),
            files=tuple(FileRecord(str(f["name"]), str(f["role"]), str(f["sha256"]), int(f["size"]))
                        for f in d.get("files") or ()),
            pinned_by=_opt(pin.get("by")), pinned_at=from_iso(pin.get("at")),
            dump_evicted=None if ev is None else EvictedDump.from_dict(ev),
        )


def _regressed_by(kb: list[JsonObject]) -> JsonObject | None:
    m = next((x for x in kb if x.get("regression")), None)
    if m is None:
        return None
    return {"entry": m.get("id") or m.get("entry_id"), "fixed_in": m.get("fixed_in"),
            "comparison": m.get("comparison")}


@dataclass(frozen=True, slots=True)
class BucketRecord:
    id: str
    algorithm: str
    key: str
    kind: str
    title: str
    count: int
    dumps: int
    first_seen: float
    last_seen: float
    merged_into: str | None
    kb: list[JsonObject]
    hosts: tuple[str, ...] = ()
    kernels: tuple[str, ...] = ()
    hardware: tuple[str, ...] = ()
    days: dict[str, int] = field(default_factory=dict)  # only the trailing window in lists
    trend: float = 0.0  # today's count minus the trailing daily median
    spike: bool = False
    frames: tuple[str, ...] = ()
    # ``hosts``/``kernels``/``hardware`` hold the top ones by crashes (20 in lists); these are the totals.
    host_count: int = 0
    kernel_count: int = 0
    # The response workflow (crashhub.store._workflow): status in STATUSES, who owns the answer,
    # when the first advice is due, the advice sent (Markdown); and the KB status of ``kb``.
    # A store fills ``status`` and ``kb_status`` always; None (a record built by hand) means "derive
    # them from ``kb``" (crashhub.store._workflow.effective_status / kb_status).
    status: str | None = None
    owner: str | None = None
    advice_deadline: float | None = None
    advice: str | None = None
    kb_status: str | None = None

    def to_dict(self) -> JsonObject:
        return {
            "id": self.id,
            "key": self.key,
            "algorithm": self.algorithm,
            "kind": self.kind,
            "title": self.title,
            "count": self.count,
            "dumps": self.dumps,
            "first_seen": iso(self.first_seen),
            "last_seen": iso(self.last_seen),
            "merged_into": self.merged_into,
            "hosts": list(self.hosts),
            "host_count": self.host_count,
            "kernels": list(self.kernels),
            "kernel_count": self.kernel_count,
            "hardware": list(self.hardware),
            "days": self.days,
            "trend": self.trend,
            "spike": self.spike,
            "frames": list(self.frames),
            "kb": self.kb,
            "kb_status": self.kb_status or kb_status(self.kb),
            # Derived from ``kb`` (a cache the KB's events keep current): why it is regressed.
            "regressed": (self.kb_status or kb_status(self.kb)) == "regression",
            "regressed_by": _regressed_by(self.kb),
            "status": effective_status(self.status, self.kb),
            "owner": self.owner,
            "advice_deadline": iso(self.advice_deadline),
            "advice": self.advice,
        }

    @classmethod
    def from_dict(cls, d: JsonObject) -> BucketRecord:
        """The record of :meth:`to_dict` (``regressed`` and ``regressed_by`` are derived from ``kb``)."""
        return cls(
            id=str(d["id"]), algorithm=str(d.get("algorithm") or ""), key=str(d.get("key") or ""),
            kind=str(d["kind"]), title=str(d["title"]), count=int(d.get("count") or 0),
            dumps=int(d.get("dumps") or 0), first_seen=_t(d.get("first_seen")),
            last_seen=_t(d.get("last_seen")),
            merged_into=_opt(d.get("merged_into")), kb=list(d.get("kb") or []),
            hosts=tuple(d.get("hosts") or ()), kernels=tuple(d.get("kernels") or ()),
            hardware=tuple(d.get("hardware") or ()), days=dict(d.get("days") or {}),
            trend=float(d.get("trend") or 0.0), spike=bool(d.get("spike")),
            frames=tuple(d.get("frames") or ()),
            host_count=int(d.get("host_count") or 0), kernel_count=int(d.get("kernel_count") or 0),
            status=_opt(d.get("status")), owner=_opt(d.get("owner")),
            advice_deadline=from_iso(d.get("advice_deadline")), advice=_opt(d.get("advice")),
            kb_status=_opt(d.get("kb_status")),
        )


@dataclass(frozen=True, slots=True)
class BucketEvent:
    at: float
    action: str  # "merge" | "split" | "workflow"
    actor: str
    detail: JsonObject
    bucket_id: str | None = None  # set by bucket_events_since (bucket_events is one bucket's)


@dataclass(frozen=True, slots=True)
class TokenRecord:
    id: str
    name: str
    role: str
    created_at: float
    revoked: bool
    # The one host a ``host`` token speaks for: set at ``token create --host`` or bound by the
    # token's first upload or host report (Store.access.bind_token); None until then.
    host: str | None = None


@dataclass(frozen=True, slots=True)
class HostRecord:
    name: str
    first_seen: float
    last_seen: float
    release: str | None
    build_id: str | None
    hardware: str | None
    machine: str | None
    agent_version: str | None
    kdump: JsonObject | None
    crashes: int
    address: str | None = None  # the IP its last report came from (netconsole maps senders by it)

    def to_dict(self) -> JsonObject:
        return {
            "host": self.name,
            "first_seen": iso(self.first_seen),
            "last_seen": iso(self.last_seen),
            "release": self.release,
            "build_id": self.build_id,
            "hardware": self.hardware,
            "machine": self.machine,
            "agent_version": self.agent_version,
            "kdump": self.kdump,
            "crashes": self.crashes,
            "address": self.address,
        }

    @classmethod
    def from_dict(cls, d: JsonObject) -> HostRecord:
        return cls(
            name=str(d["host"]), first_seen=_t(d.get("first_seen")), last_seen=_t(d.get("last_seen")),
            release=_opt(d.get("release")), build_id=_opt(d.get("build_id")),
            hardware=_opt(d.get("hardware")),
            machine=_opt(d.get("machine")), agent_version=_opt(d.get("agent_version")), kdump=d.get("kdump"),
            crashes=int(d.get("crashes") or 0), address=_opt(d.get("address")),
        )


@dataclass(frozen=True, slots=True)
class KernelRecord:
    release: str
    crashes: int
    hosts: int
    build_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class KernelDumps:
    """The kept dumps of one kernel release (``Crashes.kernel_dumps``)."""

    release: str
    build_ids: tuple[str, ...]  # the dumps' own kernel build-ids (VMCOREINFO / the ELF note)
    dumps: int  # crashes whose dump is still here
    # Crashes whose kept dump no analysis has yet read with debuginfo, newest first: what a
    # debuginfo import would let the hub explain.
    waiting: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class UploadRecord:
    crash_id: str
    size: int | None
    started_at: float


@dataclass(frozen=True, slots=True)
class JobRecord:
    id: str
    kind: str
    key: str | None
    payload: JsonObject
    state: str  # "pending" | "running" | "done" | "failed"
    attempts: int
    created_at: float
    result: JsonObject | None
    error: str | None


@dataclass(frozen=True, slots=True)
class UiUserRecord:
    """A UI password user; ``password_hash`` is an argon2id hash, never the password."""

    name: str
    role: str  # "viewer" | "admin"
    password_hash: str
    created_at: float
    updated_at: float


@dataclass(frozen=True, slots=True)
class AuditRecord:
    at: float
    actor: str
    action: str
    target: str
    detail: JsonObject
