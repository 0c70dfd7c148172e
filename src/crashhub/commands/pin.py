"""``crashhub pin ID [--off]``: keep a crash's dump whatever the retention policy says (or stop)."""

# ruff: noqa: PLC0415 - imports inside functions are deliberate: each command and stage loads
# only what it uses (the host agent installs without the hub's web and database stack).

from __future__ import annotations

import argparse

from crashhub.commands._store import add_store_arguments, open_hub


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("id", help="crash id")
    parser.add_argument("--off", action="store_true", help="unpin: the policy may evict the dump again")
    add_store_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from crashhub.errors import InputError

    hub = open_hub(args)
    try:
        c = hub.store.crashes.get_crash(args.id)
        if c is None:
            raise InputError(f"no crash {args.id!r}", "crash")
        if not c.dump_kept and not args.off:
            why = "it has no dump" if not c.has_vmcore else "its dump was evicted"
            raise InputError(f"crash {args.id}: nothing to pin, {why}", "crash")
        hub.store.retention.pin_dump(args.id, "cli", pinned=not args.off)
    finally:
        hub.close()
    print(f"{'unpinned' if args.off else 'pinned'} the dump of crash {args.id}")
    return 0
