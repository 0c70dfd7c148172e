"""``python -m crashhub.web.ui add-user NAME --role admin | list-users | delete-user NAME``: UI logins.

Users are kept in the hub's database (table ``ui_users``; the store of ``--data``/``--config``, so
``database_url`` selects a shared PostgreSQL and every hub node on it knows the user at once).
The password is read from the terminal (or one line of standard input when it is not a terminal),
never from the command line, so it stays out of shell history and ``ps``.
"""

from __future__ import annotations

import argparse
import getpass
import sys

from crashhub.commands._store import add_store_arguments, open_hub
from crashhub.errors import CrashhubError
from crashhub.web.ui.session import UI_ROLES, Users, import_users_file


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m crashhub.web.ui", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    add = sub.add_parser("add-user", help="add a UI user, or set an existing user's password and role")
    add.add_argument("name")
    add.add_argument("--role", choices=UI_ROLES, default="viewer")
    add_store_arguments(add)
    ls = sub.add_parser("list-users", help="list UI users and their roles")
    add_store_arguments(ls)
    rm = sub.add_parser("delete-user", help="delete a UI user (sessions already open end with their expiry)")
    rm.add_argument("name")
    add_store_arguments(rm)
    args = ap.parse_args(argv)
    pw = ""
    if args.cmd == "add-user":
        if sys.stdin.isatty():
            pw = getpass.getpass(f"password for {args.name}: ")
            if getpass.getpass("again: ") != pw:
                print("passwords differ", file=sys.stderr)
                return 2
        else:
            pw = sys.stdin.readline().rstrip("\n")
    try:
        hub = open_hub(args)
    except CrashhubError as e:
        print(f"crashhub ui: {e}", file=sys.stderr)
        return 2
    try:
        # An old hub's <data>/ui-users.json first, so its users are not shadowed or lost.
        import_users_file(hub.store, hub.settings.data_dir / "ui-users.json")
        users = Users(hub.store)
        if args.cmd == "add-user":
            users.add(args.name, pw, args.role)
            print(f"user {args.name} ({args.role}) saved in the hub's database")
        elif args.cmd == "list-users":
            for name, role in users.list_users():
                print(f"{name}\t{role}")
        elif not users.delete(args.name):
            print(f"crashhub ui: no user {args.name!r}", file=sys.stderr)
            return 1
        else:
            print(f"user {args.name} deleted")
    except CrashhubError as e:
        print(f"crashhub ui: {e}", file=sys.stderr)
        return 2
    finally:
        hub.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
