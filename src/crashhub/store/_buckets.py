"""Buckets: lists with their aggregates, merges and splits, KB matches, the response workflow
and the history of each.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import Any

from crashhub.classify import Condition
from crashhub.store._base import BucketEvent, BucketRecord
from crashhub.store._bucket_page import Breakdown


class Buckets(abc.ABC):
    """One transaction per method."""

    @abc.abstractmethod
    def list_buckets(
        self,
        *,
        sort: str = "count",
        kind: str | None = None,
        limit: int = 100,
        offset: int = 0,
        today: str | None = None,
        spike_days: int = 14,
        spike_factor: float = 3.0,
        spike_min: int = 5,
        include_merged: bool = False,
        kernel: str | None = None,
        host: str | None = None,
        kb_status: str | None = None,
        since: float | None = None,
        status: str | None = None,
        search: str | None = None,
    ) -> list[BucketRecord]:
        """A page of buckets. Filters: ``kernel`` (a release with crashes in the bucket), ``host``
        (a host with crashes in the bucket, the whole name), ``search`` (text that the title, a key
        function, a host or a kernel of the bucket contains, any case; at most 200 characters),
        ``kb_status`` (known, new, regression), ``since`` (last seen),
        ``status`` (the workflow's, as ``effective_status`` gives it: a bucket from before the
        workflow is ``known_issue`` when a specific KB entry explains it, else ``new``)."""

    @abc.abstractmethod
    def count_buckets(
        self,
        *,
        kind: str | None = None,
        include_merged: bool = False,
        kernel: str | None = None,
        host: str | None = None,
        kb_status: str | None = None,
        since: float | None = None,
        status: str | None = None,
        search: str | None = None,
    ) -> int:
        """How many buckets ``list_buckets`` with the same filters would go through."""

    @abc.abstractmethod
    def get_bucket(
        self,
        bucket_id: str,
        *,
        today: str | None = None,
        spike_days: int = 14,
        spike_factor: float = 3.0,
        spike_min: int = 5,
    ) -> BucketRecord | None: ...

    @abc.abstractmethod
    def bucket_ids(self) -> list[str]: ...

    @abc.abstractmethod
    def bucket_breakdown(self, bucket_id: str, *, limit: int = 20, scan: int = 200) -> Breakdown | None:
        """The bucket's crashes by kernel, host, hardware (all its crashes, from the count tables),
        module (guilty or in the stack) and taint letters (from the reports of its newest ``scan``
        crashes), with counts, the top ``limit`` of each; None for an unknown bucket."""

    @abc.abstractmethod
    def set_bucket_kb(self, bucket_id: str, matches: list[dict[str, Any]]) -> None: ...

    @abc.abstractmethod
    def merge_buckets(self, source: str, target: str, actor: str) -> BucketRecord:
        """Move every crash of ``source`` into ``target`` and record a merge rule per key of
        ``source`` (``crashhub.classify._rules``): later crashes of those keys go to ``target``, under
        this algorithm and, carried over by a re-key, under the next.  ``source``'s split rules
        go with its crashes to ``target``."""

    @abc.abstractmethod
    def split_bucket(
        self,
        bucket_id: str,
        crash_ids: list[str],
        actor: str,
        title: str | None = None,
        when: Sequence[Condition] = (),
    ) -> BucketRecord:
        """Move crashes into a new bucket and record a split rule that sends every later crash
        like them there too: the crashes given by id (the rule names them), and with ``when``
        every crash of the bucket that matches a condition (the rule keeps the conditions, so
        later crashes that match follow).  The bucket must keep at least one crash."""

    @abc.abstractmethod
    def bucket_events(self, bucket_id: str) -> list[BucketEvent]: ...

    @abc.abstractmethod
    def bucket_events_since(
        self, since: float, *, action: str | None = None, limit: int = 100_000
    ) -> list[BucketEvent]:
        """Every bucket's events after ``since`` (oldest first, at most ``limit``), with bucket ids:
        what changed since a reader last looked, without reading every bucket."""

    @abc.abstractmethod
    def set_bucket_workflow(
        self,
        bucket_id: str,
        *,
        status: str | None = None,
        owner: str | None = None,
        advice: str | None = None,
        actor: str,
    ) -> BucketRecord:
        """Change a bucket's response status (``crashhub.store._workflow.STATUSES``; spaces or
        underscores), owner and advice; None leaves a field as it is, "" clears owner or advice.
        Recorded as a bucket event (action ``workflow``) with each change as ``[old, new]``."""
