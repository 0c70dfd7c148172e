"""The hub's store: the database behind :class:`Store` and the blobs behind :class:`BlobStore`.

``Store`` is a composition of small repositories, each an interface here with its SQL
implementation in ``crashhub.store.sql``: ``store.crashes`` (:class:`Crashes`), ``store.buckets``
(:class:`Buckets`), ``store.grouping`` (:class:`Grouping`: key aliases, grouping rules, re-keys),
``store.retention`` (:class:`Retention`), ``store.hosts`` (:class:`Hosts`),
``store.access`` (:class:`Access`), ``store.uploads`` (:class:`Uploads`), ``store.jobs``
(:class:`Jobs`).  Records are in ``crashhub.store.base``.

``open_store(settings)`` is what commands call: it opens the configured database, upgrades
its schema and opens the blob store.
"""

# ruff: noqa: PLC0415 - imports inside functions are deliberate: each command and stage loads
# only what it uses (the host agent installs without the hub's web and database stack).

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from crashhub.store._access import Access
from crashhub.store._buckets import Buckets
from crashhub.store._cluster import Cluster, node_name
from crashhub.store._crashes import Crashes
from crashhub.store._grouping import Grouping
from crashhub.store._hosts import Hosts
from crashhub.store._jobs import Jobs
from crashhub.store._kb import Kb, KbRecord
from crashhub.store._retention import Retention
from crashhub.store._store import Store
from crashhub.store._uploads import Uploads
from crashhub.store.blobs import BlobStore

if TYPE_CHECKING:
    from crashhub.config import Settings


@dataclass
class Hub:
    """The store and blob store a command works on, with the settings that chose them."""

    settings: Settings
    store: Store
    blobs: BlobStore

    def close(self) -> None:
        self.store.close()


def open_store(settings: Settings, *, migrate: bool = True) -> Hub:
    from crashhub.store.blobs import open_blobs
    from crashhub.store.private import DIR_MODE, prepare_sqlite
    from crashhub.store.sql import SqlStore

    settings.data_dir.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    prepare_sqlite(settings.db_url)
    store = SqlStore(settings.db_url, first_advice_hours=settings.first_advice_hours)
    if migrate:
        store.migrate()
    blobs = open_blobs(
        settings.blob_spec, cache_dir=settings.blob_cache_path, cache_bytes=settings.blob_cache_bytes
    )
    return Hub(settings=settings, store=store, blobs=blobs)


__all__ = [
    "Access",
    "BlobStore",
    "Buckets",
    "Cluster",
    "Crashes",
    "Grouping",
    "Hosts",
    "Hub",
    "Jobs",
    "Kb",
    "KbRecord",
    "Retention",
    "Store",
    "Uploads",
    "node_name",
    "open_store",
]
