"""Index bucket events by time: ``bucket_events_since`` (the owner-advice tick reads what changed
since its cursor instead of every bucket).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26 09:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_bucket_events_at", "bucket_events", ["at"])


def downgrade() -> None:
    op.drop_index("ix_bucket_events_at", table_name="bucket_events")
