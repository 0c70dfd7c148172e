"""``crashhub report``: a crash, a bucket or the weekly summary as HTML, Markdown or JSON."""

# ruff: noqa: PLC0415 - imports inside functions are deliberate: each command loads only what it uses.

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from crashhub import config
from crashhub.commands._store import add_store_arguments, open_hub, settings_from


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_store_arguments(parser)
    parser.add_argument("target", metavar="CRASH_ID", nargs="?", help="the crash to report on")
    parser.add_argument("--bucket", metavar="ID", help="report on a bucket instead of a crash")
    parser.add_argument("--weekly", action="store_true", help="the weekly summary of the last 7 days")
    parser.add_argument("--format", choices=("md", "html", "json"), default="md", help="output format")
    parser.add_argument("--lang", choices=("en", "zh"), default=None, help="language (default: $LANG)")
    parser.add_argument("-o", "--output", metavar="FILE", help="write here instead of standard output")


def run(args: argparse.Namespace) -> int:
    from crashhub import i18n
    from crashhub.errors import InputError
    from crashhub.knowledge import KnowledgeBase
    from crashhub.report import render

    chosen = sum(bool(x) for x in (args.target, args.bucket, args.weekly))
    if chosen != 1:
        raise InputError("give exactly one of CRASH_ID, --bucket ID, --weekly")
    settings = settings_from(args)
    lang = i18n.negotiate(None, args.lang or config.locale_language())
    hub = open_hub(args)
    try:
        kb = KnowledgeBase(settings.kb_path, starter=settings.starter_kb, store=hub.store)
        if args.weekly:
            doc = render.weekly_doc(hub)
        elif args.bucket:
            doc = render.bucket_doc(hub, kb, args.bucket)
        else:
            doc = render.crash_doc(hub, kb, args.target)
        text = render.render(doc, args.format, lang)
    finally:
        hub.close()
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0
