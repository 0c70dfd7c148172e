"""Indexes for the top hosts/kernels/hardware of a bucket (bucket list of 10,000 buckets in < 200 ms).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 05:35:00
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_INDEXES = (
    ("ix_bucket_hosts_top", "bucket_hosts", ["bucket_id", "count", "host"]),
    ("ix_bucket_kernels_top", "bucket_kernels", ["bucket_id", "count", "release"]),
    ("ix_bucket_hardware_top", "bucket_hardware", ["bucket_id", "count", "hardware"]),
)


def upgrade() -> None:
    for name, table, cols in _INDEXES:
        op.create_index(name, table, cols)


def downgrade() -> None:
    for name, table, _ in _INDEXES:
        op.drop_index(name, table_name=table)
