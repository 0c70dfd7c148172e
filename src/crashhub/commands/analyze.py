"""``crashhub analyze``: deep analysis of a vmcore with drgn and crash.

    crashhub analyze [--vmlinux PATH] DUMP [--json]     one dump file, no hub needed
    crashhub analyze CRASH_ID [--data DIR] [--json]     a stored crash: the hub's analysis job, run now

drgn alone by default: its diagnosis comes in seconds; ``--engine crash`` (or ``all``) adds crash
after it (crash's bt to compare, and its answer where drgn fails), several times slower.

The vmlinux comes from ``--vmlinux`` (checked against the dump's build-id) or from the debuginfo store
under ``<data>/debuginfo`` (``crashhub debuginfo import``), matched by build-id, else release.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from crashhub import config
from crashhub.analyze import Analysis, AnalysisRecord, StackFrame, TaskInfo


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dump", help="the vmcore (kdump-compressed, flattened or ELF), or a stored crash id")
    parser.add_argument("--vmlinux", type=Path, help="the kernel's vmlinux with DWARF (-dbg / -debuginfo)")
    parser.add_argument("--data", default=config.default_data(),
                        help="data directory whose debuginfo store is used when --vmlinux is not given")
    parser.add_argument("--module", type=Path, action="append", default=[],
                        help="a module's .ko with debug info (or a directory of them); repeatable")
    parser.add_argument("--source", type=Path, action="append", default=[],
                        help="a source tree for snippets and MAINTAINERS; repeatable")
    parser.add_argument("--engine", action="append", choices=("drgn", "crash", "all"),
                        help="drgn (the default: its diagnosis in seconds); crash or all: drgn, then "
                             "crash too (crash's bt to compare, its answer where drgn fails; slower)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per engine")
    parser.add_argument("--memory", type=float, default=6.0, help="GiB of address space per engine")
    parser.add_argument("--json", action="store_true", help="print the whole result as JSON")


def _frame(f: StackFrame) -> str:
    s = f"{f.function or '?'}"
    if f.module and f.module != "kernel":
        s += f" [{f.module}]"
    if f.file:
        s += f"  {f.file}:{f.line}"
    # Say where a name came from when it is not the DWARF's: a reader weighs a kallsyms or log name.
    if f.name_from not in (None, "dwarf"):
        s += f"  ({f.name_from})"
    return s


def engines(asked: list[str] | None) -> tuple[str, ...]:
    """The engines to run: drgn always (the fast first answer); "crash" or "all" add crash."""
    return ("drgn", "crash") if {"crash", "all"} & set(asked or ()) else ("drgn",)


def _text(r: Analysis) -> str:
    lines = []
    pt = r.panic_task or TaskInfo()
    lines.append(f"kernel   {r.sys.get('release') or (r.dump.release if r.dump else None)}  "
                 f"taint {r.taint or '-'}  cpus {r.sys.get('cpus')}  tasks {r.tasks}")
    lines.append(f"panic    {r.panic_message}")
    lines.append(f"task     pid {pt.pid} comm {pt.comm} cpu {pt.cpu}")
    lines.append(f"engine   {r.engine}  (versions {r.versions}, "
                 f"crash mode {r.crash_mode}, stack from {r.stack_source})")
    lines.append("stack")
    lines += [f"  #{i:<2} {_frame(f)}" for i, f in enumerate(r.stack)]
    if r.stack_note:
        lines.append(f"  note: {r.stack_note}")
    for s in r.sources:
        lines.append(f"source   {s['file']}:{s['line']} ({s.get('function')})")
        lines += [f"  {'>' if ln['n'] == s['line'] else ' '}{ln['n']:>6}  {ln['text']}"
                  for ln in s.get("lines", [])]
        for m in s.get("maintainers", [])[:1]:
            lines.append(f"  owner: {m['subsystem']}: {', '.join(m['maintainers'][:3])}")
    lines.append("findings")
    for f in r.findings:
        lines.append(f"  [{f.severity}] {f.claim}")
        lines += [f"      {e}" for e in f.evidence[:4]]
    return "\n".join(lines)


def _stored_crash(args: argparse.Namespace) -> int:
    """Run the hub's own analysis job for a stored crash, now, and store its result."""
    from crashhub.errors import InputError  # noqa: PLC0415
    from crashhub.jobs import analyze_crash_job, analyze_job  # noqa: PLC0415
    from crashhub.store import open_store  # noqa: PLC0415

    hub = open_store(config.load(args.data, env=config.environ()))
    if hub.store.crashes.get_crash(args.dump) is None:
        raise InputError(f"no such dump file and no stored crash with this id (data: {args.data})", args.dump)
    summary = analyze_job(hub, {"crash_id": args.dump, "timeout": args.timeout})
    if "crash" in engines(args.engine) and summary.get("status") == "done":
        analyze_crash_job(hub, {"crash_id": args.dump, "timeout": args.timeout})
    crash = hub.store.crashes.get_crash(args.dump)
    analysis = (crash.analysis if crash is not None else None) or {}
    record = AnalysisRecord.from_dict(analysis)
    if args.json:
        print(json.dumps(analysis, indent=1, default=str))
    elif record.result is not None:
        print(_text(record.result))
    else:
        why = summary.get("reason") or summary.get("error") or ""
        print(f"analysis {summary.get('status')}: {why}".rstrip())
    return 0 if summary.get("status") == "done" else 1


def run(args: argparse.Namespace) -> int:
    if not Path(args.dump).exists() and args.vmlinux is None and "/" not in args.dump:
        return _stored_crash(args)
    from crashhub.analyze import analyze  # noqa: PLC0415  (keep the CLI start light)

    store = Path(args.data) / "debuginfo"
    r = analyze(Path(args.dump), vmlinux=args.vmlinux,
                debuginfo_dir=store if args.vmlinux is None and store.is_dir() else None,
                engines=engines(args.engine), timeout=args.timeout,
                mem_bytes=int(args.memory * 2**30), modules=args.module, source_dirs=args.source)
    if args.json:
        print(json.dumps(r.to_dict(), indent=1, default=str))
    else:
        print(_text(r))
    return 0 if r.engine else 1
