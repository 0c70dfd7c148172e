"""Retention: a pin on a crash's dump and the facts of an evicted dump (``crashhub gc``).

Existing crashes are unpinned and keep their dumps.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("crashes") as b:
        b.add_column(sa.Column("pinned_by", sa.String(255), nullable=True))
        b.add_column(sa.Column("pinned_at", sa.Float(), nullable=True))
        b.add_column(sa.Column("dump_evicted", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("crashes") as b:
        b.drop_column("dump_evicted")
        b.drop_column("pinned_at")
        b.drop_column("pinned_by")
