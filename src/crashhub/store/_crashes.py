"""The crashes the hub keeps: storing one with its bucket counted, reading them back, and the
aggregates the dashboard draws from them.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable

from crashhub.model import JsonObject, LogReport
from crashhub.store._base import CrashRecord, FileRecord, KernelDumps, NewCrash
from crashhub.store._channels import ChannelRecord, CrashChannels


class Crashes(abc.ABC):
    """One transaction per method."""

    @abc.abstractmethod
    def add_crash(self, new: NewCrash) -> tuple[CrashRecord, bool]:
        """Store a crash and count it in its bucket, or return the crash already stored under
        ``new.identity`` (then ``False``; files of ``new`` the old crash lacks are attached)."""

    @abc.abstractmethod
    def get_crash(self, crash_id: str) -> CrashRecord | None: ...

    @abc.abstractmethod
    def crash_by_identity(self, identity: str) -> CrashRecord | None: ...

    @abc.abstractmethod
    def list_crashes(
        self,
        *,
        host: str | None = None,
        kind: str | None = None,
        bucket: str | None = None,
        since: float | None = None,
        limit: int = 100,
        offset: int = 0,
        kernel: str | None = None,
        sort: str = "time",
        descending: bool = True,
    ) -> list[CrashRecord]:
        """A page of crashes, newest received first unless ``sort`` says ``host`` or ``kernel``
        (then time breaks ties; ``descending=False`` turns the order round).  Filters: ``host``
        and ``kernel`` (the release) whole, ``kind``, ``bucket``, ``since`` (received)."""

    @abc.abstractmethod
    def count_crashes(
        self,
        *,
        host: str | None = None,
        kind: str | None = None,
        bucket: str | None = None,
        since: float | None = None,
        kernel: str | None = None,
    ) -> int:
        """How many crashes ``list_crashes`` with the same filters goes through."""

    @abc.abstractmethod
    def crash_hosts(self, search: str, *, limit: int = 20) -> list[tuple[str, int]]:
        """Hosts whose name contains ``search`` (any case; LIKE wildcards are text), with their
        crashes, busiest first: the search page's host matches."""

    @abc.abstractmethod
    def crash_neighbours(self, crash_id: str) -> tuple[str | None, str | None]:
        """The crashes just older and just newer (by received time, then id) in the same bucket:
        the bucket page's "older / newer" steps."""

    @abc.abstractmethod
    def attach_dump(
        self,
        crash_id: str,
        file: FileRecord,
        facts: JsonObject | None,
        extra_files: Iterable[FileRecord] = (),
    ) -> CrashRecord:
        """Record a dump for a crash (idempotent: a second dump of the same crash is ignored)."""

    @abc.abstractmethod
    def add_channel(
        self, crash_id: str, channel: ChannelRecord, files: Iterable[FileRecord], relog: NewCrash | None
    ) -> tuple[CrashRecord, bool]:
        """Record that the crash came through one more channel, with its files (a file named as one
        the crash has is not added).  With ``relog`` (ingest's crash of the channel's better log, its
        files among ``files``) the crash becomes what ``relog`` says: its earlier logs turn
        ``channel_log``, its identity, triage, reports and KB are the new log's, its crash time the
        better-sourced one, and it is counted out of its bucket and into its new one.  A channel the
        crash has already changes nothing: then ``False``."""

    @abc.abstractmethod
    def crash_channels(self, crash_id: str) -> tuple[ChannelRecord, ...]:
        """The crash's channels in the order they arrived (a crash stored before migration 0015,
        or with no row, came by kdump)."""

    @abc.abstractmethod
    def channel_coverage(self, since: float) -> list[CrashChannels]:
        """Every crash received since ``since`` with its channels: what coverage is derived from."""

    @abc.abstractmethod
    def log_reports(self, crash_id: str) -> tuple[LogReport, ...]:
        """Every report stored of the crash's log, in log order (none for a crash stored before
        migration 0014, or whose log held no report)."""

    @abc.abstractmethod
    def set_crash_analysis(self, crash_id: str, analysis: JsonObject) -> None: ...

    @abc.abstractmethod
    def latest_crash_of_bucket(self, bucket_id: str) -> CrashRecord | None: ...

    @abc.abstractmethod
    def latest_crashes(self, bucket_ids: Iterable[str] | None = None) -> dict[str, CrashRecord]:
        """``{bucket id: its newest crash}`` for many buckets at once (every unmerged bucket when
        None); records without their files."""

    @abc.abstractmethod
    def refresh_bucket_kb(self, matches: dict[str, list[JsonObject]], *, actor: str = "kb") -> list[str]:
        """Set many buckets' KB matches in one transaction (a KB edit's re-match of every bucket);
        the ids of the buckets whose matches changed."""

    @abc.abstractmethod
    def bucket_matches(self) -> dict[str, tuple[str, list[JsonObject]]]:
        """``{bucket id: (kind, stored KB matches)}`` of every unmerged bucket (one read): which
        buckets one edited entry can concern."""

    @abc.abstractmethod
    def bucket_releases(self, bucket_ids: Iterable[str] | None = None) -> dict[str, list[str]]:
        """``{bucket id: every kernel release its crashes ran}`` (every unmerged bucket when None),
        from the buckets' kernel counts: what a KB range is checked against for a whole bucket."""

    @abc.abstractmethod
    def crashes_per_day_by_release(self, since: float) -> dict[str, dict[str, int]]:
        """``{release: {day: crashes}}`` of the crashes received since ``since`` (day of the crash)."""

    @abc.abstractmethod
    def kernel_dumps(self) -> dict[str, KernelDumps]:
        """``{release: its kept dumps}`` (the kernels page: which crashes wait for debuginfo)."""

    @abc.abstractmethod
    def crash_releases(self) -> list[str]:
        """Every kernel release with a crash, sorted."""
