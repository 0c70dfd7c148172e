"""The store: the small repositories the hub keeps its state in, over one database.

Each repository is an interface with its contract tests (``tests/store/``), so a caller names the
part of the state it works on (``store.crashes.add_crash``, ``store.access.rate_hit``) and depends
on nothing else; :class:`crashhub.store._sql_store.SqlStore` builds them all on one SQLAlchemy engine.
"""

from __future__ import annotations

import abc

from crashhub.store._access import Access
from crashhub.store._buckets import Buckets
from crashhub.store._cluster import Cluster
from crashhub.store._crashes import Crashes
from crashhub.store._grouping import Grouping
from crashhub.store._hosts import Hosts
from crashhub.store._jobs import Jobs
from crashhub.store._kb import Kb
from crashhub.store._readiness import Readiness
from crashhub.store._retention import Retention
from crashhub.store._uploads import Uploads


class Store(abc.ABC):
    """Everything the hub keeps besides blobs.  Every repository method is one transaction."""

    #: Whether several hub nodes may share this store (a database server, not an embedded file).
    shared: bool = False

    crashes: Crashes
    buckets: Buckets
    retention: Retention
    hosts: Hosts
    access: Access
    uploads: Uploads
    jobs: Jobs
    #: What the nodes share besides crashes: leases, alert de-duplication keys, cursors.
    cluster: Cluster
    #: The knowledge base's entries (every node matches with these).
    kb: Kb
    #: Key aliases, users' grouping rules, re-keys and their ledger.
    grouping: Grouping
    #: Kernel readiness reports (``crashhub kernel check``).
    readiness: Readiness

    @abc.abstractmethod
    def migrate(self) -> None:
        """Create or upgrade the schema to the newest version."""

    @abc.abstractmethod
    def close(self) -> None: ...

    @abc.abstractmethod
    def after_fork(self) -> None:
        """Forget the connections inherited from a parent process, without closing them (they are
        the parent's): a forked worker child calls it before its first query."""

    def release_claims(self) -> int:
        """Put running jobs and spool items back and free upload leases (the embedded hub calls it at
        start: it is the only node).  Returns the jobs and spool items put back."""
        return self.jobs.release_claims() + self.uploads.release_claims()
