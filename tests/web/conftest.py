"""A real ``crashhub serve`` on a loopback port, in a temp data directory, restartable and killable."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from crashhub import config
from crashhub.store import open_store
from crashhub.web import create_token


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli(data: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "crashhub.cli", *args, "--data", str(data)],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


class Server:
    def __init__(self, data: Path, env: dict[str, str], args: tuple[str, ...] = ()) -> None:
        self.data = data
        self.env = env
        self.args = args  # more `crashhub serve` arguments (e.g. --demo)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = data.parent / "serve.log"
        self.tokens: dict[str, str] = {}
        # Tokens made in-process (a `crashhub token create` per role would cost a Python start each;
        # tests/web/test_cli.py covers the command itself).
        hub = open_store(config.load(data, env={k: v for k, v in env.items() if k.startswith("CRASHHUB_")}))
        try:
            for role in ("host", "viewer", "admin"):
                self.tokens[role] = create_token(hub.store, role, f"test-{role}")[0]
        finally:
            hub.close()

    def start(self) -> None:
        env = {**os.environ, **self.env}
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "crashhub.cli",
                    "serve",
                    "--data",
                    str(self.data),
                    "--listen",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    *self.args,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        end = time.monotonic() + 60
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise AssertionError(f"crashhub serve exited: {self.log.read_text()[-3000:]}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError("crashhub serve did not answer /healthz within 60 s")

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def client(self, role: str | None = "admin") -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.tokens[role]}"} if role else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=120)


def make_server(tmp_path: Path, *args: str, **env: str) -> Server:
    data = tmp_path / "data"
    base = {
        "CRASHHUB_SPOOL_DIR": str(tmp_path / "spool"),
        "CRASHHUB_SPOOL_SETTLE": "0.5",
        "CRASHHUB_SPOOL_INTERVAL": "0.2",
        "CRASHHUB_WORKERS": "1",
        "CRASHHUB_BLOB_GC_GRACE": "3600",
        "CRASHHUB_LOG_LEVEL": "warning",
    }
    base.update(env)
    return Server(data, base, args)


@pytest.fixture
def fresh_server(tmp_path: Path) -> Iterator[Server]:
    """A server of this test's own (empty store)."""
    s = make_server(tmp_path)
    s.start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server shared by a test module (tests compare before/after, never assume an empty store)."""
    s = make_server(tmp_path_factory.mktemp("hub"))
    s.start()
    yield s
    s.stop()


def blob_files(data: Path) -> list[Path]:
    return [p for p in (data / "blobs" / "sha256").rglob("*") if p.is_file()]


def temp_files(data: Path) -> list[Path]:
    return list((data / "blobs" / "tmp").iterdir())
