"""A host token belongs to one host: ``tokens.host``.

Existing tokens keep working and are left unbound (NULL): the hub binds each ``host`` token to the
host of its first upload or host report after the upgrade, and from then on refuses any other host.
An admin binds a token ahead of that with ``crashhub token bind ID --host NAME`` (docs/host.md,
"Upgrading: binding existing tokens").  Nothing is guessed from the token's free-text name.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tokens") as batch:
        batch.add_column(sa.Column("host", sa.String(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tokens") as batch:
        batch.drop_column("host")
