"""Who may do what: API tokens, UI password users, ended UI sessions, the audit log, rate-limit
counters and shared secrets (all shared by every hub node on one database).
"""

from __future__ import annotations

import abc

from crashhub.model import JsonObject
from crashhub.store._base import AuditRecord, TokenRecord, UiUserRecord


class Access(abc.ABC):
    """One transaction per method."""

    @abc.abstractmethod
    def create_token(self, name: str, role: str, token_hash: str, host: str | None = None) -> TokenRecord: ...

    @abc.abstractmethod
    def bind_token(self, token_id: str, host: str) -> str | None:
        """Bind an unbound token to ``host``, atomically, unless another active token is bound to
        ``host`` already; answers the host the token is bound to afterwards (``host``, or the one an
        earlier or concurrent call bound), None when there is no such token or it stays unbound."""

    @abc.abstractmethod
    def token_by_hash(self, token_hash: str) -> TokenRecord | None: ...

    @abc.abstractmethod
    def list_tokens(self) -> list[TokenRecord]: ...

    @abc.abstractmethod
    def revoke_token(self, token_id: str) -> bool: ...

    @abc.abstractmethod
    def audit(self, actor: str, action: str, target: str, detail: JsonObject | None = None) -> None: ...

    @abc.abstractmethod
    def list_audit(self, limit: int = 100) -> list[AuditRecord]: ...

    @abc.abstractmethod
    def put_ui_user(self, name: str, role: str, password_hash: str, *, replace: bool = True) -> bool:
        """Add user ``name`` or (``replace``) set its role and hash, keeping its creation time.
        Returns whether anything was written: False when ``replace`` is off and the user exists."""

    @abc.abstractmethod
    def get_ui_user(self, name: str) -> UiUserRecord | None: ...

    @abc.abstractmethod
    def list_ui_users(self) -> list[UiUserRecord]: ...

    @abc.abstractmethod
    def delete_ui_user(self, name: str) -> bool: ...

    @abc.abstractmethod
    def revoke_session(self, nonce: str, expires_at: float) -> None:
        """Record that the UI session ``nonce`` ended; kept until ``expires_at`` (then pruned)."""

    @abc.abstractmethod
    def session_revoked(self, nonce: str) -> bool: ...

    @abc.abstractmethod
    def rate_hit(self, key: str, window_s: float, limit: int, *, cost: int = 1) -> float | None:
        """Count ``cost`` hits of ``key`` in the current window of ``window_s`` seconds (windows are
        aligned on multiples of ``window_s`` since the epoch), atomically across nodes.  Returns None
        while the window's count stays within ``limit``, else the seconds until the window ends.  A
        negative ``cost`` takes hits back (a login that succeeded).  ``limit`` or ``window_s`` <= 0:
        no limit, nothing counted.  ``key`` has at most 255 characters."""

    @abc.abstractmethod
    def rate_count(self, key: str, window_s: float) -> int:
        """The hits of ``key`` counted so far in the current window of ``window_s`` seconds."""

    @abc.abstractmethod
    def get_or_create_secret(self, name: str, candidate: str) -> str:
        """The shared secret ``name``; the first caller's ``candidate`` becomes it (nodes agree on one)."""
