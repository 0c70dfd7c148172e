"""``crashhub analyze --vmlinux PATH DUMP [--json]``: deep analysis of one vmcore, no hub needed."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dump", type=Path, help="the vmcore (kdump-compressed, flattened or ELF)")
    parser.add_argument("--vmlinux", type=Path, help="the kernel's vmlinux with DWARF (-dbg / -debuginfo)")
    parser.add_argument("--data", default=os.environ.get("CRASHHUB_DATA", "./crashhub-data"),
                        help="data directory whose debuginfo store is used when --vmlinux is not given")
    parser.add_argument("--module", type=Path, action="append", default=[],
                        help="a module's .ko with debug info (or a directory of them); repeatable")
    parser.add_argument("--source", type=Path, action="append", default=[],
                        help="a source tree for snippets and MAINTAINERS; repeatable")
    parser.add_argument("--engine", action="append", choices=("drgn", "crash"),
                        help="engines to run (default: drgn and crash)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per engine")
    parser.add_argument("--memory", type=float, default=6.0, help="GiB of address space per engine")
    parser.add_argument("--json", action="store_true", help="print the whole result as JSON")


def _frame(f: dict[str, Any]) -> str:
    s = f"{f.get('function') or '?'}"
    if f.get("module") and f["module"] != "kernel":
        s += f" [{f['module']}]"
    if f.get("file"):
        s += f"  {f['file']}:{f.get('line')}"
    return s


def _text(r: dict[str, Any]) -> str:
    lines = []
    sysd = r.get("sys") or {}
    pt = r.get("panic_task") or {}
    lines.append(f"kernel   {sysd.get('release') or (r.get('dump') or {}).get('release')}  "
                 f"taint {r.get('taint') or '-'}  cpus {sysd.get('cpus')}  tasks {r.get('tasks')}")
    lines.append(f"panic    {r.get('panic_message')}")
    lines.append(f"task     pid {pt.get('pid')} comm {pt.get('comm')} cpu {pt.get('cpu')}")
    lines.append(f"engine   {r.get('engine')}  (versions {r.get('versions')}, "
                 f"crash mode {r.get('crash_mode')}, stack from {r.get('stack_source')})")
    lines.append("stack")
    lines += [f"  #{i:<2} {_frame(f)}" for i, f in enumerate(r.get("stack") or [])]
    for s in r.get("sources") or []:
        lines.append(f"source   {s['file']}:{s['line']} ({s.get('function')})")
        lines += [f"  {'>' if ln['n'] == s['line'] else ' '}{ln['n']:>6}  {ln['text']}"
                  for ln in s.get("lines", [])]
        for m in s.get("maintainers", [])[:1]:
            lines.append(f"  owner: {m['subsystem']}: {', '.join(m['maintainers'][:3])}")
    lines.append("findings")
    for f in r.get("findings") or []:
        lines.append(f"  [{f['severity']}] {f['title']}")
        lines += [f"      {e}" for e in f.get("evidence", [])[:4]]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from crashhub.analyze import analyze  # noqa: PLC0415  (keep the CLI start light)

    store = Path(args.data) / "debuginfo"
    r = analyze(args.dump, vmlinux=args.vmlinux,
                debuginfo_dir=store if args.vmlinux is None and store.is_dir() else None,
                engines=tuple(args.engine or ("drgn", "crash")), timeout=args.timeout,
                mem_bytes=int(args.memory * 2**30), modules=args.module, source_dirs=args.source)
    if args.json:
        print(json.dumps(r, indent=1, default=str))
    else:
        print(_text(r))
    return 0 if r.get("engine") else 1
