"""Bearer tokens with roles: ``host`` (upload and host report), ``viewer`` (read), ``admin`` (everything).

Tokens are 32 random bytes shown once; the store keeps only their SHA-256.  A slow password hash
(argon2) buys nothing for a random 256-bit secret and would cost milliseconds on every request.
"""

from __future__ import annotations

import hashlib
import secrets

from crashhub.errors import AuthError, Forbidden, InputError
from crashhub.store import ROLES, Store, TokenRecord

PREFIX = "chub_"

# What each role may do; "admin" may do everything.
GRANTS: dict[str, frozenset[str]] = {
    "host": frozenset({"upload"}),
    "viewer": frozenset({"read"}),
    "admin": frozenset({"upload", "read", "admin"}),
}


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(
    store: Store, role: str, name: str = "", host: str | None = None
) -> tuple[str, TokenRecord]:
    if role not in ROLES:
        raise AuthError(f"unknown role {role!r} (roles: {', '.join(ROLES)})")
    if host is not None and role != "host":
        raise AuthError(f"--host binds a host token; a {role} token speaks for no one host")
    token = PREFIX + secrets.token_urlsafe(32)
    rec = store.access.create_token(name or host or role, role, hash_token(token), host=host)
    return token, rec


def check(store: Store, header: str | None, need: str) -> TokenRecord:
    """The token record behind an ``Authorization`` header, if its role grants ``need``."""
    if not header:
        raise AuthError("missing Authorization: Bearer <token> header")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError("the Authorization header must be 'Bearer <token>'")
    rec = store.access.token_by_hash(hash_token(token.strip()))
    if rec is None:
        raise AuthError("unknown or revoked token")
    if need not in GRANTS.get(rec.role, frozenset()):
        raise Forbidden(f"role {rec.role!r} may not {need} (needs {_who(need)})")
    return rec


def host_of(store: Store, tok: TokenRecord, claimed: str | None, field: str = "host") -> str | None:
    """The host an upload or host report from ``tok`` is for: a host token's own, never the request's.

    A ``host`` token speaks for the one host it is bound to; a ``field`` naming another host is
    refused (403, naming the field).  A token not bound yet (made before tokens had hosts, or without
    ``--host``) is bound here, atomically, to the first host it names.  Admin tokens (the CLI, an
    importer) name any host, or none.
    """
    if tok.role != "host":
        return claimed
    bound = tok.host
    if bound is None:
        if claimed is None:
            raise InputError(
                f"field {field!r} is required: token {tok.name or tok.id!r} is not bound to a host yet "
                "(crashhub token bind ID --host NAME, or send the host once)"
            )
        bound = store.access.bind_token(tok.id, claimed)
        if bound is None:
            raise Forbidden(
                f"field {field!r}: host {claimed!r} has a token of its own; this token is not bound "
                "(the hub's admin binds it: crashhub token bind ID --host NAME)"
            )
    if claimed is not None and claimed != bound:
        raise Forbidden(f"field {field!r}: {claimed!r} is not this token's host ({bound!r})")
    return bound


def _who(need: str) -> str:
    return " or ".join(r for r in ROLES if need in GRANTS[r])
