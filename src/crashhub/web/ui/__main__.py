"""``python -m crashhub.web.ui add-user NAME --role admin [--data DIR]``: a UI login (password asked).

The password is read from the terminal (or one line of standard input when it is not a terminal),
never from the command line, so it stays out of shell history and ``ps``.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path

from crashhub.errors import CrashhubError
from crashhub.web.ui.session import UI_ROLES, Users


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m crashhub.web.ui", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    add = sub.add_parser("add-user", help="add or reset a UI user")
    add.add_argument("name")
    add.add_argument("--role", choices=UI_ROLES, default="viewer")
    add.add_argument("--data", default=os.environ.get("CRASHHUB_DATA", "./crashhub-data"))
    args = ap.parse_args(argv)
    if sys.stdin.isatty():
        pw = getpass.getpass(f"password for {args.name}: ")
        if getpass.getpass("again: ") != pw:
            print("passwords differ", file=sys.stderr)
            return 2
    else:
        pw = sys.stdin.readline().rstrip("\n")
    try:
        Path(args.data).mkdir(parents=True, exist_ok=True)
        Users(Path(args.data) / "ui-users.json").add(args.name, pw, args.role)
    except CrashhubError as e:
        print(f"crashhub ui: {e}", file=sys.stderr)
        return 2
    print(f"user {args.name} ({args.role}) saved in {Path(args.data) / 'ui-users.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
