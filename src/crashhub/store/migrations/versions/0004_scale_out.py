"""Scale-out (issue 9): a lease on each resumable upload, and a table of secrets shared by hub nodes.

``uploads.owner``/``lease_until`` let one node at a time write an upload while any node may resume it
after the writer died; ``secrets`` holds the UI session key, so a login made on one node is valid
on every other node behind the load balancer.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 06:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("uploads") as b:
        b.add_column(sa.Column("owner", sa.String(64), nullable=True))
        b.add_column(sa.Column("lease_until", sa.Float(), nullable=True))
    op.create_table(
        "secrets",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.String(512), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("secrets")
    with op.batch_alter_table("uploads") as b:
        b.drop_column("lease_until")
        b.drop_column("owner")
