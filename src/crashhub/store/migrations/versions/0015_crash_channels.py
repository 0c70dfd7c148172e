"""The channels of a crash (issue 19): kdump, netconsole and pstore, one row each per crash.

Every crash stored before this revision came through kdump (the only way in until then): each gets
its kdump row here, arrived when the crash was received, with the crash's time and source (its log
is the crash's log file, so the row names no log blob of its own).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 21:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "crash_channels",
        sa.Column("crash_id", sa.String(length=40), sa.ForeignKey("crashes.id"), primary_key=True),
        sa.Column("channel", sa.String(length=16), primary_key=True),
        sa.Column("arrived_at", sa.Float(), nullable=False),
        sa.Column("crash_time", sa.Float(), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("log_name", sa.String(length=255), nullable=True),
        sa.Column("log_digest", sa.String(length=64), nullable=True),
        sa.Column("log_size", sa.Integer(), nullable=False),
        sa.Column("notes", sa.JSON(), nullable=True),
    )
    op.create_index("ix_crash_channels_channel", "crash_channels", ["channel", "crash_id"])
    op.execute(
        "INSERT INTO crash_channels (crash_id, channel, arrived_at, crash_time, source, log_size) "
        "SELECT id, 'kdump', received_at, crash_time, source, 0 FROM crashes"
    )


def downgrade() -> None:
    op.drop_index("ix_crash_channels_channel", table_name="crash_channels")
    op.drop_table("crash_channels")
