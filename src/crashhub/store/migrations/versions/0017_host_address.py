"""The address a host's report came from: ``hosts.address``.

The IP the hub saw the report's request come from (after the trusted proxies of
``forwarded_allow_ips``), never a field the agent fills in; the netconsole receiver maps a sender
to its host by it.  Hosts reported before this revision have none until their next report.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 21:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("hosts") as batch:
        batch.add_column(sa.Column("address", sa.String(length=64), nullable=True))
        batch.create_index("ix_hosts_address", ["address"])


def downgrade() -> None:
    with op.batch_alter_table("hosts") as batch:
        batch.drop_index("ix_hosts_address")
        batch.drop_column("address")
