"""Jobs (the local queue keeps them here; a Celery queue keeps only its dead letters) and the
Celery ledger: attempts, leases and worker adverts of the jobs a broker delivers.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable

from crashhub.model import JsonObject
from crashhub.store._base import JobRecord


class Jobs(abc.ABC):
    """One transaction per method."""

    @abc.abstractmethod
    def enqueue_job(self, kind: str, payload: JsonObject, key: str | None = None) -> tuple[str, bool]:
        """Add a job; with a ``key`` a second job of the same key is not added. Returns (id, created)."""

    @abc.abstractmethod
    def claim_job(self, owner: str, lease: float, kinds: Iterable[str] | None = None) -> JobRecord | None: ...

    @abc.abstractmethod
    def finish_job(
        self, job_id: str, *, ok: bool, result: JsonObject | None = None, error: str | None = None
    ) -> None: ...

    @abc.abstractmethod
    def job_depth(self) -> int: ...

    @abc.abstractmethod
    def get_job(self, job_id: str) -> JobRecord | None: ...

    @abc.abstractmethod
    def list_jobs(self, *, state: str | None = None, limit: int = 100) -> list[JobRecord]: ...

    @abc.abstractmethod
    def release_claims(self) -> int:
        """Put running jobs back to pending (the embedded hub, the only node, calls it at start
        through ``Store.release_claims``).  Returns the jobs put back."""

    # -- the Celery ledger (crashhub.jobs._celery_queue.Ledger): one row per job a broker delivers,
    # apart from the job's own row because a delivery may come before, after or twice around it.
    @abc.abstractmethod
    def ledger_queued(self, job_id: str, kind: str) -> None:
        """Record that the job was sent to the broker; a resend keeps its attempts and lease and
        restarts the clock of ``ledger_info``."""

    @abc.abstractmethod
    def ledger_state(self, job_id: str) -> tuple[str, int] | None:
        """(state, attempts) of a job the ledger knows."""

    @abc.abstractmethod
    def ledger_info(self, job_id: str) -> tuple[str, float] | None:
        """(state, when it last changed) of a job the ledger knows."""

    @abc.abstractmethod
    def ledger_claim(self, job_id: str, worker: str, lease: float) -> tuple[str, int] | None:
        """Lease the job to ``worker`` atomically if it is queued, to be retried, or its lease ran
        out: ``("run", attempt)``; else ``(state, attempts)`` (``running`` while another delivery's
        lease is live); None when the ledger has no row of the job."""

    @abc.abstractmethod
    def ledger_mark(self, job_id: str, state: str, error: str | None = None) -> None:
        """Set the job's ledger state (``retry``, ``done``, ``dead``) and end its lease."""

    @abc.abstractmethod
    def advertise_worker(self, worker: str, releases: Iterable[str]) -> None:
        """A worker's heartbeat: the kernel releases whose debuginfo it holds."""

    @abc.abstractmethod
    def live_releases(self, max_age: float = 120.0) -> set[str]:
        """The releases advertised by workers heard from in the last ``max_age`` seconds."""
