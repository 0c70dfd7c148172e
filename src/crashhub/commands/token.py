"""``crashhub token create --role R | list | revoke ID``: API tokens."""

# ruff: noqa: PLC0415 - imports inside functions are deliberate: each command and stage loads
# only what it uses (the host agent installs without the hub's web and database stack).

from __future__ import annotations

import argparse
import json

from crashhub.commands._store import add_store_arguments, open_hub


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    c = sub.add_parser("create", help="make a token (printed once; only its hash is stored)")
    c.add_argument("--role", required=True, choices=["host", "viewer", "admin"])
    c.add_argument("--name", default="", help="a label, e.g. the host or person it is for")
    c.add_argument("--json", action="store_true")
    add_store_arguments(c)
    ls = sub.add_parser("list", help="list tokens (never their secrets)")
    ls.add_argument("--json", action="store_true")
    add_store_arguments(ls)
    rv = sub.add_parser("revoke", help="revoke a token by id")
    rv.add_argument("id")
    add_store_arguments(rv)


def run(args: argparse.Namespace) -> int:
    from crashhub.web.auth import create_token

    hub = open_hub(args)
    try:
        if args.action == "create":
            token, rec = create_token(hub.store, args.role, args.name)
            if args.json:
                print(json.dumps({"id": rec.id, "role": rec.role, "name": rec.name, "token": token}))
            else:
                print(token)
            return 0
        if args.action == "list":
            rows = hub.store.list_tokens()
            if args.json:
                print(
                    json.dumps(
                        [{"id": t.id, "name": t.name, "role": t.role, "revoked": t.revoked} for t in rows],
                        indent=2,
                    )
                )
            else:
                for t in rows:
                    print(f"{t.id}  {t.role:<6}  {'revoked' if t.revoked else 'active ':<7}  {t.name}")
            return 0
        if hub.store.revoke_token(args.id):
            print(f"revoked {args.id}")
            return 0
        print(f"crashhub token: no token {args.id!r}")
        return 1
    finally:
        hub.close()
