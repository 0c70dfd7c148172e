"""PostgreSQL for the tests that need one: Debian's server, started once per session on a loopback port.

Debian's ``/usr/lib/postgresql/<v>/bin`` (``initdb`` + ``pg_ctl``, as the ``postgres`` user when the tests
run as root, since initdb refuses root) in a temp directory, or the server named by
``CRASHHUB_TEST_PG_URL`` when CI already runs one.  Fixtures:

- ``pg_server``: the server's URL (``.../postgres``), session-wide;
- ``pg_url``: a fresh database on it for one test;
- ``pg_control``: stop and start that server (fault tests), when it is this fixture's own.

Each is missing() (tests/need.py) with the reason when the server cannot start: a skip on a desk,
a failure under CRASHHUB_REQUIRE_ALL.  Registered in tests/conftest.py.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.need import missing


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def _as_pg_user(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


_PG: dict[str, Any] = {}


class PgControl:
    """Stops and starts the session's PostgreSQL (same port and data) for fault tests."""

    def _ctl(self, *args: str) -> None:
        p = _PG
        subprocess.run(
            _as_pg_user([str(p["bindir"] / "pg_ctl"), "-D", str(p["data"]), "-w", "-t", "60", *args]),
            check=True,
            capture_output=True,
            timeout=90,
        )

    def stop(self) -> None:
        self._ctl("-m", "immediate", "stop")  # as a crash would: no clean shutdown

    def start(self) -> None:
        p = _PG
        self._ctl(
            "-l",
            str(p["tmp"] / "log"),
            "-o",
            f"-p {p['port']} -k {p['tmp']} -c listen_addresses=127.0.0.1 -c fsync=off",
            "start",
        )


@pytest.fixture
def pg_control(pg_url: str) -> Iterator[PgControl]:
    if not _PG:
        missing("a PostgreSQL server of the fixture's own",
                "CRASHHUB_TEST_PG_URL names another: cannot restart it")
    c = PgControl()
    try:
        yield c
    finally:
        with contextlib.suppress(Exception):
            c.start()  # leave it running for the next tests, whatever happened


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """A PostgreSQL server URL without a database name (``.../postgres``); tests create their own."""
    env = os.environ.get("CRASHHUB_TEST_PG_URL")
    if env:
        yield env
        return
    bindir = _pg_bin()
    if bindir is None:
        missing("PostgreSQL", "server binaries (/usr/lib/postgresql/*/bin) are not installed")
    tmp = Path(tempfile.mkdtemp(prefix="crashhub-scale-pg-"))
    data = tmp / "data"
    if os.geteuid() == 0:
        try:
            shutil.chown(tmp, "postgres", "postgres")
        except (LookupError, PermissionError) as e:
            shutil.rmtree(tmp, ignore_errors=True)
            missing("PostgreSQL", f"cannot hand a directory to the postgres user: {e}")
    port = free_port()
    try:
        subprocess.run(
            _as_pg_user(
                [
                    str(bindir / "initdb"),
                    "-D",
                    str(data),
                    "-A",
                    "trust",
                    "-U",
                    "postgres",
                    "--no-sync",
                    "-E",
                    "UTF8",
                ]
            ),
            check=True,
            capture_output=True,
            timeout=120,
        )
        subprocess.run(
            _as_pg_user(
                [
                    str(bindir / "pg_ctl"),
                    "-D",
                    str(data),
                    "-w",
                    "-t",
                    "60",
                    "-l",
                    str(tmp / "log"),
                    "-o",
                    f"-p {port} -k {tmp} -c listen_addresses=127.0.0.1 -c fsync=off",
                    "start",
                ]
            ),
            check=True,
            capture_output=True,
            timeout=90,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, FileNotFoundError) as e:
        out = getattr(e, "stderr", b"") or b""
        shutil.rmtree(tmp, ignore_errors=True)
        missing("PostgreSQL", f"could not start: {e} {out.decode(errors='replace')[-300:]}")
    _PG.update(bindir=bindir, data=data, tmp=tmp, port=port)
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        _PG.clear()
        subprocess.run(
            _as_pg_user([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
            check=False,
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture
def pg_url(pg_server: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh database on the session's PostgreSQL server for one test."""
    from sqlalchemy import create_engine, text  # noqa: PLC0415 (loaded for the tests that ask for it)

    name = "t_" + "".join(c if c.isalnum() else "_" for c in request.node.name.lower())[:50]
    admin = create_engine(pg_server, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        c.execute(text(f'CREATE DATABASE "{name}"'))
    base = pg_server.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with contextlib.suppress(Exception), admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
