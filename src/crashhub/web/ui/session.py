"""UI logins: users with argon2 password hashes, signed session cookies, CSRF tokens.

Two ways in: a username and password (kept in the store's ``ui_users`` table as argon2id hashes,
so every hub node on one database knows them; an older hub's ``<data>/ui-users.json`` is imported
into it once at start, see :func:`import_users_file`), or an API token of role ``viewer``/``admin``
pasted into the login form (a ``host`` token may only upload).  Either way the browser gets one
cookie, ``chub_session``: ``payload.mac`` where the payload names the user, role, expiry and a
random nonce, and the MAC is HMAC-SHA256 under a secret kept in ``<data>/ui-secret``; on a shared
database (PostgreSQL) in the database instead (table ``secrets``, seeded by the first node's file),
so every hub node accepts a session any of them issued.  Nothing secret ever travels in a URL.

Login attempts are rate-limited in the database too (per user name and per client address, see
:mod:`crashhub.web._limits`), so spreading guesses over the nodes gains nothing.

CSRF: every form carries a token that is the HMAC of the session nonce (or, before login, of a
pre-session cookie's nonce); a POST whose token does not verify is refused.  A session made from an
API token also carries the token's id, and stops working as soon as that token is revoked; a password
user's session stops as soon as the user is deleted or given another role.  Logging out records the
session's nonce in the database (table ``ui_session_revocations``, until the cookie would expire), so
a copy of the cookie is refused from then on, by every node.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import logging
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crashhub.errors import AuthError, CrashhubError
from crashhub.store import Store
from crashhub.web import _auth as api_auth

log = logging.getLogger("crashhub.web.ui")

COOKIE = "chub_session"
PRE_COOKIE = "chub_pre"
UI_ROLES = ("viewer", "admin")
SESSION_SECONDS = 12 * 3600
_NAME_OK = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-@")


@dataclass(frozen=True, slots=True)
class Session:
    user: str
    role: str
    nonce: str
    expires: float
    token_id: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def actor(self) -> str:
        return f"ui:{self.user}"


def _b64(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).decode().rstrip("=")


def _unb64(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def load_secret(data_dir: Path) -> bytes:
    """The data directory's session secret, made on first use (0600, written then renamed)."""
    path = Path(data_dir) / "ui-secret"
    try:
        raw = path.read_bytes()
        if len(raw) >= 32:
            return raw
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".ui-secret.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(secrets.token_bytes(32))
    try:
        os.link(tmp, path)  # first writer wins; a racing process reads the winner's secret
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    return path.read_bytes()


class Users:
    """UI password users, kept in the store (table ``ui_users``, argon2id hashes) so every hub node
    sharing the database knows the same logins.

    Hubs before migration 0006 kept them in ``<data>/ui-users.json``; :func:`import_users_file`
    moves such a file's users into the store once, at start (see there).
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        from argon2 import PasswordHasher  # noqa: PLC0415 - the hub extra, not the host agent

        self._ph = PasswordHasher()
        # A real hash of a random password: verifying an unknown user's password against it costs
        # what a wrong password of a known user costs, so response times do not tell which names exist.
        self._dummy = self._ph.hash(secrets.token_urlsafe(16))

    @staticmethod
    def check(name: str, role: str) -> None:
        if not name or len(name) > 64 or not set(name) <= _NAME_OK:
            raise AuthError(f"bad user name {name!r} (letters, digits, . _ - @; at most 64)")
        if role not in UI_ROLES:
            raise AuthError(f"role {role!r} cannot log into the UI (viewer or admin)")

    def add(self, name: str, password: str, role: str) -> None:
        """Add a user, or set an existing user's password and role."""
        self.check(name, role)
        if len(password) < 8:
            raise AuthError("a password needs at least 8 characters")
        self.store.access.put_ui_user(name, role, self._ph.hash(password))

    def delete(self, name: str) -> bool:
        return self.store.access.delete_ui_user(name)

    def list_users(self) -> list[tuple[str, str]]:
        """(name, role) of every user, by name."""
        return [(u.name, u.role) for u in self.store.access.list_ui_users()]

    def verify(self, name: str, password: str) -> str | None:
        """The user's role when the password is right, else None (same cost for unknown users)."""
        from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError  # noqa: PLC0415

        rec = self.store.access.get_ui_user(name) if name and len(name) <= 64 else None
        try:
            self._ph.verify(rec.password_hash if rec is not None else self._dummy, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError, ValueError):
            return None
        if rec is None:
            return None
        return rec.role if rec.role in UI_ROLES else None


def import_users_file(store: Store, path: Path) -> int:
    """Move the users of a pre-0006 ``ui-users.json`` into the store; returns how many were added.

    Only users not yet in the store are added (a user changed since, in the database, keeps its new
    password), then the file is renamed ``ui-users.json.imported``, so the import happens once and a
    user deleted later does not come back at the next start.  On a cluster each node imports its own
    copy at its first start; the copies agree or the first import of a name wins.  A file that cannot
    be renamed (read-only data directory) is imported again at each start, which adds nobody twice.
    """
    try:
        data = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        return 0
    except (OSError, ValueError) as e:
        raise AuthError(f"{path}: cannot read the old UI users file ({e})") from None
    if not isinstance(data, dict):
        raise AuthError(f"{path}: expected a JSON object of users, got {type(data).__name__}")
    added = 0
    for name, rec in data.items():
        if not isinstance(name, str) or not isinstance(rec, dict):
            continue
        role, h = rec.get("role"), rec.get("hash")
        if not isinstance(role, str) or not isinstance(h, str) or not h.startswith("$argon2"):
            log.warning("%s: user %r has no role or argon2 hash; not imported", path, name)
            continue
        try:
            Users.check(name, role)
        except AuthError as e:
            log.warning("%s: %s; not imported", path, e)
            continue
        added += store.access.put_ui_user(name, role, h, replace=False)
    try:
        os.replace(path, path.with_name(path.name + ".imported"))
    except OSError as e:
        log.warning("%s: imported, but could not rename it (%s); it is read again at each start", path, e)
    log.info("%s: imported %d UI users into the database", path, added)
    return added


class Sessions:
    def __init__(self, secret: bytes, store: Store) -> None:
        # Every hub node behind one load balancer must sign with the same key, or a login made on
        # one node is refused by the next (issue 9): a shared database keeps the key, and the first
        # node's own secret becomes it.  The embedded hub (SQLite) keeps its data directory's.
        self._secret = secret
        if store.shared:
            # The database away at start: this node's own key until it restarts.
            with contextlib.suppress(CrashhubError, ValueError):
                self._secret = bytes.fromhex(store.access.get_or_create_secret("ui-session", secret.hex()))
        self._store = store

    def _mac(self, data: bytes) -> str:
        return _b64(hmac.new(self._secret, data, hashlib.sha256).digest())

    def issue(self, user: str, role: str, token_id: str | None = None) -> tuple[Session, str]:
        s = Session(user, role, secrets.token_urlsafe(16), time.time() + SESSION_SECONDS, token_id)
        payload = json.dumps(
            {"u": s.user, "r": s.role, "n": s.nonce, "e": s.expires, "t": s.token_id}, separators=(",", ":")
        ).encode()
        return s, f"{_b64(payload)}.{self._mac(payload)}"

    def read(self, cookie: str | None) -> Session | None:
        if not cookie or len(cookie) > 2048 or "." not in cookie:
            return None
        p64, _, mac = cookie.rpartition(".")
        try:
            payload = _unb64(p64)
        except ValueError:
            return None
        if not hmac.compare_digest(mac, self._mac(payload)):
            return None
        try:
            d: dict[str, Any] = json.loads(payload)
            s = Session(str(d["u"]), str(d["r"]), str(d["n"]), float(d["e"]), d.get("t"))
        except (ValueError, KeyError, TypeError):
            return None
        if s.expires < time.time() or s.role not in UI_ROLES:
            return None
        try:
            if self._store.access.session_revoked(s.nonce):
                return None  # logged out: on every node, whoever still holds a copy of the cookie
            if s.token_id is not None:
                live = {t.id for t in self._store.access.list_tokens() if not t.revoked}
                if s.token_id not in live:
                    return None
            else:
                # A password user deleted, or given another role, since the cookie was made: the
                # cookie goes with the user as a token session goes with its token, at once rather
                # than when it expires (12 h).  One primary-key read per request.
                rec = self._store.access.get_ui_user(s.user)
                if rec is None or rec.role != s.role:
                    return None
        except CrashhubError:
            return None  # the store is away: no page could be served anyway; log in again later
        return s

    def end(self, s: Session) -> None:
        """Log ``s`` out: its nonce is recorded in the database until the cookie would expire."""
        self._store.access.revoke_session(s.nonce, s.expires)

    def csrf(self, nonce: str) -> str:
        return self._mac(b"csrf:" + nonce.encode())

    def check_csrf(self, nonce: str | None, token: str | None) -> bool:
        return bool(nonce) and bool(token) and hmac.compare_digest(self.csrf(nonce or ""), token or "")

    def login_token(self, token: str) -> tuple[Session, str]:
        rec = self._store.access.token_by_hash(api_auth.hash_token(token.strip()))
        if rec is None or rec.revoked:
            raise AuthError("unknown or revoked token")
        if rec.role not in UI_ROLES:
            raise AuthError(f"a {rec.role!r} token cannot log into the UI (viewer or admin)")
        return self.issue(f"token:{rec.name}", rec.role, rec.id)
