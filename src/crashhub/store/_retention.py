"""Retention (crashhub.retention): pins, evicted dumps, deletions; each one transaction,
audited in it.  Blobs are the caller's: these return the files whose records went.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable

from crashhub.store._base import CrashRecord
from crashhub.store._retention_records import DeletedCrash, DumpHolding, EvictedDump


class Retention(abc.ABC):
    """One transaction per method."""

    @abc.abstractmethod
    def dump_holdings(self) -> list[DumpHolding]:
        """Every crash whose dump is still stored (received, not evicted), oldest received first."""

    @abc.abstractmethod
    def retention_holds(self, *, bundle_since: float) -> dict[str, str]:
        """Crashes whose dump must stay, with why: ``pinned``, ``vendor bundle`` (a bundle with the
        dump was made since ``bundle_since``), ``under analysis`` (a pending or running analyze job)."""

    @abc.abstractmethod
    def pin_dump(self, crash_id: str, actor: str, *, pinned: bool = True) -> CrashRecord:
        """Pin (or unpin) a crash's dump; a pinned dump is never evicted."""

    @abc.abstractmethod
    def evict_dump(
        self, crash_id: str, *, reason: str, actor: str, bundle_since: float
    ) -> EvictedDump | None:
        """Drop the record of a crash's dump file and keep its facts on the crash.  None (nothing
        changed) when the crash has no stored dump or a hold (re-checked here) keeps it."""

    @abc.abstractmethod
    def referenced_digests(self) -> set[str]:
        """Every blob digest a crash file points at, or a pending or running job names in its
        payload's ``blobs`` (for garbage collection)."""

    @abc.abstractmethod
    def unreferenced(self, digests: Iterable[str]) -> set[str]:
        """Those of ``digests`` that no crash file points at any more."""

    @abc.abstractmethod
    def delete_crash(self, crash_id: str, actor: str) -> DeletedCrash | None:
        """Remove a crash, its file records and its counts in its bucket (a bucket left empty goes
        too, unless others are merged into it).  None when there is no such crash."""

    @abc.abstractmethod
    def delete_host(self, host: str, actor: str) -> list[DeletedCrash]:
        """Remove every crash of ``host`` (as :meth:`delete_crash`) and its host report."""
