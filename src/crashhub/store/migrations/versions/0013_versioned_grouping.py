"""Versioned grouping: key aliases, grouping rules and the re-key ledger.

Filled from what the buckets already say: every bucket a key made gets its (algorithm, key) as an
alias; a merged bucket's key becomes a merge rule into the bucket it was merged into; a split's
bucket becomes a split rule of the crashes it holds (by id), from the bucket of the same key.  So
a re-key keeps the merges and splits users made before this revision.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 10:00:00
"""

from __future__ import annotations

import time

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

ACTOR = "migration 0013"


def upgrade() -> None:
    keys = op.create_table(
        "bucket_keys",
        sa.Column("algorithm", sa.String(length=64), primary_key=True),
        sa.Column("key", sa.String(length=128), primary_key=True),
        sa.Column("bucket_id", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
    )
    op.create_index("ix_bucket_keys_bucket", "bucket_keys", ["bucket_id"])
    op.create_index("ix_bucket_keys_key", "bucket_keys", ["key"])
    rules = op.create_table(
        "bucket_rules",
        sa.Column("id", sa.String(length=40), primary_key=True),
        sa.Column("action", sa.String(length=8), nullable=False),
        sa.Column("target", sa.String(length=40), nullable=False),
        sa.Column("algorithm", sa.String(length=64), nullable=True),
        sa.Column("key", sa.String(length=128), nullable=True),
        sa.Column("source", sa.String(length=40), nullable=True),
        sa.Column("when", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("created_by", sa.String(length=255), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("parent", sa.String(length=40), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("retired_at", sa.Float(), nullable=True),
        sa.Column("retired_by", sa.String(length=255), nullable=True),
    )
    op.create_index("ix_bucket_rules_key", "bucket_rules", ["algorithm", "key"])
    op.create_index("ix_bucket_rules_source", "bucket_rules", ["source"])
    op.create_index("ix_bucket_rules_target", "bucket_rules", ["target"])
    op.create_table(
        "bucket_rekeys",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("run", sa.String(length=40), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("from_algorithm", sa.String(length=64), nullable=False),
        sa.Column("to_algorithm", sa.String(length=64), nullable=False),
        sa.Column("old_key", sa.String(length=128), nullable=False),
        sa.Column("new_key", sa.String(length=128), nullable=False),
        sa.Column("old_bucket", sa.String(length=40), nullable=False),
        sa.Column("new_bucket", sa.String(length=40), nullable=False),
        sa.Column("crashes", sa.Integer(), nullable=False),
        sa.Column("change", sa.String(length=16), nullable=False),
        sa.Column("rule", sa.String(length=40), nullable=True),
    )
    op.create_index("ix_bucket_rekeys_run", "bucket_rekeys", ["run"])
    op.create_index("ix_bucket_rekeys_old_bucket", "bucket_rekeys", ["old_bucket"])
    op.create_index("ix_bucket_rekeys_new_bucket", "bucket_rekeys", ["new_bucket"])
    _backfill(keys, rules)


def _backfill(keys: sa.Table, rules: sa.Table) -> None:
    conn = op.get_bind()
    now = time.time()
    buckets = sa.table(
        "buckets", sa.column("id"), sa.column("algorithm"), sa.column("key"), sa.column("primary"),
        sa.column("merged_into"), sa.column("created_at"),
    )
    crashes = sa.table("crashes", sa.column("id"), sa.column("bucket_id"))
    rows = conn.execute(sa.select(buckets)).all()
    made = {(r.algorithm, r.key): r.id for r in rows if r.primary}
    if made:
        conn.execute(keys.insert(), [
            {"algorithm": a, "key": k, "bucket_id": b, "created_at": now, "origin": "migration"}
            for (a, k), b in made.items()
        ])
    out = []
    for r in rows:
        base = {"algorithm": None, "key": None, "source": None, "when": [], "created_at": r.created_at,
                "created_by": ACTOR, "note": "", "parent": None, "version": 1}
        if r.primary and r.merged_into:
            out.append({**base, "id": f"r-merge-{r.id}", "action": "merge", "target": r.merged_into,
                        "algorithm": r.algorithm, "key": r.key})
        elif not r.primary and made.get((r.algorithm, r.key)):
            ids = conn.execute(sa.select(crashes.c.id).where(crashes.c.bucket_id == r.id)).scalars().all()
            if ids:
                out.append({**base, "id": f"r-split-{r.id}", "action": "split", "target": r.id,
                            "source": made[(r.algorithm, r.key)],
                            "when": [{"field": "crash", "pattern": i} for i in sorted(ids)]})
    if out:
        conn.execute(rules.insert(), out)


def downgrade() -> None:
    op.drop_table("bucket_rekeys")
    op.drop_table("bucket_rules")
    op.drop_table("bucket_keys")
