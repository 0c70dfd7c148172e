"""State the nodes share: leases, de-duplication keys, cursors, and the knowledge base.

Before 0012 each node kept alert de-duplication (``alerts-state.json``), the owner-advice cursor
(``alerts-advice.json``) and the KB (``<data>/kb/*.yaml``) in its data directory, so two nodes sent
every periodic alert twice and a KB edit on one was unknown to the other.  The files are not read
back here: the KB directory is imported by the first start (``crashhub kb import`` by hand), and
the alert state starts empty (at worst one repeat of an alert still inside its window).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 17:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cluster_leases",
        sa.Column("name", sa.String(length=128), primary_key=True),
        sa.Column("owner", sa.String(length=255), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.Column("acquired_at", sa.Float(), nullable=False),
    )
    op.create_table(
        "cluster_keys",
        sa.Column("key", sa.String(length=512), primary_key=True),
        sa.Column("at", sa.Float(), nullable=False),
    )
    op.create_index("ix_cluster_keys_at", "cluster_keys", ["at"])
    op.create_table(
        "cluster_cursors",
        sa.Column("name", sa.String(length=128), primary_key=True),
        sa.Column("value", sa.JSON(), nullable=True),
        sa.Column("updated_at", sa.Float(), nullable=False),
    )
    op.create_table(
        "kb_entries",
        sa.Column("id", sa.String(length=80), primary_key=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False, unique=True),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.Column("updated_by", sa.String(length=255), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("kb_entries")
    op.drop_table("cluster_cursors")
    op.drop_index("ix_cluster_keys_at", table_name="cluster_keys")
    op.drop_table("cluster_keys")
    op.drop_table("cluster_leases")
