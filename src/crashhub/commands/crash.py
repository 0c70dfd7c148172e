"""``crashhub crash ID [--json]``: one crash of the store."""

# ruff: noqa: PLC0415 - imports inside functions are deliberate: each command and stage loads
# only what it uses (the host agent installs without the hub's web and database stack).

from __future__ import annotations

import argparse
import json

from crashhub.commands._store import add_store_arguments, open_hub, settings_from


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("id", help="crash id")
    parser.add_argument("--json", action="store_true")
    add_store_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from crashhub.errors import InputError
    from crashhub.kb import match_answer
    from crashhub.knowledge import KnowledgeBase
    from crashhub.store import iso, unverified

    hub = open_hub(args)
    settings = settings_from(args)
    try:
        c = hub.store.crashes.get_crash(args.id)
        bucket = hub.store.buckets.get_bucket(c.bucket_id) if c is not None else None
        kb = KnowledgeBase(settings.kb_path, starter=settings.starter_kb, store=hub.store)
        view = kb.crash_view(hub.store, c) if c is not None else None
        channels = hub.store.crashes.crash_channels(c.id) if c is not None else ()
    finally:
        hub.close()
    if c is None or view is None:
        raise InputError(f"no crash {args.id!r}")
    d = c.to_dict()
    # As the API answers: "kb"/"kb_view" the knowledge base of now (the crash page's answer),
    # "kb_at_ingest" what matched on arrival, "bucket_kb" the bucket's matches.
    d["kb_at_ingest"] = d["kb"]
    d["kb_view"] = view.to_dict()
    d["kb"] = d["kb_view"]["matches"]
    d["bucket_kb"] = bucket.kb if bucket is not None else []
    d["channels"] = [ch.to_dict() for ch in channels]
    d["unverified_source"] = unverified(ch.channel for ch in channels)
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
    best = view.best
    print(f"answer   {'regressed' if view.regressed else view.answer}"
          + (f"  ({best.entry_id})" if best is not None and not best.generic else ""))
    if view.comparison:
        print(f"         {view.comparison}")
    for m in view.matches:  # each labelled as the bucket page's badge labels it
        generic = " (generic)" if m.generic else ""
        print(f"kb       {m.entry_id}: {m.title} [{match_answer(m)}]{generic}")
    for n in view.skipped:
        print(f"kb       not compared: {n}")
    for ch in channels:
        log = f"  log {ch.log_name}" if ch.log_name else ""
        print(f"channel  {ch.channel}  arrived {iso(ch.arrived_at)}{log}"
              + ("  (unauthenticated)" if ch.channel == "netconsole" else ""))
        for n in ch.notes:
            print(f"         {n}")
    if d["unverified_source"]:
        print("source   unverified: only netconsole brought this crash")
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
