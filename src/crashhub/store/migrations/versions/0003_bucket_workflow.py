"""The response workflow on buckets (status, owner, first-advice deadline, advice) and the KB status
the dashboard filters on.

Existing buckets keep a NULL status (readers derive it from the KB), get the default deadline of
4 hours after first seen, and their KB status computed from their stored matches.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 06:00:00
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _kb_status(matches: Any) -> str:
    # The same rule as crashhub.store._workflow.kb_status (a migration must not import code that
    # may change after it): a regression wins, then a specific (non-generic) entry.
    if isinstance(matches, str):
        matches = json.loads(matches or "[]")
    ms = [m for m in (matches or []) if isinstance(m, dict)]
    if any(m.get("regression") for m in ms):
        return "regression"
    if any(not m.get("generic") for m in ms):
        return "known"
    return "new"


def upgrade() -> None:
    with op.batch_alter_table("buckets") as b:
        b.add_column(sa.Column("status", sa.String(16), nullable=True))
        b.add_column(sa.Column("owner", sa.String(255), nullable=True))
        b.add_column(sa.Column("advice_deadline", sa.Float(), nullable=True))
        b.add_column(sa.Column("advice", sa.Text(), nullable=True))
        b.add_column(sa.Column("kb_status", sa.String(16), nullable=True))
    op.create_index("ix_buckets_status", "buckets", ["status"])
    op.create_index("ix_buckets_kb_status", "buckets", ["kb_status"])
    op.create_index("ix_bucket_kernels_release", "bucket_kernels", ["release", "bucket_id"])
    op.create_index("ix_bucket_hosts_host", "bucket_hosts", ["host", "bucket_id"])
    conn = op.get_bind()
    conn.execute(sa.text("UPDATE buckets SET advice_deadline = first_seen + 14400"))
    rows = conn.execute(sa.text("SELECT id, kb FROM buckets")).fetchall()
    for bid, kb in rows:
        conn.execute(
            sa.text("UPDATE buckets SET kb_status = :s WHERE id = :i"), {"s": _kb_status(kb), "i": bid}
        )


def downgrade() -> None:
    op.drop_index("ix_bucket_hosts_host", table_name="bucket_hosts")
    op.drop_index("ix_bucket_kernels_release", table_name="bucket_kernels")
    op.drop_index("ix_buckets_kb_status", table_name="buckets")
    op.drop_index("ix_buckets_status", table_name="buckets")
    with op.batch_alter_table("buckets") as b:
        for c in ("kb_status", "advice", "advice_deadline", "owner", "status"):
            b.drop_column(c)
