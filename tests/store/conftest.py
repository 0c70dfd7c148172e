"""Store fixtures: the same contract tests run on SQLite and on a real PostgreSQL.

The PostgreSQL server is the session's (``pg_server``, tests/postgres.py): Debian's, started on a
loopback port, or ``CRASHHUB_TEST_PG_URL``; the tests skip with the reason when there is none.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from crashhub.store import SqlStore


@pytest.fixture(scope="session")
def store_pg_url(pg_server: str) -> Iterator[str]:
    """One database for the contract tests, emptied before each (faster than one database a test)."""
    admin = create_engine(pg_server, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text('DROP DATABASE IF EXISTS "crashhub_store" WITH (FORCE)'))
        c.execute(text('CREATE DATABASE "crashhub_store"'))
    try:
        yield pg_server.rsplit("/", 1)[0] + "/crashhub_store"
    finally:
        with contextlib.suppress(Exception), admin.connect() as c:
            c.execute(text('DROP DATABASE IF EXISTS "crashhub_store" WITH (FORCE)'))
        admin.dispose()


def _reset_pg(url: str) -> None:
    eng = create_engine(url)
    with eng.begin() as c:
        c.execute(text("DROP SCHEMA public CASCADE"))
        c.execute(text("CREATE SCHEMA public"))
    eng.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStore]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'crashhub.db'}"
    else:
        url = request.getfixturevalue("store_pg_url")
        _reset_pg(url)
    s = SqlStore(url)
    s.migrate()
    yield s
    with contextlib.suppress(Exception):
        s.close()
    time.sleep(0)
