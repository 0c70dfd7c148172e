"""``crashhub token create --role R [--host NAME] | list | bind ID --host NAME | revoke ID``: API tokens.

A ``host`` token belongs to one host: the host it was created for (``--host``), or else the host its
first upload or host report names; from then on the hub refuses it for any other host.
"""

# ruff: noqa: PLC0415 - imports inside functions are deliberate: each command and stage loads
# only what it uses (the host agent installs without the hub's web and database stack).

from __future__ import annotations

import argparse
import json
import re
from typing import TYPE_CHECKING

from crashhub.commands._store import add_store_arguments, open_hub

if TYPE_CHECKING:
    from crashhub.store import Store

_HOST = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,254}$")  # the API's plain-name rule (web/api/_deps.py)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    c = sub.add_parser("create", help="make a token (printed once; only its hash is stored)")
    c.add_argument("--role", required=True, choices=["host", "viewer", "admin"])
    c.add_argument("--name", default="", help="a label, e.g. the host or person it is for")
    c.add_argument(
        "--host",
        default=None,
        help="the one host a host token uploads for (else: the host its first upload names)",
    )
    c.add_argument("--json", action="store_true")
    add_store_arguments(c)
    ls = sub.add_parser("list", help="list tokens (never their secrets)")
    ls.add_argument("--json", action="store_true")
    add_store_arguments(ls)
    bd = sub.add_parser("bind", help="bind an unbound host token to its host (tokens made before --host)")
    bd.add_argument("id")
    bd.add_argument("--host", required=True, help="the host this token uploads for")
    add_store_arguments(bd)
    rv = sub.add_parser("revoke", help="revoke a token by id")
    rv.add_argument("id")
    add_store_arguments(rv)


def run(args: argparse.Namespace) -> int:
    from crashhub.web import create_token

    hub = open_hub(args)
    try:
        if args.action == "create":
            token, rec = create_token(hub.store, args.role, args.name, host=_host(args.host))
            if args.json:
                out = {"id": rec.id, "role": rec.role, "name": rec.name, "host": rec.host, "token": token}
                print(json.dumps(out))
            else:
                print(token)
            return 0
        if args.action == "list":
            rows = hub.store.access.list_tokens()
            if args.json:
                print(
                    json.dumps(
                        [
                            {"id": t.id, "name": t.name, "role": t.role, "host": t.host, "revoked": t.revoked}
                            for t in rows
                        ],
                        indent=2,
                    )
                )
            else:
                for t in rows:
                    state = "revoked" if t.revoked else "active "
                    bound = f"host={t.host}" if t.host else ("unbound" if t.role == "host" else "-")
                    print(f"{t.id}  {t.role:<6}  {state:<7}  {bound:<24}  {t.name}")
            return 0
        if args.action == "bind":
            return _bind(hub.store, args.id, _host(args.host))
        if hub.store.access.revoke_token(args.id):
            print(f"revoked {args.id}")
            return 0
        print(f"crashhub token: no token {args.id!r}")
        return 1
    finally:
        hub.close()


def _host(name: str | None) -> str | None:
    from crashhub.errors import InputError

    if name is not None and not _HOST.match(name):
        raise InputError(f"--host: {name!r} is not a plain host name (letters, digits, . _ : -)")
    return name


def _bind(store: Store, token_id: str, host: str | None) -> int:
    assert host is not None
    tok = next((t for t in store.access.list_tokens() if t.id == token_id), None)
    if tok is None:
        print(f"crashhub token: no token {token_id!r}")
        return 1
    if tok.role != "host":
        print(f"crashhub token: {token_id} is a {tok.role} token; only host tokens are bound to a host")
        return 1
    bound = store.access.bind_token(token_id, host)
    if bound is None:
        print(f"crashhub token: another active token is bound to host {host!r} (revoke it first)")
        return 1
    if bound != host:
        # Re-binding would hand the host's crashes to whoever holds the token: revoke and make a new one.
        print(f"crashhub token: {token_id} is already bound to host {bound!r} (revoke it and create another)")
        return 1
    print(f"bound {token_id} to host {host}")
    return 0
