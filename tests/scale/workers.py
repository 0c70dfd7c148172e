"""``crashhub worker`` processes and the helpers the Celery tests share, on a Redis or a RabbitMQ broker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from crashhub.jobs._celery_queue import CeleryQueue, Limits
from crashhub.store import SqlStore
from crashhub.store._base import JobRecord

HERE = Path(__file__).resolve().parent  # on the workers' PYTHONPATH: scale_jobs, cluster_jobs
CRASHHUB = [sys.executable, "-m", "crashhub.cli"]  # the installed `crashhub` script, venv or not


class Workers:
    """``crashhub worker`` subprocesses, each in its own process group (kill -9 takes its pool too).

    ``options`` are added to every worker's command line (e.g. Redis-only ones)."""

    def __init__(self, data: Path, broker: str, db: str, options: tuple[str, ...] = ()) -> None:
        self.data, self.broker, self.db, self.options = data, broker, db, options
        self.procs: list[tuple[subprocess.Popen[bytes], Path]] = []

    def start(
        self, name: str, *extra: str, register: tuple[str, ...] = ("scale_jobs",)
    ) -> subprocess.Popen[bytes]:
        out = self.data / f"{name}.log"
        env = {
            **os.environ,
            "CRASHHUB_DATABASE_URL": self.db,
            "SCALE_WORKER_TAG": name,
            "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
        }
        cmd = [
            *CRASHHUB,
            "worker",
            "--data",
            str(self.data),
            "--broker",
            self.broker,
            "--name",
            name,
            "--concurrency",
            "1",
            "--max-memory-mb",
            "2048",
            *self.options,
        ]
        for m in register:
            cmd += ["--register", m]
        # A restarted worker of the same name appends to its log: readiness is looked for after
        # what the earlier run wrote.
        seen = out.stat().st_size if out.exists() else 0
        with open(out, "ab") as f:
            p = subprocess.Popen(
                [*cmd, *extra], stdout=f, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
        self.procs.append((p, out))
        end = time.monotonic() + 60
        while time.monotonic() < end:
            if p.poll() is not None:
                pytest.fail(f"worker {name} exited {p.returncode}: {out.read_text(errors='replace')[-2000:]}")
            if b" ready." in out.read_bytes()[seen:]:
                return p
            time.sleep(0.1)
        pytest.fail(f"worker {name} not ready: {out.read_text(errors='replace')[-2000:]}")

    def log(self, name: str) -> str:
        return (self.data / f"{name}.log").read_text(errors="replace")

    def kill9(self, p: subprocess.Popen[bytes]) -> None:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait(10)

    def stop_all(self) -> None:
        for p, _ in self.procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p, _ in self.procs:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(5)


def queue_for(store: SqlStore, w: Workers, db: str, **limits: Any) -> CeleryQueue:
    """The hub side's queue on the workers' broker, with these limits."""
    return CeleryQueue(store, w.broker, limits=Limits(**limits))


def job(store: SqlStore, jid: str) -> JobRecord:
    return next(j for j in store.jobs.list_jobs(limit=1000) if j.id == jid)


def wait_for(cond: Callable[[], bool], timeout: float, what: str, w: Workers | None = None) -> None:
    """Until ``cond()``; on timeout the test fails with the workers' log tails (when ``w`` is given)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.1)
    logs = "" if w is None else "\n".join(f"{o.name}: {o.read_text()[-1500:]}" for _, o in w.procs)
    pytest.fail(f"timed out waiting for {what}\n{logs}")


def lines(log: Path, word: str) -> list[list[str]]:
    """The split lines of a test job's log that start with ``word``."""
    if not log.exists():
        return []
    return [ln.split() for ln in log.read_text().splitlines() if ln.startswith(word)]
