"""The Alembic migrations build exactly the schema the models describe (no table kept outside them)."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from crashhub.store import SqlStore
from crashhub.store import _migrate as migrate
from crashhub.store import _models as models


def test_migrations_match_the_models(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'm.db'}")
    migrate.upgrade(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), models.Base.metadata)
    # SQLite reports no server defaults or comments, so an empty diff here is a real agreement on
    # tables, columns, types and indexes.
    assert diff == []


def test_the_celery_ledger_uses_the_migrated_tables(tmp_path: Path) -> None:
    store = SqlStore(f"sqlite:///{tmp_path / 'l.db'}")
    store.migrate()
    # The ledger is the jobs repository's, on the store's tables (models, migration 0005), with
    # the models' columns: not a private copy of its own.
    have = inspect(store.engine)
    for table in ("celery_jobs", "celery_workers"):
        assert table in have.get_table_names(), table
        want = {c.name for c in models.Base.metadata.tables[table].columns}
        assert {c["name"] for c in have.get_columns(table)} == want, table
    store.jobs.ledger_queued("j1", "analyze")
    store.jobs.advertise_worker("w1", ["6.1.0-13-amd64"])
    with store.engine.connect() as c:
        assert c.execute(text("SELECT job_id, state FROM celery_jobs")).all() == [("j1", "queued")]
        workers = c.execute(text("SELECT name, releases FROM celery_workers")).all()
        assert workers == [("w1", "6.1.0-13-amd64")]
    store.close()


def test_tokens_made_before_0011_keep_working_unbound(tmp_path: Path) -> None:
    """The documented upgrade (docs/host.md): existing tokens survive migration 0011 unbound, and
    their first use binds them (nothing is guessed from the token's name)."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    migrate.upgrade(engine, "0010")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO tokens (id, name, role, token_hash, created_at, revoked) "
                "VALUES ('t-old', 'web-07', 'host', :h, 1.0, 0)"
            ),
            {"h": "e" * 64},
        )
    engine.dispose()
    store = SqlStore(url)
    store.migrate()
    try:
        old = store.access.token_by_hash("e" * 64)
        assert old is not None and (old.name, old.role, old.host) == ("web-07", "host", None)
        assert store.access.bind_token("t-old", "web-07") == "web-07"
        assert store.access.bind_token("t-old", "web-08") == "web-07"
    finally:
        store.close()


def test_0013_keeps_the_merges_and_splits_made_before_it(tmp_path: Path) -> None:
    """Buckets from before 0013: each key an alias of its bucket, a merge a merge rule, a split's
    bucket a split rule of its crashes, so a re-key keeps what users did before rules existed."""
    from tests.store.contract import crash  # noqa: PLC0415

    from crashhub.classify import Condition  # noqa: PLC0415

    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    migrate.upgrade(engine, "0012")
    engine.dispose()
    store = SqlStore(url)
    try:
        # Rows as a 0012 hub wrote them: the models of today, minus the tables 0013 adds.
        for name in ("bucket_keys", "bucket_rules", "crash_channels"):
            models.Base.metadata.tables[name].create(store.engine)
        a, _ = store.crashes.add_crash(crash("1", key="x"))
        b, _ = store.crashes.add_crash(crash("2", key="y"))
        c, _ = store.crashes.add_crash(crash("3", key="y"))
        store.buckets.merge_buckets(a.bucket_id, b.bucket_id, "admin")
        split = store.buckets.split_bucket(b.bucket_id, [c.id], "admin")
        with store.engine.begin() as conn:
            conn.execute(text("DROP TABLE bucket_rules"))
            conn.execute(text("DROP TABLE bucket_keys"))
            conn.execute(text("DROP TABLE crash_channels"))
        store.migrate()
        rules = {r.action: r for r in store.grouping.rules()}
        assert (rules["merge"].key, rules["merge"].target) == ("x", b.bucket_id)
        assert (rules["split"].source, rules["split"].target) == (b.bucket_id, split.id)
        assert rules["split"].when == (Condition("crash", c.id),)
        assert store.grouping.resolve("x") == b.bucket_id
        assert {x.key for x in store.grouping.aliases(b.bucket_id)} == {"x", "y"}
    finally:
        store.close()


def test_0015_gives_older_crashes_their_kdump_channel(tmp_path: Path) -> None:
    """A crash from before 0015 came by kdump, the only way in then: the migration says so."""
    from tests.store.contract import crash  # noqa: PLC0415

    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    migrate.upgrade(engine, "0014")
    engine.dispose()
    store = SqlStore(url)
    try:
        # Rows as a 0014 hub wrote them: the crash stored with today's code, its channel row gone.
        models.Base.metadata.tables["crash_channels"].create(store.engine)
        a, _ = store.crashes.add_crash(crash("1", key="x"))
        with store.engine.begin() as conn:
            conn.execute(text("DROP TABLE crash_channels"))
        store.migrate()
        (ch,) = store.crashes.crash_channels(a.id)
        assert (ch.channel, ch.arrived_at, ch.crash_time, ch.source) == (
            "kdump", a.received_at, a.crash_time, a.source)
        assert [r.channels for r in store.crashes.channel_coverage(0.0)] == [("kdump",)]
    finally:
        store.close()
