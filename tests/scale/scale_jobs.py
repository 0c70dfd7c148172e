"""Job kinds for the Celery tests, loaded into a real ``crashhub worker`` with ``--register scale_jobs``.

Each handler appends what it did to a file named in its payload, so the test sees every attempt (even
one killed half-way) and every completion, across processes.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

TAG = os.environ.get("SCALE_WORKER_TAG", "?")


def _note(payload: dict[str, Any], line: str) -> None:
    with open(payload["log"], "a", encoding="utf-8") as f:
        f.write(f"{line} {TAG} {time.time():.3f}\n")
        f.flush()
        os.fsync(f.fileno())


def sleep(payload: dict[str, Any]) -> dict[str, Any]:
    _note(payload, "start")
    time.sleep(float(payload["seconds"]))
    _note(payload, "end")
    return {"slept": payload["seconds"], "tag": TAG}


def flaky(payload: dict[str, Any]) -> dict[str, Any]:
    _note(payload, "try")
    tries = sum(1 for ln in Path(payload["log"]).read_text().splitlines() if ln.startswith("try"))
    if tries <= int(payload["fail_times"]):
        raise RuntimeError(f"planned failure {tries}")
    _note(payload, "end")
    return {"tries": tries}


def fail(payload: dict[str, Any]) -> dict[str, Any]:
    _note(payload, "try")
    raise ValueError("this job always fails")


def hog(payload: dict[str, Any]) -> dict[str, Any]:
    _note(payload, "try")
    block = bytearray(int(payload["mb"]) << 20)  # past the worker's --max-memory-mb: MemoryError
    return {"allocated": len(block)}


def analyze(payload: dict[str, Any]) -> dict[str, Any]:
    _note(payload, f"analyze {payload.get('release')}")
    return {"tag": TAG}


def register(queue: Any, hub: Any, kb: Any) -> None:
    queue.register("sleep", sleep)
    queue.register("flaky", flaky)
    queue.register("fail", fail)
    queue.register("hog", hog)
    queue.register("analyze", analyze)  # replaces the real one: these tests check routing, not analysis
