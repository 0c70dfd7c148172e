"""``crashhub bundle CRASH_ID -o FILE.tar.gz``: a redacted vendor bundle of one crash."""

# ruff: noqa: PLC0415 - imports inside functions are deliberate: each command loads only what it uses.

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from crashhub.commands._store import add_store_arguments, open_hub, settings_from


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_store_arguments(parser)
    parser.add_argument("crash", metavar="CRASH_ID")
    parser.add_argument("-o", "--output", metavar="FILE.tar.gz", required=True)
    parser.add_argument("--with-dump", action="store_true", help="include the vmcore (not redacted)")
    parser.add_argument(
        "--redact", metavar="REGEX", action="append", default=[], help="also redact matches (repeatable)"
    )
    parser.add_argument(
        "--redact-file",
        metavar="FILE",
        help="redaction patterns, one regex a line (default: <data>/redact.txt when it exists)",
    )
    parser.add_argument("--keep-ips", action="store_true", help="do not redact IP addresses")
    parser.add_argument(
        "--show-mapping", action="store_true", help="print original -> placeholder on stderr (for you only)"
    )


def run(args: argparse.Namespace) -> int:
    from crashhub.knowledge import KnowledgeBase
    from crashhub.report import make_bundle

    settings = settings_from(args)
    patterns = list(args.redact)
    pfile = Path(args.redact_file) if args.redact_file else settings.data_dir / "redact.txt"
    if args.redact_file or pfile.is_file():
        from crashhub.errors import InputError

        try:
            patterns += pfile.read_text("utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as e:
            raise InputError(f"{pfile}: cannot read redaction patterns ({e})") from None
    hub = open_hub(args)
    try:
        kb = KnowledgeBase(settings.kb_path, starter=settings.starter_kb, store=hub.store)
        res = make_bundle(
            hub,
            kb,
            args.crash,
            Path(args.output),
            with_dump=args.with_dump,
            patterns=patterns,
            redact_ips=not args.keep_ips,
        )
        hub.store.access.audit("cli", "bundle" + ("-with-dump" if args.with_dump else ""), args.crash)
    finally:
        hub.close()
    print(f"{res.path}: {len(res.files)} files, {len(res.redactions)} values redacted")
    for r in res.redactions:
        print(f"  redacted {r['kind']}: {r['placeholder']} ({r['count']}x)")
    if args.show_mapping:
        for value, (_kind, ph) in sorted(res.mapping.items(), key=lambda x: x[1][1]):
            print(f"  {ph} = {value}", file=sys.stderr)
    return 0
