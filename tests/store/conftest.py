"""Store fixtures: the same contract tests run on SQLite and on a real PostgreSQL.

The PostgreSQL server is Debian's (``/usr/lib/postgresql/<v>/bin``), started by this fixture in a
temp directory on a loopback port (as the ``postgres`` user when the tests run as root: initdb refuses
root), or taken from ``CRASHHUB_TEST_PG_URL`` when CI already runs one.  It skips with the reason
when neither works.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from crashhub.store.sql import SqlStore


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def _as_pg_user(cmd: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return cmd
    return ["runuser", "-u", "postgres", "--", *cmd]


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    env = os.environ.get("CRASHHUB_TEST_PG_URL")
    if env:
        yield env
        return
    bindir = _pg_bin()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries (/usr/lib/postgresql/*/bin) are not installed")
    tmp = Path(tempfile.mkdtemp(prefix="crashhub-pg-"))
    data = tmp / "data"
    if os.geteuid() == 0:
        try:
            shutil.chown(tmp, "postgres", "postgres")
        except (LookupError, PermissionError) as e:
            shutil.rmtree(tmp, ignore_errors=True)
            pytest.skip(f"cannot hand a directory to the postgres user: {e}")
    port = _free_port()
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
        pytest.skip(f"could not start PostgreSQL: {e} {out.decode(errors='replace')[-300:]}")
    try:
        subprocess.run(
            _as_pg_user(
                [
                    str(bindir / "createdb"),
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(port),
                    "-U",
                    "postgres",
                    "crashhub_test",
                ]
            ),
            check=True,
            capture_output=True,
            timeout=30,
        )
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/crashhub_test"
    finally:
        subprocess.run(
            _as_pg_user([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
            check=False,
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(tmp, ignore_errors=True)


def _reset_pg(url: str) -> None:
    eng = create_engine(url)
    with eng.begin() as c:
        c.execute(text("DROP SCHEMA public CASCADE"))
        c.execute(text("CREATE SCHEMA public"))
    eng.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStore]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'crashhub.db'}"
    else:
        url = request.getfixturevalue("pg_url")
        _reset_pg(url)
    s = SqlStore(url)
    s.migrate()
    yield s
    with contextlib.suppress(Exception):
        s.close()
    time.sleep(0)
