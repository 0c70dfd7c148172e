"""Initial schema: crashes, files, buckets and their aggregates, hosts, tokens, audit, uploads, jobs, spool.

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-26 05:05:11.863606
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "audit",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("actor", sa.String(length=255), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=512), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("audit", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_at"), ["at"], unique=False)

    op.create_table(
        "bucket_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("bucket_id", sa.String(length=40), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=255), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("bucket_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bucket_events_bucket_id"), ["bucket_id"], unique=False)

    op.create_table(
        "buckets",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("algorithm", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("primary", sa.Boolean(), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("frames", sa.JSON(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("dumps", sa.Integer(), nullable=False),
        sa.Column("first_seen", sa.Float(), nullable=False),
        sa.Column("last_seen", sa.Float(), nullable=False),
        sa.Column("merged_into", sa.String(length=40), nullable=True),
        sa.Column("kb", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("buckets", schema=None) as batch_op:
        batch_op.create_index("ix_buckets_count", ["count"], unique=False)
        batch_op.create_index("ix_buckets_key", ["algorithm", "key"], unique=False)
        batch_op.create_index("ix_buckets_last_seen", ["last_seen"], unique=False)

    op.create_table(
        "hosts",
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("first_seen", sa.Float(), nullable=False),
        sa.Column("last_seen", sa.Float(), nullable=False),
        sa.Column("release", sa.String(length=255), nullable=True),
        sa.Column("build_id", sa.String(length=128), nullable=True),
        sa.Column("hardware", sa.String(length=512), nullable=True),
        sa.Column("machine", sa.String(length=32), nullable=True),
        sa.Column("agent_version", sa.String(length=64), nullable=True),
        sa.Column("kdump", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "jobs",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", sa.Float(), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("finished_at", sa.Float(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.create_index("ix_jobs_state", ["state", "created_at"], unique=False)

    op.create_table(
        "spool_items",
        sa.Column("key", sa.String(length=600), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", sa.Float(), nullable=True),
        sa.Column("crash_id", sa.String(length=40), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "tokens",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_table(
        "uploads",
        sa.Column("crash_id", sa.String(length=40), nullable=False),
        sa.Column("size", sa.Integer(), nullable=True),
        sa.Column("started_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("crash_id"),
    )
    op.create_table(
        "bucket_days",
        sa.Column("bucket_id", sa.String(length=40), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["bucket_id"],
            ["buckets.id"],
        ),
        sa.PrimaryKeyConstraint("bucket_id", "day"),
    )
    with op.batch_alter_table("bucket_days", schema=None) as batch_op:
        batch_op.create_index("ix_bucket_days_day", ["day"], unique=False)

    op.create_table(
        "bucket_hardware",
        sa.Column("bucket_id", sa.String(length=40), nullable=False),
        sa.Column("hardware", sa.String(length=512), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["bucket_id"],
            ["buckets.id"],
        ),
        sa.PrimaryKeyConstraint("bucket_id", "hardware"),
    )
    op.create_table(
        "bucket_hosts",
        sa.Column("bucket_id", sa.String(length=40), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["bucket_id"],
            ["buckets.id"],
        ),
        sa.PrimaryKeyConstraint("bucket_id", "host"),
    )
    op.create_table(
        "bucket_kernels",
        sa.Column("bucket_id", sa.String(length=40), nullable=False),
        sa.Column("release", sa.String(length=255), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["bucket_id"],
            ["buckets.id"],
        ),
        sa.PrimaryKeyConstraint("bucket_id", "release"),
    )
    op.create_table(
        "crashes",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("identity", sa.String(length=160), nullable=False),
        sa.Column("received_at", sa.Float(), nullable=False),
        sa.Column("crash_time", sa.Float(), nullable=True),
        sa.Column("crash_time_source", sa.String(length=16), nullable=True),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("host_source", sa.String(length=16), nullable=False),
        sa.Column("release", sa.String(length=255), nullable=True),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("bucket_id", sa.String(length=40), nullable=False),
        sa.Column("signature_algorithm", sa.String(length=64), nullable=False),
        sa.Column("signature_key", sa.String(length=128), nullable=False),
        sa.Column("hardware", sa.String(length=512), nullable=True),
        sa.Column("report", sa.JSON(), nullable=True),
        sa.Column("reports", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("crash_dir", sa.String(length=512), nullable=True),
        sa.Column("has_vmcore", sa.Boolean(), nullable=False),
        sa.Column("dump_facts", sa.JSON(), nullable=True),
        sa.Column("versions", sa.JSON(), nullable=False),
        sa.Column("kb", sa.JSON(), nullable=False),
        sa.Column("analysis", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["bucket_id"],
            ["buckets.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("identity"),
    )
    with op.batch_alter_table("crashes", schema=None) as batch_op:
        batch_op.create_index("ix_crashes_bucket", ["bucket_id", "received_at"], unique=False)
        batch_op.create_index("ix_crashes_host", ["host"], unique=False)
        batch_op.create_index("ix_crashes_received", ["received_at"], unique=False)

    op.create_table(
        "crash_files",
        sa.Column("crash_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["crash_id"],
            ["crashes.id"],
        ),
        sa.PrimaryKeyConstraint("crash_id", "name"),
    )
    with op.batch_alter_table("crash_files", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_crash_files_digest"), ["digest"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("crash_files", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_crash_files_digest"))

    op.drop_table("crash_files")
    with op.batch_alter_table("crashes", schema=None) as batch_op:
        batch_op.drop_index("ix_crashes_received")
        batch_op.drop_index("ix_crashes_host")
        batch_op.drop_index("ix_crashes_bucket")

    op.drop_table("crashes")
    op.drop_table("bucket_kernels")
    op.drop_table("bucket_hosts")
    op.drop_table("bucket_hardware")
    with op.batch_alter_table("bucket_days", schema=None) as batch_op:
        batch_op.drop_index("ix_bucket_days_day")

    op.drop_table("bucket_days")
    op.drop_table("uploads")
    op.drop_table("tokens")
    op.drop_table("spool_items")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_state")

    op.drop_table("jobs")
    op.drop_table("hosts")
    with op.batch_alter_table("buckets", schema=None) as batch_op:
        batch_op.drop_index("ix_buckets_last_seen")
        batch_op.drop_index("ix_buckets_key")
        batch_op.drop_index("ix_buckets_count")

    op.drop_table("buckets")
    with op.batch_alter_table("bucket_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bucket_events_bucket_id"))

    op.drop_table("bucket_events")
    with op.batch_alter_table("audit", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_at"))

    op.drop_table("audit")
