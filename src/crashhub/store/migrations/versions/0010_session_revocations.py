"""UI sessions ended at logout (issue 14): the nonces of logged-out sessions, until they expire.

A session cookie is signed, not stored, so logging out used to delete the browser's copy only: a copy
taken before (a shared machine, a proxy log) stayed valid for its 12 hours.  Every hub node reads
this table, so a logout on one node ends the session on all of them.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ui_session_revocations",
        sa.Column("nonce", sa.String(64), primary_key=True),
        sa.Column("expires_at", sa.Float(), nullable=False),
    )
    op.create_index("ix_ui_session_revocations_expires", "ui_session_revocations", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_ui_session_revocations_expires", table_name="ui_session_revocations")
    op.drop_table("ui_session_revocations")
