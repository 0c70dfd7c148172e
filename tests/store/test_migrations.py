"""The Alembic migrations build exactly the schema the models describe (no table kept outside them)."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine

from crashhub.store import migrate, models


def test_migrations_match_the_models(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'm.db'}")
    migrate.upgrade(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), models.Base.metadata)
    # SQLite reports no server defaults or comments, so an empty diff here is a real agreement on
    # tables, columns, types and indexes.
    assert diff == []


def test_the_celery_ledger_uses_the_migrated_tables(tmp_path: Path) -> None:
    ledger_cls = pytest.importorskip("crashhub.jobs.celery_queue", reason="celery not installed").Ledger
    url = f"sqlite:///{tmp_path / 'l.db'}"
    ledger = ledger_cls(url)  # migrates an empty database itself
    assert migrate.current(ledger.engine) is not None
    assert {"celery_jobs", "celery_workers"} <= set(models.Base.metadata.tables)
