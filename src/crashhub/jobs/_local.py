"""In-process workers: jobs live in the store's ``jobs`` table and run on threads.

Keeping jobs in the database (not in memory) is what makes the embedded hub survive kill -9: a job
that was running is put back at the next start (``Store.release_claims``) and, with several nodes,
is taken over once its lease runs out.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time
import traceback

from crashhub.jobs._base import Queue
from crashhub.model import JsonObject
from crashhub.store import Store

log = logging.getLogger("crashhub.jobs")


class LocalQueue(Queue):
    def __init__(self, store: Store, *, workers: int = 2, lease: float = 600.0, poll: float = 1.0) -> None:
        super().__init__()
        self.store = store
        self.workers = max(0, workers)
        self.lease = lease
        self.poll = poll
        self.owner = f"local-{os.getpid()}-{secrets.token_hex(3)}"
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def submit(self, kind: str, payload: JsonObject, key: str | None = None) -> str:
        if kind not in self.handlers:
            raise KeyError(f"no handler for job kind {kind!r}")
        jid, _ = self.store.jobs.enqueue_job(kind, payload, key)
        self._wake.set()
        return jid

    def depth(self) -> int:
        return self.store.jobs.job_depth()

    def run_one(self) -> bool:
        """Claim and run one job; False when there was none."""
        job = self.store.jobs.claim_job(self.owner, self.lease, kinds=list(self.handlers))
        if job is None:
            return False
        try:
            result = self.handlers[job.kind](job.payload)
        except Exception as e:
            log.warning("job %s (%s) failed: %s", job.id, job.kind, e)
            self.store.jobs.finish_job(
                job.id, ok=False, error=f"{type(e).__name__}: {e}\n" + "".join(traceback.format_exc(limit=5))
            )
        else:
            self.store.jobs.finish_job(job.id, ok=True, result=result)
        return True

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                if self.run_one():
                    continue
            except Exception:
                log.exception("job worker error")
            self._wake.wait(self.poll)
            self._wake.clear()

    def start(self) -> None:
        for i in range(self.workers):
            t = threading.Thread(target=self._loop, name=f"crashhub-worker-{i}", daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        for t in self._threads:
            t.join(timeout)

    def drain(self, timeout: float = 60.0) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self._threads:
                if self.depth() == 0:
                    return True
                time.sleep(0.05)
            elif not self.run_one():
                return self.depth() == 0
        return False
