"""Scale-out (issue 9): UI password users and rate-limit counters in the database.

``ui_users`` replaces the per-node ``<data>/ui-users.json`` (a hub node imports that file into this
table at start, see ``crashhub.web.ui.session``), so a user added on one node logs in on every node.
``rate_limits`` holds fixed-window counters (login attempts, upload starts) that every node behind
the load balancer counts into; ``expires_at`` lets old windows be pruned.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 08:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ui_users",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
    )
    op.create_table(
        "rate_limits",
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("window_start", sa.Float(), primary_key=True),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
    )
    op.create_index("ix_rate_limits_expires", "rate_limits", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_rate_limits_expires", table_name="rate_limits")
    op.drop_table("rate_limits")
    op.drop_table("ui_users")
