"""The store interface: what the hub keeps, independent of the database behind it.

``Store`` is the seam between the hub and its database: :class:`crashhub.store.sql.SqlStore`
implements it on SQLAlchemy (SQLite embedded, PostgreSQL for teams) and the contract tests in
``tests/store/`` run unchanged against every implementation.  Records are plain dataclasses so the
web layer and the CLI never see an ORM object or a session.

Times are seconds since the epoch (UTC floats); days are ``YYYY-MM-DD`` strings in UTC.
"""

from __future__ import annotations

import abc
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from crashhub.store._cluster import Cluster
from crashhub.store._kb import Kb
from crashhub.store.retention_records import DeletedCrash, DumpHolding, EvictedDump
from crashhub.store.workflow import effective_status, kb_status

ROLES = ("host", "viewer", "admin")


def day_of(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d")


def iso(t: float | None) -> str | None:
    return None if t is None else datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


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

    identity: str  # content identity (see crashhub.ingest.arrival.identity)
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
    report: dict[str, Any] | None = None  # primary CrashReport.to_dict()
    reports: int = 0  # how many reports triage found in the log
    source: str = "cli"  # "http" | "spool" | "cli" | "demo"
    crash_dir: str | None = None
    dump_facts: dict[str, Any] | None = None
    versions: dict[str, str] = field(default_factory=dict)  # stage -> algorithm/version id
    files: list[FileRecord] = field(default_factory=list)
    kb: list[dict[str, Any]] = field(default_factory=list)


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
    report: dict[str, Any] | None
    reports: int
    source: str
    crash_dir: str | None
    has_vmcore: bool
    dump_facts: dict[str, Any] | None
    versions: dict[str, str]
    kb: list[dict[str, Any]]
    analysis: dict[str, Any] | None
    files: tuple[FileRecord, ...] = ()
    pinned_by: str | None = None
    pinned_at: float | None = None
    dump_evicted: EvictedDump | None = None

    @property
    def dump_kept(self) -> bool:
        """Whether the dump's bytes are still here (``has_vmcore``: a dump was ever received)."""
        return self.has_vmcore and self.dump_evicted is None

    def to_dict(self) -> dict[str, Any]:
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
    kb: list[dict[str, Any]]
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
    # The response workflow (crashhub.store.workflow): status in STATUSES, who owns the answer,
    # when the first advice is due, the advice sent (Markdown); and the KB status of ``kb``.
    # A store fills ``status`` and ``kb_status`` always; None (a record built by hand) means "derive
    # them from ``kb``" (crashhub.store.workflow.effective_status / kb_status).
    status: str | None = None
    owner: str | None = None
    advice_deadline: float | None = None
    advice: str | None = None
    kb_status: str | None = None

    def to_dict(self) -> dict[str, Any]:
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
            "status": effective_status(self.status, self.kb),
            "owner": self.owner,
            "advice_deadline": iso(self.advice_deadline),
            "advice": self.advice,
        }


@dataclass(frozen=True, slots=True)
class BucketEvent:
    at: float
    action: str  # "merge" | "split" | "workflow"
    actor: str
    detail: dict[str, Any]
    bucket_id: str | None = None  # set by bucket_events_since (bucket_events is one bucket's)


@dataclass(frozen=True, slots=True)
class TokenRecord:
    id: str
    name: str
    role: str
    created_at: float
    revoked: bool
    # The one host a ``host`` token speaks for: set at ``token create --host`` or bound by the
    # token's first upload or host report (Store.bind_token); None until then.
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
    kdump: dict[str, Any] | None
    crashes: int

    def to_dict(self) -> dict[str, Any]:
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
        }


@dataclass(frozen=True, slots=True)
class KernelRecord:
    release: str
    crashes: int
    hosts: int
    build_ids: tuple[str, ...]


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
    payload: dict[str, Any]
    state: str  # "pending" | "running" | "done" | "failed"
    attempts: int
    created_at: float
    result: dict[str, Any] | None
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
    detail: dict[str, Any]


class DuplicateError(Exception):
    """Raised inside an implementation when a unique key already exists (never leaves the store)."""


class Store(abc.ABC):
    """Everything the hub keeps besides blobs.  Every method is one transaction."""

    #: Whether several hub nodes may share this store (a database server, not an embedded file).
    shared: bool = False
    #: What the nodes share besides crashes: leases, alert de-duplication keys, cursors.
    cluster: Cluster
    #: The knowledge base's entries (every node matches with these).
    kb: Kb

    # -- lifecycle
    @abc.abstractmethod
    def migrate(self) -> None:
        """Create or upgrade the schema to the newest version."""

    @abc.abstractmethod
    def close(self) -> None: ...

    # -- crashes
    @abc.abstractmethod
    def add_crash(self, new: NewCrash) -> tuple[CrashRecord, bool]:
        """Store a crash and count it in its bucket, or return the crash already stored under
        ``new.identity`` (then ``False``; files of ``new`` the old crash lacks are attached)."""

    @abc.abstractmethod
    def get_crash(self, crash_id: str) -> CrashRecord | None: ...

    @abc.abstractmethod
    def crash_by_identity(self, identity: str) -> CrashRecord | None: ...

    @abc.abstractmethod
    def list_crashes(
        self,
        *,
        host: str | None = None,
        kind: str | None = None,
        bucket: str | None = None,
        since: float | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[CrashRecord]: ...

    @abc.abstractmethod
    def attach_dump(
        self,
        crash_id: str,
        file: FileRecord,
        facts: dict[str, Any] | None,
        extra_files: Iterable[FileRecord] = (),
    ) -> CrashRecord:
        """Record a dump for a crash (idempotent: a second dump of the same crash is ignored)."""

    @abc.abstractmethod
    def set_crash_analysis(self, crash_id: str, analysis: dict[str, Any]) -> None: ...

    @abc.abstractmethod
    def referenced_digests(self) -> set[str]:
        """Every blob digest a crash file points at (for garbage collection)."""

    # -- retention (crashhub.retention): pins, evicted dumps, deletions; each one transaction,
    # audited in it.  Blobs are the caller's: these return the files whose records went.
    @abc.abstractmethod
    def dump_holdings(self) -> list[DumpHolding]:
        """Every crash whose dump is still stored (received, not evicted), oldest received first."""

    @abc.abstractmethod
    def retention_holds(self, *, bundle_since: float) -> dict[str, str]:
        """Crashes whose dump must stay, with why: ``pinned``, ``vendor bundle`` (a bundle with the
        dump was made since ``bundle_since``), ``under analysis`` (a pending or running analyze job)."""

    @abc.abstractmethod
    def pin_dump(self, crash_id: str, actor: str, *, pinned: bool = True) -> CrashRecord:
        """Pin (or unpin) a crash's dump; a pinned dump is never evicted."""

    @abc.abstractmethod
    def evict_dump(
        self, crash_id: str, *, reason: str, actor: str, bundle_since: float
    ) -> EvictedDump | None:
        """Drop the record of a crash's dump file and keep its facts on the crash.  None (nothing
        changed) when the crash has no stored dump or a hold (re-checked here) keeps it."""

    @abc.abstractmethod
    def unreferenced(self, digests: Iterable[str]) -> set[str]:
        """Those of ``digests`` that no crash file points at any more."""

    @abc.abstractmethod
    def delete_crash(self, crash_id: str, actor: str) -> DeletedCrash | None:
        """Remove a crash, its file records and its counts in its bucket (a bucket left empty goes
        too, unless others are merged into it).  None when there is no such crash."""

    @abc.abstractmethod
    def delete_host(self, host: str, actor: str) -> list[DeletedCrash]:
        """Remove every crash of ``host`` (as :meth:`delete_crash`) and its host report."""

    # -- buckets
    @abc.abstractmethod
    def list_buckets(
        self,
        *,
        sort: str = "count",
        kind: str | None = None,
        limit: int = 100,
        offset: int = 0,
        today: str | None = None,
        spike_days: int = 14,
        spike_factor: float = 3.0,
        spike_min: int = 5,
        include_merged: bool = False,
        kernel: str | None = None,
        host: str | None = None,
        kb_status: str | None = None,
        since: float | None = None,
        status: str | None = None,
    ) -> list[BucketRecord]:
        """A page of buckets. Filters: ``kernel`` (a release with crashes in the bucket), ``host``
        (part of a host name), ``kb_status`` (known, new, regression), ``since`` (last seen),
        ``status`` (the workflow's, as ``effective_status`` gives it: a bucket from before the
        workflow is ``known_issue`` when a specific KB entry explains it, else ``new``)."""

    @abc.abstractmethod
    def count_buckets(
        self,
        *,
        kind: str | None = None,
        include_merged: bool = False,
        kernel: str | None = None,
        host: str | None = None,
        kb_status: str | None = None,
        since: float | None = None,
        status: str | None = None,
    ) -> int:
        """How many buckets ``list_buckets`` with the same filters would go through."""

    @abc.abstractmethod
    def get_bucket(
        self,
        bucket_id: str,
        *,
        today: str | None = None,
        spike_days: int = 14,
        spike_factor: float = 3.0,
        spike_min: int = 5,
    ) -> BucketRecord | None: ...

    @abc.abstractmethod
    def bucket_ids(self) -> list[str]: ...

    @abc.abstractmethod
    def latest_crash_of_bucket(self, bucket_id: str) -> CrashRecord | None: ...

    @abc.abstractmethod
    def latest_crashes(self, bucket_ids: Iterable[str] | None = None) -> dict[str, CrashRecord]:
        """``{bucket id: its newest crash}`` for many buckets at once (every unmerged bucket when
        None); records without their files."""

    @abc.abstractmethod
    def crashes_per_day_by_release(self, since: float) -> dict[str, dict[str, int]]:
        """``{release: {day: crashes}}`` of the crashes received since ``since`` (day of the crash)."""

    @abc.abstractmethod
    def crash_releases(self) -> list[str]:
        """Every kernel release with a crash, sorted."""

    @abc.abstractmethod
    def set_bucket_kb(self, bucket_id: str, matches: list[dict[str, Any]]) -> None: ...

    @abc.abstractmethod
    def merge_buckets(self, source: str, target: str, actor: str) -> BucketRecord:
        """Move every crash of ``source`` into ``target``; later crashes of ``source``'s key go there too."""

    @abc.abstractmethod
    def split_bucket(
        self, bucket_id: str, crash_ids: list[str], actor: str, title: str | None = None
    ) -> BucketRecord:
        """Move the given crashes into a new bucket (kept apart from later crashes of the same key)."""

    @abc.abstractmethod
    def bucket_events(self, bucket_id: str) -> list[BucketEvent]: ...

    @abc.abstractmethod
    def bucket_events_since(
        self, since: float, *, action: str | None = None, limit: int = 100_000
    ) -> list[BucketEvent]:
        """Every bucket's events after ``since`` (oldest first, at most ``limit``), with bucket ids:
        what changed since a reader last looked, without reading every bucket."""

    @abc.abstractmethod
    def set_bucket_workflow(
        self,
        bucket_id: str,
        *,
        status: str | None = None,
        owner: str | None = None,
        advice: str | None = None,
        actor: str,
    ) -> BucketRecord:
        """Change a bucket's response status (``crashhub.store.workflow.STATUSES``; spaces or
        underscores), owner and advice; None leaves a field as it is, "" clears owner or advice.
        Recorded as a bucket event (action ``workflow``) with each change as ``[old, new]``."""

    # -- tokens and audit
    @abc.abstractmethod
    def create_token(
        self, name: str, role: str, token_hash: str, host: str | None = None
    ) -> TokenRecord: ...

    @abc.abstractmethod
    def bind_token(self, token_id: str, host: str) -> str | None:
        """Bind an unbound token to ``host``, atomically, unless another active token is bound to
        ``host`` already; answers the host the token is bound to afterwards (``host``, or the one an
        earlier or concurrent call bound), None when there is no such token or it stays unbound."""

    @abc.abstractmethod
    def token_by_hash(self, token_hash: str) -> TokenRecord | None: ...

    @abc.abstractmethod
    def list_tokens(self) -> list[TokenRecord]: ...

    @abc.abstractmethod
    def revoke_token(self, token_id: str) -> bool: ...

    @abc.abstractmethod
    def audit(self, actor: str, action: str, target: str, detail: dict[str, Any] | None = None) -> None: ...

    @abc.abstractmethod
    def list_audit(self, limit: int = 100) -> list[AuditRecord]: ...

    # -- hosts and kernels
    @abc.abstractmethod
    def report_host(
        self,
        name: str,
        *,
        release: str | None,
        build_id: str | None,
        hardware: str | None,
        machine: str | None,
        agent_version: str | None,
        kdump: dict[str, Any] | None,
    ) -> None: ...

    @abc.abstractmethod
    def list_hosts(self) -> list[HostRecord]: ...

    @abc.abstractmethod
    def list_kernels(self) -> list[KernelRecord]: ...

    # -- resumable uploads
    @abc.abstractmethod
    def get_upload(self, crash_id: str) -> UploadRecord | None: ...

    @abc.abstractmethod
    def start_upload(self, crash_id: str, size: int | None) -> UploadRecord: ...

    @abc.abstractmethod
    def end_upload(self, crash_id: str) -> None: ...

    @abc.abstractmethod
    def claim_upload(self, crash_id: str, owner: str, lease: float) -> bool:
        """Take the write lease of an upload (made if absent); False while another owner's lease is live."""

    @abc.abstractmethod
    def release_upload(self, crash_id: str, owner: str) -> None: ...

    @abc.abstractmethod
    def list_uploads(self) -> list[UploadRecord]: ...

    @abc.abstractmethod
    def expire_uploads(self, idle_before: float) -> list[str]:
        """Delete the records of uploads no request has touched since ``idle_before`` (and no node
        holds); returns their keys, whose bytes the caller removes from the blob store."""

    @abc.abstractmethod
    def get_or_create_secret(self, name: str, candidate: str) -> str:
        """The shared secret ``name``; the first caller's ``candidate`` becomes it (nodes agree on one)."""

    # -- UI password users (shared by every hub node on one database)
    @abc.abstractmethod
    def put_ui_user(self, name: str, role: str, password_hash: str, *, replace: bool = True) -> bool:
        """Add user ``name`` or (``replace``) set its role and hash, keeping its creation time.
        Returns whether anything was written: False when ``replace`` is off and the user exists."""

    @abc.abstractmethod
    def get_ui_user(self, name: str) -> UiUserRecord | None: ...

    @abc.abstractmethod
    def list_ui_users(self) -> list[UiUserRecord]: ...

    @abc.abstractmethod
    def delete_ui_user(self, name: str) -> bool: ...

    # -- UI sessions ended at logout (shared by every hub node on one database)
    @abc.abstractmethod
    def revoke_session(self, nonce: str, expires_at: float) -> None:
        """Record that the UI session ``nonce`` ended; kept until ``expires_at`` (then pruned)."""

    @abc.abstractmethod
    def session_revoked(self, nonce: str) -> bool: ...

    # -- rate limits (fixed-window counters, shared by every hub node on one database)
    @abc.abstractmethod
    def rate_hit(self, key: str, window_s: float, limit: int, *, cost: int = 1) -> float | None:
        """Count ``cost`` hits of ``key`` in the current window of ``window_s`` seconds (windows are
        aligned on multiples of ``window_s`` since the epoch), atomically across nodes.  Returns None
        while the window's count stays within ``limit``, else the seconds until the window ends.  A
        negative ``cost`` takes hits back (a login that succeeded).  ``limit`` or ``window_s`` <= 0:
        no limit, nothing counted.  ``key`` has at most 255 characters."""

    @abc.abstractmethod
    def rate_count(self, key: str, window_s: float) -> int:
        """The hits of ``key`` counted so far in the current window of ``window_s`` seconds."""

    # -- jobs (the local queue keeps them here; a Celery queue keeps only its dead letters)
    @abc.abstractmethod
    def enqueue_job(self, kind: str, payload: dict[str, Any], key: str | None = None) -> tuple[str, bool]:
        """Add a job; with a ``key`` a second job of the same key is not added. Returns (id, created)."""

    @abc.abstractmethod
    def claim_job(self, owner: str, lease: float, kinds: Iterable[str] | None = None) -> JobRecord | None: ...

    @abc.abstractmethod
    def finish_job(
        self, job_id: str, *, ok: bool, result: dict[str, Any] | None = None, error: str | None = None
    ) -> None: ...

    @abc.abstractmethod
    def job_depth(self) -> int: ...

    @abc.abstractmethod
    def list_jobs(self, *, state: str | None = None, limit: int = 100) -> list[JobRecord]: ...

    @abc.abstractmethod
    def release_claims(self) -> int:
        """Put running jobs and spool items back and free upload leases (the embedded hub calls it at
        start: it is the only node).  Returns the jobs and spool items put back."""

    # -- spool items (a lease per item lets several watchers share one spool)
    @abc.abstractmethod
    def claim_spool_item(self, key: str, owner: str, lease: float) -> bool: ...

    @abc.abstractmethod
    def finish_spool_item(self, key: str, *, crash_id: str | None, error: str | None) -> None: ...

    @abc.abstractmethod
    def spool_item_state(self, key: str) -> str | None: ...

    @abc.abstractmethod
    def release_spool_item(self, key: str) -> None:
        """Drop a running claim so the item is tried again (after a transient failure)."""

    @abc.abstractmethod
    def renew_spool_item(self, key: str, owner: str, lease: float) -> bool:
        """Extend ``owner``'s live claim (a long reassembly); False when the claim is no longer its own."""
