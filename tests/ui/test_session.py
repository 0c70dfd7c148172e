"""Sessions, CSRF and users without a server: signed cookies, expiry, revoked tokens, argon2 users."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from crashhub import config
from crashhub.commands.user import ROLES as USER_ROLES
from crashhub.errors import AuthError
from crashhub.store import open_store
from crashhub.web import create_token
from crashhub.web.ui import session as S


@pytest.fixture
def store(tmp_path: Path):  # type: ignore[no-untyped-def]
    hub = open_store(config.load(tmp_path / "data", env={}))
    yield hub.store
    hub.close()


def test_secret_is_made_once_and_private(tmp_path: Path) -> None:
    a = S.load_secret(tmp_path)
    assert a == S.load_secret(tmp_path) and len(a) == 32
    assert (tmp_path / "ui-secret").stat().st_mode & 0o077 == 0


def test_sessions_expire_and_die_with_their_token(store, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    ss = S.Sessions(S.load_secret(tmp_path), store)
    token, rec = create_token(store, "viewer", "t")
    s, cookie = ss.login_token(token)
    assert ss.read(cookie) == s and s.role == "viewer" and s.token_id == rec.id
    assert ss.read(cookie + "x") is None and ss.read("garbage") is None and ss.read(None) is None
    other = S.Sessions(b"k" * 32, store)  # another hub's secret does not verify
    assert other.read(cookie) is None
    assert ss.check_csrf(s.nonce, ss.csrf(s.nonce)) and not ss.check_csrf(s.nonce, ss.csrf("other"))
    assert not ss.check_csrf(None, ss.csrf(""))
    store.access.revoke_token(rec.id)
    assert ss.read(cookie) is None
    S.Users(store).add("alice", "a long password", "admin")
    _, c2 = ss.issue("alice", "admin")
    assert ss.read(c2) is not None
    monkeypatch.setattr(time, "time", lambda: 4e9)
    assert ss.read(c2) is None  # expired
    host_token, _ = create_token(store, "host", "h")
    with pytest.raises(AuthError, match="cannot log into the UI"):
        ss.login_token(host_token)


def test_a_password_session_goes_with_its_user(store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ss, users = S.Sessions(S.load_secret(tmp_path), store), S.Users(store)
    users.add("bob", "a long password", "admin")
    _, cookie = ss.issue("bob", "admin")
    assert ss.read(cookie) is not None
    users.add("bob", "a long password", "viewer")  # demoted: the admin cookie is no good any more
    assert ss.read(cookie) is None
    _, cookie = ss.issue("bob", "viewer")
    assert ss.read(cookie) is not None
    assert users.delete("bob") and ss.read(cookie) is None  # deleted: logged out at once


def test_users_hash_with_argon2(store) -> None:  # type: ignore[no-untyped-def]
    u = S.Users(store)
    u.add("alice", "correct horse", "admin")
    rec = store.access.get_ui_user("alice")
    assert rec.password_hash.startswith("$argon2id$") and "correct horse" not in rec.password_hash
    assert u.verify("alice", "correct horse") == "admin"
    assert u.verify("alice", "wrong horse!") is None and u.verify("bob", "correct horse") is None
    assert u.verify("x" * 10_000, "correct horse") is None
    for bad in (("a b", "longpassword", "admin"), ("x", "short", "admin"), ("x", "longpassword", "host")):
        with pytest.raises(AuthError):
            u.add(*bad)
    assert u.list_users() == [("alice", "admin")]
    assert u.delete("alice") and u.verify("alice", "correct horse") is None


def test_unknown_users_cost_as_much_as_wrong_passwords(store) -> None:  # type: ignore[no-untyped-def]
    u = S.Users(store)
    u.add("alice", "correct horse", "admin")

    def median(name: str) -> float:
        times = []
        for _ in range(5):
            t = time.perf_counter()
            assert u.verify(name, "wrong horse!") is None
            times.append(time.perf_counter() - t)
        return sorted(times)[2]

    known, unknown = median("alice"), median("nobody")
    # Both run one argon2 verification; without the dummy hash an unknown name would answer at once.
    assert unknown > known / 3 and known > unknown / 3, (known, unknown)


def test_user_command_roles_are_the_ui_roles() -> None:
    assert USER_ROLES == S.UI_ROLES


def test_add_user_command(tmp_path: Path) -> None:
    def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "crashhub.cli", "user", *args, "--data", str(tmp_path)],
                              input=stdin, capture_output=True, text=True, timeout=60, check=False,
                              env={k: v for k, v in os.environ.items() if not k.startswith("CRASHHUB_")})

    r = run("add", "carol", "--role", "viewer", stdin="a long password\n")
    assert r.returncode == 0, r.stderr
    hub = open_store(config.load(tmp_path, env={}))
    try:
        assert S.Users(hub.store).verify("carol", "a long password") == "viewer"
    finally:
        hub.close()
    assert run("list").stdout.split() == ["carol", "viewer"]
    assert run("delete", "carol").returncode == 0
    assert run("delete", "carol").returncode == 1
