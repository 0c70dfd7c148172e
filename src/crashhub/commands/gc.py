"""``crashhub gc [--dry-run]``: run the retention policy now and say what goes and why.

One line per evicted dump: crash id, bucket, size in bytes, reason; then a summary.  Without
``--dry-run`` the dumps are evicted (each audited), blobs no record points at any more are removed,
and so are temp files, unreferenced blobs and upload files past ``blob_gc_grace``, and uploads
untouched for ``upload_expiry`` (as the hub's own garbage collection does).
"""

# ruff: noqa: PLC0415 - imports inside functions are deliberate: each command and stage loads
# only what it uses (the host agent installs without the hub's web and database stack).

from __future__ import annotations

import argparse
import time

from crashhub.commands._store import add_store_arguments, open_hub


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dry-run", action="store_true", help="print what would go; change nothing")
    add_store_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from crashhub.ingest import expire_uploads
    from crashhub.retention import apply

    hub = open_hub(args)
    try:
        out = apply.run(hub, dry_run=args.dry_run, actor="cli:gc")
        for line in apply.lines(out):
            print(line)
        if not args.dry_run:
            grace = hub.settings.blob_gc_grace
            swept = hub.blobs.gc(hub.store.retention.referenced_digests, grace=grace)
            swept["uploads_expired"] = expire_uploads(hub)
            keep = {u.crash_id for u in hub.store.uploads.list_uploads()}
            swept["uploads"] = hub.blobs.clean_uploads(keep, time.time() - grace)
            print("garbage past blob_gc_grace: " + ", ".join(f"{k} {v}" for k, v in swept.items()))
    finally:
        hub.close()
    return 0
