"""The job queue interface: named job kinds, JSON payloads, idempotency keys.

A handler is a plain function ``payload -> result`` (both JSON-able), registered by kind; it must be
idempotent, since a job whose worker died is run again.  The local queue (``local.py``) keeps jobs in
the store and runs them on threads inside ``crashhub serve``; a Celery queue (issue 9) will implement
the same three calls by sending ``(kind, payload)`` to a task that looks the handler up in the same
registry, so handlers never know which queue runs them.
"""

from __future__ import annotations

import abc
from collections.abc import Callable

from crashhub.model import JsonObject

Handler = Callable[[JsonObject], JsonObject | None]


class Queue(abc.ABC):
    def __init__(self) -> None:
        self.handlers: dict[str, Handler] = {}

    def register(self, kind: str, handler: Handler) -> None:
        self.handlers[kind] = handler

    @abc.abstractmethod
    def submit(self, kind: str, payload: JsonObject, key: str | None = None) -> str:
        """Queue a job; with ``key`` a job of the same key is queued only once. Returns the job id."""

    @abc.abstractmethod
    def depth(self) -> int:
        """Jobs waiting or running."""

    def start(self) -> None:  # noqa: B027 - deliberately a no-op unless the queue runs workers here
        """Start the workers (no-op for a queue whose workers run elsewhere)."""

    def stop(self, timeout: float = 10.0) -> None:  # noqa: B027 - see start()
        """Stop taking jobs; running ones finish or are left for a restart."""

    def drain(self, timeout: float = 60.0) -> bool:
        """Run or wait until no job is left (tests, CLI); False on timeout."""
        return self.depth() == 0
