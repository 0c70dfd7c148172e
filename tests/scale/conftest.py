"""Real servers on loopback for the scale-out tests (issue 9), each in a temp dir on a free port.

- Redis: Debian's ``redis-server``, no persistence, unix socket off.
- PostgreSQL: ``pg_server``, ``pg_url`` and ``pg_control`` come from tests/postgres.py (shared with the
  store's contract tests).
- S3: **a stand-in**, not AWS: moto (``moto.server``, the ``moto[server]`` PyPI package) in server mode
  speaks the S3 REST protocol over HTTP on loopback, so boto3 runs its real request path (signing,
  multipart, paginators, server-side copy) against it; behaviour AWS has and moto lacks is not covered.

Each fixture is missing() (tests/need.py) with the reason when its server cannot start.
"""

# ruff: noqa: PLC0415 - optional packages (boto3, moto) are imported where a test needs them

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.need import missing


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, proc: subprocess.Popen[bytes] | None, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            return False
        with socket.socket() as s:
            s.settimeout(0.5)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.05)
    return False


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    exe = shutil.which("redis-server")
    if exe is None:
        missing("Redis", "redis-server is not installed (Debian package redis-server)")
    tmp = Path(tempfile.mkdtemp(prefix="crashhub-redis-"))
    port = free_port()
    cmd = [
        exe,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        str(tmp),
        "--save",
        "",
        "--appendonly",
        "no",
        "--unixsocket",
        "",
    ]
    log = open(tmp / "log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    try:
        if not wait_port(port, proc, 20):
            log_tail = (tmp / "log").read_text(errors="replace")[-300:]
            missing("Redis", f"redis-server did not start: {log_tail}")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        _stop(proc)
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)


class RedisServer:
    """A redis-server of one test's own, which the test may restart (on the same port, data lost)."""

    def __init__(self, exe: str, tmp: Path) -> None:
        self.exe, self.tmp, self.port = exe, tmp, free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        cmd = [
            self.exe,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.tmp),
            "--save",
            "",
            "--appendonly",
            "no",
            "--unixsocket",
            "",
        ]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not wait_port(self.port, self.proc, 20):
            missing("Redis", "redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            _stop(self.proc)
            self.proc = None


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    exe = shutil.which("redis-server")
    if exe is None:
        missing("Redis", "redis-server is not installed (Debian package redis-server)")
    r = RedisServer(exe, tmp_path)
    r.start()
    try:
        yield r
    finally:
        r.stop()


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """An S3-protocol stand-in (moto server) on loopback; yields its endpoint URL."""
    try:
        import moto.server  # noqa: F401
    except ImportError as e:
        missing("moto", f"moto[server] is not installed: {e}")
    port = free_port()
    tmp = Path(tempfile.mkdtemp(prefix="crashhub-moto-"))
    log = open(tmp / "log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        if not wait_port(port, proc, 60):
            missing("moto", f"moto server did not start: {(tmp / 'log').read_text(errors='replace')[-300:]}")
        yield f"http://127.0.0.1:{port}"
    finally:
        _stop(proc)
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, s3_endpoint: str) -> str:
    """The usual AWS settings pointing boto3 at the stand-in (the store reads them like any boto3 user)."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(var, raising=False)
    return s3_endpoint
