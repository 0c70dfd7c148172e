"""The hub's store: the database behind :class:`Store` and the blobs behind :class:`BlobStore`.

``Store`` is a composition of small repositories, each an interface here with its SQL
implementation in ``crashhub.store._sql_store``: ``store.crashes`` (:class:`Crashes`), ``store.buckets``
(:class:`Buckets`), ``store.grouping`` (:class:`Grouping`: key aliases, grouping rules, re-keys),
``store.retention`` (:class:`Retention`), ``store.hosts`` (:class:`Hosts`),
``store.access`` (:class:`Access`), ``store.uploads`` (:class:`Uploads`), ``store.jobs``
(:class:`Jobs`).  Records are in ``crashhub.store._base``.

``open_store(settings)`` is what commands call: it opens the configured database, upgrades
its schema and opens the blob store.
"""

# ruff: noqa: PLC0415 - imports inside functions are deliberate: each command and stage loads
# only what it uses (the host agent installs without the hub's web and database stack).

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from crashhub._face import face
from crashhub.store._access import Access
from crashhub.store._blobs import BlobStore
from crashhub.store._buckets import Buckets
from crashhub.store._cluster import Cluster, node_name
from crashhub.store._crashes import Crashes
from crashhub.store._grouping import Grouping
from crashhub.store._hosts import Hosts
from crashhub.store._jobs import Jobs
from crashhub.store._kb import Kb, KbRecord
from crashhub.store._readiness import Readiness, ReadinessRecord
from crashhub.store._retention import Retention
from crashhub.store._store import Store
from crashhub.store._uploads import Uploads

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
    from crashhub.store._blobs import open_blobs
    from crashhub.store._private import DIR_MODE, prepare_sqlite
    from crashhub.store._sql_store import SqlStore

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
    "Readiness",
    "ReadinessRecord",
    "Retention",
    "Store",
    "Uploads",
    "node_name",
    "open_store",
]


# The public face (as httpx does): the names other parts use, loaded on first use so that importing
# crashhub.store stays cheap and free of import cycles; the modules behind it are private (_x).
if TYPE_CHECKING:
    from crashhub.store import _private as private
    from crashhub.store._base import ROLES as ROLES
    from crashhub.store._base import BucketEvent as BucketEvent
    from crashhub.store._base import BucketRecord as BucketRecord
    from crashhub.store._base import CrashRecord as CrashRecord
    from crashhub.store._base import FileRecord as FileRecord
    from crashhub.store._base import KernelDumps as KernelDumps
    from crashhub.store._base import KernelRecord as KernelRecord
    from crashhub.store._base import NewCrash as NewCrash
    from crashhub.store._base import TokenRecord as TokenRecord
    from crashhub.store._base import day_of as day_of
    from crashhub.store._base import iso as iso
    from crashhub.store._blobs import Blob as Blob
    from crashhub.store._blobs import LocalBlobStore as LocalBlobStore
    from crashhub.store._bucket_page import CRASH_SORTS as CRASH_SORTS
    from crashhub.store._bucket_page import MAX_QUERY as MAX_QUERY
    from crashhub.store._bucket_page import Breakdown as Breakdown
    from crashhub.store._bucket_page import CrashSort as CrashSort
    from crashhub.store._bucket_page import Share as Share
    from crashhub.store._channels import CHANNEL_RANK as CHANNEL_RANK
    from crashhub.store._channels import ChannelRecord as ChannelRecord
    from crashhub.store._channels import Coverage as Coverage
    from crashhub.store._channels import CoverageRow as CoverageRow
    from crashhub.store._channels import CrashChannels as CrashChannels
    from crashhub.store._channels import best_rank as best_rank
    from crashhub.store._channels import bounded_notes as bounded_notes
    from crashhub.store._channels import coverage as coverage
    from crashhub.store._channels import fleet_coverage as fleet_coverage
    from crashhub.store._channels import unverified as unverified
    from crashhub.store._grouping_records import RekeyCrash as RekeyCrash
    from crashhub.store._grouping_records import RekeyOutcome as RekeyOutcome
    from crashhub.store._retention_records import DeletedCrash as DeletedCrash
    from crashhub.store._retention_records import DumpHolding as DumpHolding
    from crashhub.store._sql_store import SqlStore as SqlStore
    from crashhub.store._sql_store import bucket_id_for as bucket_id_for
    from crashhub.store._sql_store import new_id as new_id
    from crashhub.store._workflow import KB_STATUSES as KB_STATUSES
    from crashhub.store._workflow import effective_status as effective_status
    from crashhub.store._workflow import is_overdue as is_overdue
    from crashhub.store._workflow import kb_status as kb_status

_FACE: dict[str, str] = {
    "CHANNEL_RANK": "crashhub.store._channels",
    "ChannelRecord": "crashhub.store._channels",
    "Coverage": "crashhub.store._channels",
    "CoverageRow": "crashhub.store._channels",
    "CrashChannels": "crashhub.store._channels",
    "best_rank": "crashhub.store._channels",
    "bounded_notes": "crashhub.store._channels",
    "coverage": "crashhub.store._channels",
    "fleet_coverage": "crashhub.store._channels",
    "unverified": "crashhub.store._channels",
    "Blob": "crashhub.store._blobs",
    "Breakdown": "crashhub.store._bucket_page",
    "CRASH_SORTS": "crashhub.store._bucket_page",
    "CrashSort": "crashhub.store._bucket_page",
    "MAX_QUERY": "crashhub.store._bucket_page",
    "Share": "crashhub.store._bucket_page",
    "BucketEvent": "crashhub.store._base",
    "BucketRecord": "crashhub.store._base",
    "CrashRecord": "crashhub.store._base",
    "DeletedCrash": "crashhub.store._retention_records",
    "DumpHolding": "crashhub.store._retention_records",
    "FileRecord": "crashhub.store._base",
    "KB_STATUSES": "crashhub.store._workflow",
    "KernelDumps": "crashhub.store._base",
    "KernelRecord": "crashhub.store._base",
    "LocalBlobStore": "crashhub.store._blobs",
    "NewCrash": "crashhub.store._base",
    "ROLES": "crashhub.store._base",
    "RekeyCrash": "crashhub.store._grouping_records",
    "RekeyOutcome": "crashhub.store._grouping_records",
    "SqlStore": "crashhub.store._sql_store",
    "TokenRecord": "crashhub.store._base",
    "bucket_id_for": "crashhub.store._sql_store",
    "day_of": "crashhub.store._base",
    "effective_status": "crashhub.store._workflow",
    "is_overdue": "crashhub.store._workflow",
    "iso": "crashhub.store._base",
    "kb_status": "crashhub.store._workflow",
    "new_id": "crashhub.store._sql_store",
}
_MODULES: dict[str, str] = {  # modules other parts use as a namespace
    "private": "crashhub.store._private",
}
__all__ += [
    "CHANNEL_RANK",
    "CRASH_SORTS",
    "KB_STATUSES",
    "MAX_QUERY",
    "ROLES",
    "Blob",
    "Breakdown",
    "BucketEvent",
    "BucketRecord",
    "ChannelRecord",
    "Coverage",
    "CoverageRow",
    "CrashChannels",
    "CrashRecord",
    "CrashSort",
    "DeletedCrash",
    "DumpHolding",
    "FileRecord",
    "KernelDumps",
    "KernelRecord",
    "LocalBlobStore",
    "NewCrash",
    "RekeyCrash",
    "RekeyOutcome",
    "Share",
    "SqlStore",
    "TokenRecord",
    "best_rank",
    "bounded_notes",
    "bucket_id_for",
    "coverage",
    "day_of",
    "effective_status",
    "fleet_coverage",
    "is_overdue",
    "iso",
    "kb_status",
    "new_id",
    "private",
    "unverified",
]


__getattr__ = face(globals(), _FACE, _MODULES)
