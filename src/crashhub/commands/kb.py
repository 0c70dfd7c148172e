"""``crashhub kb``: lint, list, show and try knowledge-base entries without a store.

    crashhub kb lint DIR...                 one line per problem; exit 0 clean, 2 with problems
    crashhub kb list [DIR...]               the entries (default: the shipped starter KB)
    crashhub kb show ID [--kb DIR]...       one entry as YAML (or --json)
    crashhub kb match LOG [--kb DIR]...     triage a log and show the entries each report matches
    crashhub kb export DIR [--data D]       the hub's entries (its store's) as DIR/<id>.yaml
    crashhub kb import DIR [--data D]       DIR's entries into the hub's store, applied to the buckets

The hub keeps its entries in its database (docs/kb.md); ``export`` and ``import`` are how they are
reviewed in git.  The other actions work on files and need no store.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, replace
from pathlib import Path

from crashhub.commands._store import add_store_arguments, open_hub, settings_from
from crashhub.errors import KbError, LogError
from crashhub.kb import (
    KbEntry,
    check_paths,
    dump_entry,
    load_dir,
    load_examples,
    load_starter,
    match,
    parse_entry,
)
from crashhub.kernel import log_name
from crashhub.model import CrashReport
from crashhub.triage import parse_file

EXIT_PROBLEMS = 2
HAND_SAVED_LOG = "dmesg.txt"  # after the names kdump writes (crashhub.kernel.log_name)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    p = sub.add_parser("lint", help="check entry files; one line per problem, exit 2 if any")
    p.add_argument("dirs", nargs="+", type=Path, metavar="DIR", help="a KB directory or one entry file")

    p = sub.add_parser("list", help="list entries (the hub's; else the shipped starter KB)")
    p.add_argument("dirs", nargs="*", type=Path, metavar="DIR", help="as --kb DIR")
    _kb_options(p, examples=True)
    p.add_argument("--json", action="store_true", help="a JSON list of entries")

    p = sub.add_parser("show", help="show one entry as YAML")
    p.add_argument("id", metavar="ID")
    _kb_options(p, examples=False)
    p.add_argument("--json", action="store_true", help="JSON instead of YAML")

    p = sub.add_parser("match", help="triage a kernel log and show the matching entries")
    p.add_argument("log", type=Path, metavar="LOG", help="a kernel log, or a crash directory holding one")
    _kb_options(p, examples=True)
    p.add_argument("--release", help="kernel release to match with (default: the log's)")
    p.add_argument("--hardware", help="hardware name to match with (default: the log's)")
    p.add_argument("--json", action="store_true", help="JSON: reports with their matches")


    for name, what in (("export", "write the hub's entries as DIR/<id>.yaml"),
                       ("import", "store DIR's entries in the hub (replacing those of the same id)")):
        p = sub.add_parser(name, help=what)
        p.add_argument("dir", type=Path, metavar="DIR")
        add_store_arguments(p)


def _kb_options(p: argparse.ArgumentParser, *, examples: bool) -> None:
    p.add_argument("--kb", action="append", type=Path, default=[], metavar="DIR",
                   help="a KB directory (repeatable), read instead of the hub's entries; searched "
                        "before the shipped entries")
    p.add_argument("--no-starter", action="store_true", help="leave out the shipped generic entries")
    if examples:  # `show` always finds the shipped examples by id
        p.add_argument("--examples", action="store_true", help="also the shipped example entries")
    add_store_arguments(p)


def run(args: argparse.Namespace) -> int:
    action: str = args.action
    if action == "lint":
        return _lint(args.dirs)
    if action == "list":
        return _list(args)
    if action == "show":
        return _show(args)
    if action in ("export", "import"):
        return _exchange(args)
    return _match(args)


def _exchange(args: argparse.Namespace) -> int:
    """``export`` or ``import`` between a directory and the hub's store."""
    from crashhub.knowledge import KnowledgeBase, export_dir, import_dir  # noqa: PLC0415

    settings = settings_from(args)
    hub = open_hub(args)
    try:
        if args.action == "export":
            paths = export_dir(hub.store.kb, args.dir)
            print(f"{len(paths)} entr{'y' if len(paths) == 1 else 'ies'} written to {args.dir}")
            return 0
        _, errors = check_paths([args.dir])
        for e in errors:
            print(e)
        if errors:  # all or nothing: a reviewed directory goes in whole
            print(f"{len(errors)} problem(s); nothing imported", file=sys.stderr)
            return EXIT_PROBLEMS
        done, _ = import_dir(hub.store.kb, args.dir, by="cli:import")
        kb = KnowledgeBase(settings.kb_path, starter=bool(settings.starter_kb), store=hub.store)
        changed = kb.reapply(hub.store)
        print(f"{len(done)} entr{'y' if len(done) == 1 else 'ies'} imported; {changed} bucket(s) changed")
        return 0
    finally:
        hub.close()


def _lint(dirs: list[Path]) -> int:
    entries, errors = check_paths(dirs)
    for e in errors:
        print(e)
    if errors:
        print(f"{len(errors)} problem(s); {len(entries)} entr{'y' if len(entries) == 1 else 'ies'} fine",
              file=sys.stderr)
        return EXIT_PROBLEMS
    print(f"{len(entries)} entr{'y' if len(entries) == 1 else 'ies'} fine")
    return 0


@dataclass(frozen=True, slots=True)
class Source:
    """The entries a command reads, and where they came from (said on standard error)."""

    entries: list[KbEntry]
    what: str


def _unique(entries: list[KbEntry]) -> list[KbEntry]:
    """The first entry of each id: local entries override shipped ones of the same id."""
    seen: set[str] = set()
    unique = []
    for e in entries:
        if e.id not in seen:
            seen.add(e.id)
            unique.append(e)
    return unique


def _entries(dirs: list[Path], *, starter: bool, examples: bool) -> list[KbEntry]:
    """Entries from ``dirs`` (each loaded strictly) then the shipped ones; the first id wins."""
    out: list[KbEntry] = []
    for d in dirs:
        out += load_dir(d)
    if starter:
        out += load_starter()
    if examples:
        out += load_examples()
    return _unique(out)


def _hub_entries(args: argparse.Namespace) -> list[KbEntry] | None:
    """The hub's own entries (its store's, as the hub matches with), or None when the data
    directory has no hub (no database made there, and no ``database_url``)."""
    settings = settings_from(args)
    if settings.database_url is None and not (settings.data_dir / "crashhub.db").is_file():
        return None
    hub = open_hub(args)
    try:
        records = hub.store.kb.list()
    finally:
        hub.close()
    out = []
    for rec in records:
        try:
            out.append(replace(parse_entry(rec.text, f"kb:{rec.id}"), path=f"kb:{rec.id}"))
        except KbError as e:  # as the hub does: a broken entry is left out, and said
            print(f"crashhub kb: left out: {e}", file=sys.stderr)
    return out


def _source(args: argparse.Namespace, *, dirs: list[Path], starter: bool, examples: bool) -> Source:
    if dirs:
        return Source(_entries(dirs, starter=starter, examples=examples),
                      ", ".join(str(d) for d in dirs) + (" and the starter KB" if starter else ""))
    hub = _hub_entries(args)
    if hub is None:
        return Source(_entries([], starter=starter, examples=examples),
                      "the shipped starter KB (no hub store in "
                      f"{settings_from(args).data_dir}; --data DIR or --kb DIR to read another)")
    settings = settings_from(args)
    starter = starter and bool(settings.starter_kb)
    shipped = (load_starter() if starter else []) + (load_examples() if examples else [])
    return Source(_unique(hub + shipped), f"the hub's knowledge base in {settings.data_dir} ({len(hub)} "
                  f"entr{'y' if len(hub) == 1 else 'ies'}){' and the starter KB' if starter else ''}")


def _list(args: argparse.Namespace) -> int:
    dirs = [*args.dirs, *args.kb]
    # A directory listed alone is that directory's entries (the starter only when none is named).
    src = _source(args, dirs=dirs, starter=not dirs and not args.no_starter, examples=args.examples)
    print(f"# {src.what}", file=sys.stderr)
    entries = src.entries
    if args.json:
        print(json.dumps([dict(e.to_dict(), path=e.path) for e in entries], indent=2))
        return 0
    width = max((len(e.id) for e in entries), default=2)
    for e in entries:
        kinds = ",".join(e.rule.kinds) or "-"
        flag = "generic" if e.generic else "specific"
        print(f"{e.id:<{width}}  {e.status:<13} {flag:<8}  {kinds:<16}  {e.title}")
    return 0


def _show(args: argparse.Namespace) -> int:
    src = _source(args, dirs=args.kb, starter=not args.no_starter, examples=True)
    entry = next((e for e in src.entries if e.id == args.id), None)
    if entry is None:
        raise KbError(f"no entry with id {args.id!r} in {src.what}", None)
    if args.json:
        print(json.dumps(dict(entry.to_dict(), path=entry.path), indent=2))
    else:
        print(f"# {entry.path}")
        print(dump_entry(entry), end="")
    return 0


def _find_log(path: Path) -> Path:
    if not path.is_dir():
        return path
    files = [p.name for p in path.iterdir() if p.is_file()]
    name = log_name(files) or (HAND_SAVED_LOG if HAND_SAVED_LOG in files else None)
    if name is not None:
        return path / name
    raise LogError("no kernel log in this directory (vmcore-dmesg.txt or dmesg.<stamp>)", path)


def _rule_fields(r: CrashReport) -> dict[str, object]:
    """What the rules of an entry look at, so an author can write one from this output."""
    guilty = r.guilty or r.rip
    stack = [f for f in (r.guilty, r.rip, *r.frames) if f is not None]
    return {"kind": r.kind, "title": r.title, "message": r.message, "panic_message": r.panic_message,
            "function": guilty.function if guilty else None,
            "frames": [f.function for f in stack if f.function],
            "stack_modules": sorted({f.module for f in stack if f.module}),
            "loaded": list(r.modules), "taint": r.taint.letters if r.taint else None,
            "version": r.version, "hardware": r.hardware}


def _match(args: argparse.Namespace) -> int:
    src = _source(args, dirs=args.kb, starter=not args.no_starter, examples=args.examples)
    print(f"# matched with {src.what}", file=sys.stderr)
    entries = src.entries
    log = _find_log(args.log)
    reports = parse_file(log)
    results = [(r, match(entries, r, release=args.release, hardware=args.hardware)) for r in reports]
    if args.json:
        out = [dict(_rule_fields(r), release=args.release or r.release, start_line=r.start_line,
                    matches=[m.to_dict() for m in ms]) for r, ms in results]
        print(json.dumps(out, indent=2))
        return 0
    if not reports:
        print(f"{log}: no crash report found")
        return 0
    for i, (r, ms) in enumerate(results):
        if i:
            print()
        print(f"{log}:{r.start_line + 1}: [{r.kind}] {r.title}")
        if not ms:
            print("  no knowledge-base entry matches")
        for m in ms:
            flags = [m.status, "generic" if m.generic else "specific", f"score {m.score}"]
            if m.regression:
                flags.append(f"REGRESSION (fixed in {m.fixed_in})")
            print(f"  {m.entry_id}: {m.title}  ({', '.join(flags)})")
            print(f"    matched: {'; '.join(m.matched_rules)}")
            if m.unchecked:
                print(f"    not checked: {'; '.join(m.unchecked)}")
    return 0
