"""Two hub nodes on one PostgreSQL database share UI users, sessions and rate limits (issue 9, item 3).

Each node is an app of its own with its own data directory (its own ``ui-secret`` and no file the
other can see), as two ``crashhub serve`` processes behind a load balancer would be; all they share
is ``database_url``.  The user is added with the real command, ``crashhub user add``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from crashhub import config
from crashhub.web import build_context, create_app

pytestmark = [pytest.mark.postgres]

PASSWORD = "a long password"


class Node:
    def __init__(self, data: Path, pg_url: str) -> None:
        settings = config.load(
            data,
            env={},
            database_url=pg_url,
            spool_dir="",
            workers=0,
            alert_interval=0,
            login_rate_limit=3,
            login_rate_window=300,
        )
        self.ctx = build_context(settings)
        self.app = create_app(settings, background=False, ctx=self.ctx)

    def client(self, addr: str, cookies: Any = None) -> TestClient:
        return TestClient(self.app, client=(addr, 40000), follow_redirects=False, cookies=cookies)


@pytest.fixture
def nodes(tmp_path: Path, pg_url: str) -> Iterator[tuple[Node, Node]]:
    a, b = Node(tmp_path / "a", pg_url), Node(tmp_path / "b", pg_url)
    yield a, b
    a.ctx.hub.close()
    b.ctx.hub.close()


def login(c: TestClient, user: str, password: str) -> httpx.Response:
    m = re.search(r'name="csrf" value="([^"]+)"', c.get("/ui/login").text)
    assert m
    return c.post("/ui/login", data={"csrf": m[1], "username": user, "password": password, "next": "/ui/"})


def add_user(data: Path, pg_url: str, name: str, role: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRASHHUB_")}
    env["CRASHHUB_DATABASE_URL"] = pg_url
    r = subprocess.run(
        [sys.executable, "-m", "crashhub.cli", "user", "add", name, "--role", role, "--data", str(data)],
        input=PASSWORD + "\n",
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert r.returncode == 0, r.stderr


def test_a_user_added_on_one_node_logs_in_on_the_other(
    nodes: tuple[Node, Node], tmp_path: Path, pg_url: str
) -> None:
    a, b = nodes
    add_user(tmp_path / "a", pg_url, "alice", "admin")
    assert not (tmp_path / "a" / "ui-users.json").exists()  # nothing node-local
    with b.client("10.1.0.1") as cb:
        r = login(cb, "alice", PASSWORD)
        assert r.status_code == 303, r.text[:300]
        cookie = cb.cookies.get("chub_session")
    assert cookie
    # The session made on B is good on A (the signing key is shared through the database too).
    with a.client("10.1.0.1", cookies={"chub_session": cookie}) as ca:
        page = ca.get("/ui/")
        assert page.status_code == 200 and "alice" in page.text
    # Deleted through A's store: B refuses the password at once.
    assert a.ctx.hub.store.access.delete_ui_user("alice")
    with b.client("10.1.0.2") as cb:
        assert login(cb, "alice", PASSWORD).status_code == 401


def test_failed_logins_count_across_nodes(nodes: tuple[Node, Node], tmp_path: Path, pg_url: str) -> None:
    a, b = nodes
    add_user(tmp_path / "b", pg_url, "victor", "viewer")
    with a.client("10.2.0.1") as ca, b.client("10.2.0.2") as cb:
        # Guesses spread over both nodes and two addresses: three in all use up the user's free
        # attempts, so the next one on either node is held (1 s), not refused (issue 14).
        assert login(ca, "victor", "guess one!").status_code == 401
        assert login(cb, "victor", "guess two!").status_code == 401
        assert login(ca, "victor", "guess three").status_code == 401
        t0 = time.monotonic()
        r = login(cb, "victor", PASSWORD)
        assert r.status_code == 303 and time.monotonic() - t0 >= 1.0
