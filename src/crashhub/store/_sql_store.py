"""The store on SQLAlchemy 2: SQLite (WAL) embedded, PostgreSQL for teams.

``SqlStore`` builds every repository on one :class:`Db` (engine and transactions, ``_sql.py``):
crashes (``_sql_crashes``), buckets (``_sql_buckets``, queries in ``_bucket_queries``; aliases, rules
and re-keys in ``_sql_grouping``, routing in ``_routing``), retention
(``_sql_retention``), hosts, access, uploads and jobs (``_sql_<name>``).  What must change in one
transaction across them (a crash counted in its bucket) is in ``_counting``.
"""

from __future__ import annotations

from sqlalchemy import Engine

from crashhub.store._bucket_queries import trailing_days, trend_and_spike
from crashhub.store._cluster import SqlCluster
from crashhub.store._kb import SqlKb
from crashhub.store._readiness import SqlReadiness
from crashhub.store._sql import Db, bucket_id_for, new_id
from crashhub.store._sql_access import SqlAccess
from crashhub.store._sql_buckets import SqlBuckets
from crashhub.store._sql_crashes import SqlCrashes
from crashhub.store._sql_grouping import SqlGrouping
from crashhub.store._sql_hosts import SqlHosts
from crashhub.store._sql_jobs import SqlJobs
from crashhub.store._sql_retention import SqlRetention
from crashhub.store._sql_uploads import SqlUploads
from crashhub.store._store import Store

__all__ = [
    "Db",
    "SqlAccess",
    "SqlBuckets",
    "SqlCrashes",
    "SqlGrouping",
    "SqlHosts",
    "SqlJobs",
    "SqlRetention",
    "SqlStore",
    "SqlUploads",
    "bucket_id_for",
    "new_id",
    "trailing_days",
    "trend_and_spike",
]


class SqlStore(Store):
    """Every repository on one database (``url``: a SQLAlchemy URL)."""

    crashes: SqlCrashes
    buckets: SqlBuckets
    retention: SqlRetention
    hosts: SqlHosts
    access: SqlAccess
    uploads: SqlUploads
    jobs: SqlJobs
    cluster: SqlCluster
    kb: SqlKb
    grouping: SqlGrouping
    readiness: SqlReadiness

    def __init__(self, url: str, *, echo: bool = False, first_advice_hours: float = 4.0) -> None:
        self.db = Db(url, echo=echo)
        self.url, self.dialect, self.shared = url, self.db.dialect, self.db.shared
        self.crashes = SqlCrashes(self.db, first_advice_hours=first_advice_hours)
        self.buckets = SqlBuckets(self.db)
        self.retention = SqlRetention(self.db)
        self.hosts = SqlHosts(self.db)
        self.access = SqlAccess(self.db)
        self.uploads = SqlUploads(self.db)
        self.jobs = SqlJobs(self.db)
        self.cluster = SqlCluster(self.db)
        self.kb = SqlKb(self.db)
        self.grouping = SqlGrouping(self.db)
        self.readiness = SqlReadiness(self.db)

    @property
    def engine(self) -> Engine:
        return self.db.engine

    def migrate(self) -> None:
        self.db.migrate()

    def close(self) -> None:
        self.db.close()

    def after_fork(self) -> None:
        self.db.engine.dispose(close=False)
