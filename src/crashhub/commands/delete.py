"""``crashhub delete crash ID`` | ``crashhub delete host NAME --yes``: remove data for good.

A crash goes with its files and its count in its bucket; a host with every crash and its host
report.  Blobs no other record points at are removed (those written within ``blob_gc_grace`` are
left to the garbage collection).  Each deletion is in the audit log.
"""

# ruff: noqa: PLC0415 - imports inside functions are deliberate: each command and stage loads
# only what it uses (the host agent installs without the hub's web and database stack).

from __future__ import annotations

import argparse

from crashhub.commands._store import add_store_arguments, open_hub


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="what", required=True)
    c = sub.add_parser("crash", help="delete one crash, its files and its dump")
    c.add_argument("id", help="crash id")
    add_store_arguments(c)
    h = sub.add_parser("host", help="delete every crash of a host and its host report")
    h.add_argument("name", help="host name as the hub records it")
    h.add_argument("--yes", action="store_true", help="required: this cannot be undone")
    add_store_arguments(h)


def run(args: argparse.Namespace) -> int:
    from crashhub.errors import InputError
    from crashhub.retention import apply

    if args.what == "host" and not args.yes:
        raise InputError(f"deleting every crash of host {args.name!r} cannot be undone; add --yes", "--yes")
    hub = open_hub(args)
    try:
        if args.what == "crash":
            gone, size = apply.delete_crash(hub, args.id, "cli")
            where = f"{gone.host}, bucket {gone.bucket_id}"
            print(f"deleted crash {gone.crash_id} ({where}); {size} blob bytes removed")
            return 0
        crashes, size = apply.delete_host(hub, args.name, "cli")
        print(f"deleted host {args.name}: {len(crashes)} crash(es); {size} blob bytes removed")
        return 0
    finally:
        hub.close()
