"""SQLAlchemy 2 tables of the store (the Alembic migrations in ``migrations/`` create these).

Counters live on the bucket row and in small per-bucket aggregate tables
(days, hosts, kernels, hardware) that ingest updates in the same transaction as
the crash, so listing 10,000 buckets never scans the crash table.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Bucket(Base):
    __tablename__ = "buckets"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    algorithm: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(128))
    # A split-off bucket shares its key with the original; only the original receives new crashes.
    primary: Mapped[bool] = mapped_column(Boolean, default=True)
    kind: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(Text)
    frames: Mapped[list[str]] = mapped_column(JSON, default=list)
    count: Mapped[int] = mapped_column(Integer, default=0)
    dumps: Mapped[int] = mapped_column(Integer, default=0)
    first_seen: Mapped[float] = mapped_column(Float)
    last_seen: Mapped[float] = mapped_column(Float)
    merged_into: Mapped[str | None] = mapped_column(String(40), nullable=True)
    kb: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[float] = mapped_column(Float)
    # The response workflow (migration 0003). A NULL status (a bucket from before 0003) is derived
    # from the KB by readers: "known_issue" with a specific match, else "new".
    status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    owner: Mapped[str | None] = mapped_column(String(255), nullable=True)
    advice_deadline: Mapped[float | None] = mapped_column(Float, nullable=True)
    advice: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The KB status the dashboard filters on ("known" | "new" | "regression"), kept with ``kb``.
    kb_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    __table_args__ = (
        Index("ix_buckets_key", "algorithm", "key"),
        Index("ix_buckets_status", "status"),
        Index("ix_buckets_kb_status", "kb_status"),
        Index("ix_buckets_count", "count"),
        Index("ix_buckets_last_seen", "last_seen"),
    )


class BucketDay(Base):
    __tablename__ = "bucket_days"
    bucket_id: Mapped[str] = mapped_column(ForeignKey("buckets.id"), primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    __table_args__ = (Index("ix_bucket_days_day", "day"),)


class BucketHost(Base):
    __tablename__ = "bucket_hosts"
    bucket_id: Mapped[str] = mapped_column(ForeignKey("buckets.id"), primary_key=True)
    host: Mapped[str] = mapped_column(String(255), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    # Top hosts of a bucket without sorting all of them (migration 0002).
    __table_args__ = (
        Index("ix_bucket_hosts_top", "bucket_id", "count", "host"),
        Index("ix_bucket_hosts_host", "host", "bucket_id"),  # the dashboard's host filter (0003)
    )


class BucketKernel(Base):
    __tablename__ = "bucket_kernels"
    bucket_id: Mapped[str] = mapped_column(ForeignKey("buckets.id"), primary_key=True)
    release: Mapped[str] = mapped_column(String(255), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    __table_args__ = (
        Index("ix_bucket_kernels_top", "bucket_id", "count", "release"),
        Index("ix_bucket_kernels_release", "release", "bucket_id"),  # the kernel filter (0003)
    )


class BucketHardware(Base):
    __tablename__ = "bucket_hardware"
    bucket_id: Mapped[str] = mapped_column(ForeignKey("buckets.id"), primary_key=True)
    hardware: Mapped[str] = mapped_column(String(512), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    __table_args__ = (Index("ix_bucket_hardware_top", "bucket_id", "count", "hardware"),)


class BucketEventRow(Base):
    __tablename__ = "bucket_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    bucket_id: Mapped[str] = mapped_column(String(40), index=True)
    at: Mapped[float] = mapped_column(Float)
    action: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(255))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    __table_args__ = (Index("ix_bucket_events_at", "at"),)  # bucket_events_since (0008)


class Crash(Base):
    __tablename__ = "crashes"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    identity: Mapped[str] = mapped_column(String(160), unique=True)
    received_at: Mapped[float] = mapped_column(Float)
    crash_time: Mapped[float | None] = mapped_column(Float, nullable=True)
    crash_time_source: Mapped[str | None] = mapped_column(String(16), nullable=True)
    host: Mapped[str] = mapped_column(String(255))
    host_source: Mapped[str] = mapped_column(String(16))
    release: Mapped[str | None] = mapped_column(String(255), nullable=True)
    kind: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(Text)
    bucket_id: Mapped[str] = mapped_column(ForeignKey("buckets.id"))
    signature_algorithm: Mapped[str] = mapped_column(String(64))
    signature_key: Mapped[str] = mapped_column(String(128))
    hardware: Mapped[str | None] = mapped_column(String(512), nullable=True)
    report: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    reports: Mapped[int] = mapped_column(Integer, default=0)
    source: Mapped[str] = mapped_column(String(16))
    crash_dir: Mapped[str | None] = mapped_column(String(512), nullable=True)
    has_vmcore: Mapped[bool] = mapped_column(Boolean, default=False)
    dump_facts: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    versions: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    kb: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    analysis: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # Retention (migration 0009): who pinned the dump (never evicted while set), and, once the dump
    # was evicted, its file facts with why and when (the crash keeps its log and dump facts).
    pinned_by: Mapped[str | None] = mapped_column(String(255), nullable=True)
    pinned_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    dump_evicted: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    __table_args__ = (
        Index("ix_crashes_bucket", "bucket_id", "received_at"),
        Index("ix_crashes_host", "host"),
        Index("ix_crashes_received", "received_at"),
        Index("ix_crashes_release_host", "release", "host"),  # list_kernels (0007)
    )


class CrashLogReport(Base):
    """Every report triage found in a crash's log, in log order (migration 0014): the crash page lists
    them, the primary marked.  A crash stored before 0014 has none here (its log is parsed again)."""

    __tablename__ = "crash_reports"
    crash_id: Mapped[str] = mapped_column(ForeignKey("crashes.id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    primary: Mapped[bool] = mapped_column(Boolean, default=False)
    report: Mapped[dict[str, Any]] = mapped_column(JSON)


class CrashChannel(Base):
    """A channel a crash came through (migration 0015): kdump, netconsole or pstore, once each, with
    when it arrived, the log it brought and what it noticed.  Crashes stored before 0015 were given
    their kdump row by the migration."""

    __tablename__ = "crash_channels"
    crash_id: Mapped[str] = mapped_column(ForeignKey("crashes.id"), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    arrived_at: Mapped[float] = mapped_column(Float)
    crash_time: Mapped[float | None] = mapped_column(Float, nullable=True)
    source: Mapped[str] = mapped_column(String(16))
    log_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    log_digest: Mapped[str | None] = mapped_column(String(64), nullable=True)
    log_size: Mapped[int] = mapped_column(Integer, default=0)
    notes: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    __table_args__ = (Index("ix_crash_channels_channel", "channel", "crash_id"),)


class CrashFile(Base):
    __tablename__ = "crash_files"
    crash_id: Mapped[str] = mapped_column(ForeignKey("crashes.id"), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    digest: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[float] = mapped_column(Float)


class Host(Base):
    __tablename__ = "hosts"
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    first_seen: Mapped[float] = mapped_column(Float)
    last_seen: Mapped[float] = mapped_column(Float)
    release: Mapped[str | None] = mapped_column(String(255), nullable=True)
    build_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    hardware: Mapped[str | None] = mapped_column(String(512), nullable=True)
    machine: Mapped[str | None] = mapped_column(String(32), nullable=True)
    agent_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    kdump: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # The IP the host's last report came from (migration 0017): evidence the hub saw, which maps
    # a netconsole sender to its host; the agent never fills it in.
    address: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)


class Token(Base):
    __tablename__ = "tokens"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[float] = mapped_column(Float)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    host: Mapped[str | None] = mapped_column(String(255), nullable=True)


class Audit(Base):
    __tablename__ = "audit"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[float] = mapped_column(Float, index=True)
    actor: Mapped[str] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(512))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Upload(Base):
    __tablename__ = "uploads"
    crash_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    size: Mapped[int | None] = mapped_column(Integer, nullable=True)
    started_at: Mapped[float] = mapped_column(Float)
    # The node writing the upload right now (a lease, so a node killed mid-request frees it).
    owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_until: Mapped[float | None] = mapped_column(Float, nullable=True)


class Secret(Base):
    """Secrets every hub node must share (the UI's session MAC key), made once by the first node."""

    __tablename__ = "secrets"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(512))  # hex
    created_at: Mapped[float] = mapped_column(Float)


class UiUser(Base):
    """UI password users (migration 0006): in the database so every hub node knows the same logins."""

    __tablename__ = "ui_users"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))  # "viewer" | "admin"
    password_hash: Mapped[str] = mapped_column(String(255))  # argon2id, "$argon2id$..."
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)


class SessionRevocation(Base):
    """A UI session ended at logout (migration 0010), kept until the session would have expired."""

    __tablename__ = "ui_session_revocations"
    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[float] = mapped_column(Float)
    __table_args__ = (Index("ix_ui_session_revocations_expires", "expires_at"),)


class RateLimit(Base):
    """Fixed-window counters of the rate limits (migration 0006), shared by every hub node.

    One row per key and window; ``expires_at`` (the window's end) lets old rows be pruned without
    knowing each key's window length."""

    __tablename__ = "rate_limits"
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    window_start: Mapped[float] = mapped_column(Float, primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[float] = mapped_column(Float)
    __table_args__ = (Index("ix_rate_limits_expires", "expires_at"),)


class Job(Base):
    __tablename__ = "jobs"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    key: Mapped[str | None] = mapped_column(String(255), nullable=True, unique=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_until: Mapped[float | None] = mapped_column(Float, nullable=True)
    created_at: Mapped[float] = mapped_column(Float)
    finished_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    __table_args__ = (Index("ix_jobs_state", "state", "created_at"),)


class SpoolItem(Base):
    __tablename__ = "spool_items"
    key: Mapped[str] = mapped_column(String(600), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))  # "running" | "done" | "failed"
    owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_until: Mapped[float | None] = mapped_column(Float, nullable=True)
    crash_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    updated_at: Mapped[float] = mapped_column(Float)


class CeleryJob(Base):
    """The Celery queue's ledger (``crashhub.jobs._celery_queue``): attempts and a lease per job, so a
    redelivered message of a finished job is dropped and a job that kills its worker ends dead-lettered."""

    __tablename__ = "celery_jobs"
    job_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str | None] = mapped_column(String(32), nullable=True)
    state: Mapped[str | None] = mapped_column(String(16), nullable=True)  # queued|running|retry|done|dead
    attempts: Mapped[int | None] = mapped_column(Integer, nullable=True, default=0)
    worker: Mapped[str | None] = mapped_column(String(200), nullable=True)
    lease_until: Mapped[float | None] = mapped_column(Float, nullable=True)
    updated_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)


class CeleryWorker(Base):
    """Analysis workers and the kernel releases whose debuginfo each holds (routing by release)."""

    __tablename__ = "celery_workers"
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    releases: Mapped[str | None] = mapped_column(Text, nullable=True)  # comma-separated
    heartbeat: Mapped[float | None] = mapped_column(Float, nullable=True)


__all__ = [
    "Audit",
    "Base",
    "Bucket",
    "BucketDay",
    "BucketEventRow",
    "BucketHardware",
    "BucketHost",
    "BucketKernel",
    "BucketKey",
    "BucketRekey",
    "BucketRule",
    "CeleryJob",
    "CeleryWorker",
    "ClusterCursor",
    "ClusterKey",
    "ClusterLease",
    "Crash",
    "CrashFile",
    "Host",
    "Job",
    "KbRow",
    "RateLimit",
    "Secret",
    "SpoolItem",
    "Token",
    "UiUser",
    "UniqueConstraint",
    "Upload",
]


# ---------------------------------------------------------------- shared by the nodes (0012)
class ClusterLease(Base):
    """Periodic work a node holds until ``expires_at`` (store/_cluster.py)."""

    __tablename__ = "cluster_leases"
    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    owner: Mapped[str] = mapped_column(String(255))
    expires_at: Mapped[float] = mapped_column(Float)
    acquired_at: Mapped[float] = mapped_column(Float)


class ClusterKey(Base):
    """A de-duplication key (an alert sent, an advice delivered) with when it was recorded."""

    __tablename__ = "cluster_keys"
    key: Mapped[str] = mapped_column(String(512), primary_key=True)
    at: Mapped[float] = mapped_column(Float, index=True)


class ClusterCursor(Base):
    """A named position (the owner advice's cursor) as a JSON value."""

    __tablename__ = "cluster_cursors"
    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON, nullable=True)
    updated_at: Mapped[float] = mapped_column(Float)


class KbRow(Base):
    """A knowledge-base entry as its YAML text (store/_kb.py); a deleted entry keeps its row, so
    ``max(revision)`` changes on every write and a node's cache can be checked with one query."""

    __tablename__ = "kb_entries"
    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    revision: Mapped[int] = mapped_column(Integer, unique=True)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[float] = mapped_column(Float)
    updated_by: Mapped[str | None] = mapped_column(String(255), nullable=True)


# ---------------------------------------------------------------- versioned grouping (0013)
class BucketKey(Base):
    """Every (algorithm, key) a bucket took: ingest finds a key's bucket here, and a key from before
    a re-key still leads to the bucket that took its crashes over (an alias)."""

    __tablename__ = "bucket_keys"
    algorithm: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    bucket_id: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[float] = mapped_column(Float)
    origin: Mapped[str] = mapped_column(String(16))  # "ingest" | "rekey" | "migration"
    __table_args__ = (Index("ix_bucket_keys_bucket", "bucket_id"), Index("ix_bucket_keys_key", "key"))


class BucketRule(Base):
    """A user's merge or split kept as a rule (crashhub.classify._rules.GroupingRule); a rule a re-key
    carried over or a user deleted keeps its row, ``retired_at`` set."""

    __tablename__ = "bucket_rules"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    action: Mapped[str] = mapped_column(String(8))  # "merge" | "split"
    target: Mapped[str] = mapped_column(String(40))
    algorithm: Mapped[str | None] = mapped_column(String(64), nullable=True)
    key: Mapped[str | None] = mapped_column(String(128), nullable=True)
    source: Mapped[str | None] = mapped_column(String(40), nullable=True)
    when: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[float] = mapped_column(Float)
    created_by: Mapped[str] = mapped_column(String(255))
    note: Mapped[str] = mapped_column(Text, default="")
    parent: Mapped[str | None] = mapped_column(String(40), nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    retired_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    retired_by: Mapped[str | None] = mapped_column(String(255), nullable=True)
    __table_args__ = (
        Index("ix_bucket_rules_key", "algorithm", "key"),
        Index("ix_bucket_rules_source", "source"),
        Index("ix_bucket_rules_target", "target"),
    )


class BucketRekey(Base):
    """The re-key ledger: one row per (old key, old bucket) -> (new key, new bucket) flow of a run."""

    __tablename__ = "bucket_rekeys"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run: Mapped[str] = mapped_column(String(40))
    at: Mapped[float] = mapped_column(Float)
    from_algorithm: Mapped[str] = mapped_column(String(64))
    to_algorithm: Mapped[str] = mapped_column(String(64))
    old_key: Mapped[str] = mapped_column(String(128))
    new_key: Mapped[str] = mapped_column(String(128))
    old_bucket: Mapped[str] = mapped_column(String(40))
    new_bucket: Mapped[str] = mapped_column(String(40))
    crashes: Mapped[int] = mapped_column(Integer)
    change: Mapped[str] = mapped_column(String(16))  # crashhub.classify._rekey.Change
    rule: Mapped[str | None] = mapped_column(String(40), nullable=True)
    __table_args__ = (
        Index("ix_bucket_rekeys_run", "run"),
        Index("ix_bucket_rekeys_old_bucket", "old_bucket"),
        Index("ix_bucket_rekeys_new_bucket", "new_bucket"),
    )


# ---------------------------------------------------------------- kernel readiness (0015)
class ReadinessRow(Base):
    """One check of a kernel package with one capture setup (store/_readiness.py): the key, when it
    ran, and the runner's report as JSON (whether the kernel is ready is derived from it when read)."""

    __tablename__ = "readiness_reports"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    release: Mapped[str] = mapped_column(String(255))
    package_digest: Mapped[str] = mapped_column(String(64))
    core_collector: Mapped[str] = mapped_column(String(512))
    crashkernel: Mapped[str] = mapped_column(String(128))
    checked_at: Mapped[float] = mapped_column(Float)
    report: Mapped[dict[str, Any]] = mapped_column(JSON)
    __table_args__ = (
        UniqueConstraint("release", "package_digest", "core_collector", "crashkernel",
                         name="uq_readiness_key"),
        Index("ix_readiness_release", "release", "checked_at"),
    )
