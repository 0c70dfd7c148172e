"""The Celery queue's ledger tables, until then created by the queue itself outside the migrations.

``celery_jobs``: attempts and a lease per job (a redelivered message of a finished job is dropped;
a job that kills its worker every time ends as a dead letter). ``celery_workers``: each analysis
worker's heartbeat and the kernel releases whose debuginfo it holds, for routing by release.
A hub that already ran the queue has both tables: they are created only where missing.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 07:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if "celery_jobs" not in existing:
        op.create_table(
            "celery_jobs",
            sa.Column("job_id", sa.String(40), primary_key=True),
            sa.Column("kind", sa.String(32), nullable=True),
            sa.Column("state", sa.String(16), nullable=True),
            sa.Column("attempts", sa.Integer(), nullable=True),
            sa.Column("worker", sa.String(200), nullable=True),
            sa.Column("lease_until", sa.Float(), nullable=True),
            sa.Column("updated_at", sa.Float(), nullable=True),
            sa.Column("error", sa.Text(), nullable=True),
        )
    if "celery_workers" not in existing:
        op.create_table(
            "celery_workers",
            sa.Column("name", sa.String(200), primary_key=True),
            sa.Column("releases", sa.Text(), nullable=True),
            sa.Column("heartbeat", sa.Float(), nullable=True),
        )


def downgrade() -> None:
    op.drop_table("celery_workers")
    op.drop_table("celery_jobs")
