"""Sessions, CSRF and users without a server: signed cookies, expiry, revoked tokens, argon2 users."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from crashhub import config
from crashhub.errors import AuthError
from crashhub.store import open_store
from crashhub.web.auth import create_token
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
    store.revoke_token(rec.id)
    assert ss.read(cookie) is None
    _, c2 = ss.issue("alice", "admin")
    monkeypatch.setattr(time, "time", lambda: 4e9)
    assert ss.read(c2) is None  # expired
    host_token, _ = create_token(store, "host", "h")
    with pytest.raises(AuthError, match="cannot log into the UI"):
        ss.login_token(host_token)


def test_users_hash_with_argon2(tmp_path: Path) -> None:
    u = S.Users(tmp_path / "ui-users.json")
    u.add("alice", "correct horse", "admin")
    raw = (tmp_path / "ui-users.json").read_text()
    assert "$argon2id$" in raw and "correct horse" not in raw
    assert u.verify("alice", "correct horse") == "admin"
    assert u.verify("alice", "wrong horse!") is None and u.verify("bob", "correct horse") is None
    for bad in (("a b", "longpassword", "admin"), ("x", "short", "admin"), ("x", "longpassword", "host")):
        with pytest.raises(AuthError):
            u.add(*bad)


def test_add_user_command(tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "crashhub.web.ui", "add-user", "carol", "--role", "viewer",
                        "--data", str(tmp_path)], input="a long password\n", capture_output=True, text=True,
                       timeout=60, check=False)
    assert r.returncode == 0, r.stderr
    assert S.Users(tmp_path / "ui-users.json").verify("carol", "a long password") == "viewer"
