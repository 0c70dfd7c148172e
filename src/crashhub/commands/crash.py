"""``crashhub crash ID [--json]``: one crash of the store."""

# ruff: noqa: PLC0415 - imports inside functions are deliberate: each command and stage loads
# only what it uses (the host agent installs without the hub's web and database stack).

from __future__ import annotations

import argparse
import json

from crashhub.commands._store import add_store_arguments, open_hub


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("id", help="crash id")
    parser.add_argument("--json", action="store_true")
    add_store_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from crashhub.errors import InputError

    hub = open_hub(args)
    try:
        c = hub.store.crashes.get_crash(args.id)
        bucket = hub.store.buckets.get_bucket(c.bucket_id) if c is not None else None
    finally:
        hub.close()
    if c is None:
        raise InputError(f"no crash {args.id!r}")
    d = c.to_dict()
    # "kb": what matched on arrival; "bucket_kb": what the knowledge base says now (re-applied on edits).
    d["bucket_kb"] = bucket.kb if bucket is not None else []
    if args.json:
        print(json.dumps(d, indent=2))
        return 0
    print(f"crash    {c.id}  ({c.source}, received {d['received_at']})")
    print(f"host     {c.host}  [{c.host_source}]")
    print(f"kernel   {c.release or '-'}")
    print(
        f"time     {d['crash_time'] or '-'}" + (f"  [{c.crash_time_source}]" if c.crash_time_source else "")
    )
    print(f"kind     {c.kind}")
    print(f"title    {c.title}")
    print(f"bucket   {c.bucket_id}  ({c.signature_algorithm} {c.signature_key[:16]})")
    for m in d["bucket_kb"]:
        reg = "  REGRESSION" if m.get("regression") else ""
        print(f"kb       {m.get('id')}: {m.get('title')} [{m.get('status')}]{reg}")
    for f in c.files:
        print(f"file     {f.name}  {f.size} bytes  {f.role}")
    if c.dump_evicted is not None:
        e = d["dump_evicted"]
        print(f"dump     evicted {e['at']} ({e['reason']}, {e['actor']}): {e['size']} bytes")
        print(f"         sha256 {e['sha256']}")
    elif c.dump_kept:
        print("dump     kept" + (f", pinned by {c.pinned_by}" if c.pinned_by else ""))
    if c.analysis:
        print(f"analysis {c.analysis.get('status')}")
    return 0
