"""The hub's job kinds for the cluster test (loaded into `crashhub worker` by `--register cluster_jobs`).

``analyze`` is the real handler (``crashhub.jobs._handlers.analyze_job``), wrapped so the test sees each
attempt across processes (a line per start and per end, with the worker's tag) and has time to kill a
worker in the middle of one (``CLUSTER_ANALYZE_DELAY`` seconds before the real work).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from crashhub.jobs import _handlers as handlers

TAG = os.environ.get("SCALE_WORKER_TAG", "?")


def _note(word: str, crash_id: str) -> None:
    with open(os.environ["CLUSTER_NOTES"], "a", encoding="utf-8") as f:
        f.write(f"{word} {crash_id} {TAG} {os.getpid()} {time.time():.3f}\n")
        f.flush()
        os.fsync(f.fileno())


def _wrap(real: Callable[[dict[str, Any]], dict[str, Any] | None]) -> Callable[[dict[str, Any]], Any]:
    def analyze(payload: dict[str, Any]) -> dict[str, Any] | None:
        cid = str(payload["crash_id"])
        _note("start", cid)
        time.sleep(float(os.environ.get("CLUSTER_ANALYZE_DELAY", "1")))
        out = real(payload)
        _note("end", cid)
        return out

    return analyze


def register(queue: Any, hub: Any, kb: Any) -> None:
    handlers.register(queue, hub, kb)
    queue.register("analyze", _wrap(queue.handlers["analyze"]))
