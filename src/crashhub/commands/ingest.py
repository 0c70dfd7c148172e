"""``crashhub ingest PATH...``: crash directories or log files into the store."""

# ruff: noqa: PLC0415 - imports inside functions are deliberate: each command and stage loads
# only what it uses (the host agent installs without the hub's web and database stack).

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crashhub.commands._store import add_store_arguments, settings_from

if TYPE_CHECKING:
    from crashhub.ingest import Outcome


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help="a crash directory, a log file or a dump")
    parser.add_argument("--host", default=None, help="host name to record when the dump does not say")
    parser.add_argument("--json", action="store_true", help="one JSON object per crash")
    add_store_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from crashhub.errors import CrashhubError
    from crashhub.ingest import Pipeline, ingest_path
    from crashhub.kb import match_answer
    from crashhub.knowledge import KnowledgeBase
    from crashhub.store import open_store

    settings = settings_from(args)
    hub = open_store(settings)
    kb = KnowledgeBase(settings.kb_path, starter=settings.starter_kb, store=hub.store)
    # Analysis jobs queued here run in `crashhub serve`'s workers (they share the store).
    from crashhub.jobs import LocalQueue, handlers

    queue = LocalQueue(hub.store, workers=0)
    handlers.register(queue, hub, kb)
    pipeline = Pipeline(hub, kb, queue)
    failed = 0
    try:
        for p in args.paths:
            try:
                out = ingest_path(pipeline, Path(p), source="cli", host=args.host)
            except CrashhubError as e:
                print(f"crashhub ingest: {p}: {type(e).__name__}: {e}", file=sys.stderr)
                failed += 1
                continue
            if args.json:
                print(json.dumps(_json(p, out, kb.crash_view(hub.store, out.crash).to_dict())))
                continue
            c, b = out.crash, out.bucket
            state = "new" if out.created else "already stored"
            print(f"{p}: crash {c.id} ({state})")
            print(f"  {c.kind}: {c.title}")
            print(f"  bucket {b.id} ({b.count} crash{'es' if b.count != 1 else ''}): {b.title}")
            # The bucket's answer now (as its page shows it), each match labelled as the page does.
            view = kb.crash_view(hub.store, c)
            print(f"  kb answer: {'regressed' if view.regressed else view.answer}"
                  + (f" ({view.comparison})" if view.comparison else ""))
            for m in view.matches:
                generic = " (generic)" if m.generic else ""
                print(f"  kb {m.entry_id}: {m.title} [{match_answer(m)}]{generic}")
            for n in out.notes:
                print(f"  note: {n}")
    finally:
        hub.close()
    return 2 if failed else 0


def _json(path: str, out: Outcome, view: dict[str, Any]) -> dict[str, Any]:
    """One crash as ``--json`` prints it: the fields the API answers an upload with (web/api/_uploads.py),
    and the path, the KB's answer of now (``kb_view``, as the crash page shows it) and the notes
    only the command line shows."""
    b = out.bucket
    return {
        "path": path,
        "id": out.crash.id,
        "created": out.created,
        "kind": out.crash.kind,
        "title": out.crash.title,
        "bucket": {"id": b.id, "key": b.key, "title": b.title, "kind": b.kind, "count": b.count},
        "kb": [
            {
                "id": m.get("id"),
                "title": m.get("title"),
                "status": m.get("status"),
                "matched_rules": m.get("matched_rules", []),
                "regression": m.get("regression", False),
            }
            for m in out.kb
        ],
        "kb_view": view,
        "wants_vmcore": out.wants_vmcore,
        "has_vmcore": out.crash.has_vmcore,
        "notes": out.notes,
    }
