"""Every report of a crash's log: in log order, the primary marked (the crash page lists them all).

Crashes stored before this revision get no rows: their reports are re-derived from the stored log
when read (``crashhub.ingest._reports.log_reports_of``), so nothing is back-filled here.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 18:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "crash_reports",
        sa.Column("crash_id", sa.String(length=40), sa.ForeignKey("crashes.id"), primary_key=True),
        sa.Column("position", sa.Integer(), primary_key=True),
        sa.Column("primary", sa.Boolean(), nullable=False),
        sa.Column("report", sa.JSON(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("crash_reports")
