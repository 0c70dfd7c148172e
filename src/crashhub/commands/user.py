"""``crashhub user add NAME [--role R] | list | delete NAME``: the web UI's logins.

Users are kept in the hub's database (table ``ui_users``; the store of ``--data``/``--config``, so
``database_url`` selects a shared PostgreSQL and every hub node on it knows the user at once).
The password is read from the terminal (or one line of standard input when it is not a terminal),
never from the command line, so it stays out of shell history and ``ps``.
"""

# ruff: noqa: PLC0415 - the web session module loads only when a user command runs

from __future__ import annotations

import argparse
import getpass
import sys

from crashhub.commands._store import add_store_arguments, open_hub

ROLES = ("viewer", "admin")  # crashhub.web.ui.session.UI_ROLES (a test keeps the two equal)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    add = sub.add_parser("add", help="add a UI user, or set an existing user's password and role")
    add.add_argument("name")
    add.add_argument("--role", choices=ROLES, default="viewer")
    add_store_arguments(add)
    ls = sub.add_parser("list", help="list UI users and their roles")
    add_store_arguments(ls)
    rm = sub.add_parser("delete", help="delete a UI user (sessions already open end with their expiry)")
    rm.add_argument("name")
    add_store_arguments(rm)


def _password(name: str) -> str | None:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    pw = getpass.getpass(f"password for {name}: ")
    if getpass.getpass("again: ") != pw:
        print("crashhub user: passwords differ", file=sys.stderr)
        return None
    return pw


def run(args: argparse.Namespace) -> int:
    from crashhub.web.ui.session import Users, import_users_file

    pw = _password(args.name) if args.action == "add" else ""
    if pw is None:
        return 2
    hub = open_hub(args)
    try:
        # An old hub's <data>/ui-users.json first, so its users are not shadowed or lost.
        import_users_file(hub.store, hub.settings.data_dir / "ui-users.json")
        users = Users(hub.store)
        if args.action == "add":
            users.add(args.name, pw, args.role)
            print(f"user {args.name} ({args.role}) saved in the hub's database")
        elif args.action == "list":
            for name, role in users.list_users():
                print(f"{name}\t{role}")
        elif not users.delete(args.name):
            print(f"crashhub user: no user {args.name!r}", file=sys.stderr)
            return 1
        else:
            print(f"user {args.name} deleted")
    finally:
        hub.close()
    return 0
