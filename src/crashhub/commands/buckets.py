"""``crashhub buckets [--json] [--sort count|last_seen|trend]``: buckets of the store."""


# only what it uses (the host agent installs without the hub's web and database stack).

from __future__ import annotations

import argparse
import json

from crashhub.commands._store import add_store_arguments, open_hub


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="a JSON list of buckets")
    parser.add_argument("--sort", choices=["count", "last_seen", "trend"], default="count")
    parser.add_argument("--kind", default=None, help="only buckets of this kind")
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument("--offset", type=int, default=0)
    add_store_arguments(parser)


def run(args: argparse.Namespace) -> int:
    hub = open_hub(args)
    s = hub.settings
    try:
        rows = hub.store.buckets.list_buckets(
            sort=args.sort,
            kind=args.kind,
            limit=args.limit,
            offset=args.offset,
            spike_days=s.spike_days,
            spike_factor=s.spike_factor,
            spike_min=s.spike_min,
        )
    finally:
        hub.close()
    if args.json:
        print(json.dumps([b.to_dict() for b in rows], indent=2))
        return 0
    if not rows:
        print("no buckets")
        return 0
    for b in rows:
        kb = ", ".join(str(m.get("id")) for m in b.kb[:2])
        spike = " SPIKE" if b.spike else ""
        print(f"{b.id}  {b.count:>6}  {b.kind:<14} {b.title}{spike}")
        print(
            f"{'':18}  hosts: {len(b.hosts)}  kernels: {', '.join(b.kernels[:3]) or '-'}"
            f"{'  kb: ' + kb if kb else ''}"
        )
    return 0
