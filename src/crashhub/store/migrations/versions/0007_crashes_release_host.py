"""Index crashes by (release, host): the kernels list (UI, API, alerts) counts crashes and hosts per
release from it without reading the crash rows (10,000 buckets / 100,000 crashes: 231 → 107 ms).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26 08:45:00
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_crashes_release_host", "crashes", ["release", "host"])


def downgrade() -> None:
    op.drop_index("ix_crashes_release_host", table_name="crashes")
