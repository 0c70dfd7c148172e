"""Kernel readiness reports (issue 20, ``crashhub kernel check``): one row per kernel package and
capture setup, the runner's report as JSON.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 21:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "readiness_reports",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("release", sa.String(length=255), nullable=False),
        sa.Column("package_digest", sa.String(length=64), nullable=False),
        sa.Column("core_collector", sa.String(length=512), nullable=False),
        sa.Column("crashkernel", sa.String(length=128), nullable=False),
        sa.Column("checked_at", sa.Float(), nullable=False),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.UniqueConstraint("release", "package_digest", "core_collector", "crashkernel",
                            name="uq_readiness_key"),
    )
    op.create_index("ix_readiness_release", "readiness_reports", ["release", "checked_at"])


def downgrade() -> None:
    op.drop_index("ix_readiness_release", table_name="readiness_reports")
    op.drop_table("readiness_reports")
