"""The Alembic migrations build exactly the schema the models describe (no table kept outside them)."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, create_engine, inspect
from tests.need import need_module

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
    ledger_cls = need_module("crashhub.jobs.celery_queue", "celery not installed").Ledger
    url = f"sqlite:///{tmp_path / 'l.db'}"
    ledger = ledger_cls(url)  # migrates an empty database itself
    assert migrate.current(ledger.engine) == migrate.current(_migrated(tmp_path))
    # The ledger's own database holds its tables with the models' columns (not a private copy).
    have = inspect(ledger.engine)
    for table in ("celery_jobs", "celery_workers"):
        assert table in have.get_table_names(), table
        want = {c.name for c in models.Base.metadata.tables[table].columns}
        assert {c["name"] for c in have.get_columns(table)} == want, table


def _migrated(tmp_path: Path) -> Engine:
    engine = create_engine(f"sqlite:///{tmp_path / 'head.db'}")
    migrate.upgrade(engine)
    return engine
