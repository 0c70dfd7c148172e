"""``crashhub triage PATH... [--json]``: find crashes in kernel logs or crash directories.

PATH is a log file (dmesg, vmcore-dmesg.txt, syslog, a serial console capture), a crash
directory in RHEL layout (``vmcore-dmesg.txt``) or Debian layout (``dmesg.<stamp>``), or a
directory of crash directories (``/var/crash``), which stands for each crash directory in it.
Exit status: 0 when every PATH holds a crash, 1 when one holds none, 2 on bad input.
"""

from __future__ import annotations

import json
import os
import sys

from crashhub.classify import signature
from crashhub.errors import LogError
from crashhub.triage import parse_file

TYPE_CHECKING = False  # not typing's: the fast path below imports neither typing nor argparse
if TYPE_CHECKING:
    import argparse
    from typing import Any, TextIO

    from crashhub.model import CrashReport, Frame

EXIT_NO_CRASH = 1
EXIT_BAD_INPUT = 2
TRACE_LINES = 8



def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH",
                        help="a kernel log file, a crash directory, or a directory of crash directories")
    parser.add_argument("--json", action="store_true", help="one JSON object per PATH, one per line")


def fast_run(argv: list[str]) -> int | None:
    """``triage [--json] PATH...`` without argparse, or None for anything else (help, other
    options, a PATH that starts with "-"): argparse is a tenth of a short triage run's start."""
    paths = [a for a in argv if a != "--json"]
    if not paths or any(a.startswith("-") for a in paths):
        return None
    return triage(paths, "--json" in argv)


def log_name(names: list[str]) -> str | None:
    """The kernel log among a crash directory's files (``crashhub.kernel.log_name``), loaded when a
    PATH is a directory: crash-directory layouts are not needed to read a log file."""
    from crashhub.kernel import log_name as name_of  # noqa: PLC0415

    return name_of(names)


# Paths are plain strings here: pathlib (with the urllib.parse it loads) is ~4 ms of every start.


def log_of(path: str) -> str:
    """The kernel log to read for PATH (itself, or the log inside a crash directory)."""
    if not os.path.isdir(path):
        return path
    name = log_name(_files(path))
    if name is not None:
        return os.path.join(path, name)
    raise LogError("no kernel log in this crash directory (expected vmcore-dmesg.txt or dmesg.<stamp>)",
                   path)


def crash_json(report: CrashReport) -> dict[str, Any]:
    d: dict[str, Any] = report.to_dict()
    sig = signature(report)
    d["guilty"] = (
        {"function": report.guilty.function, "module": report.guilty.module} if report.guilty else None
    )
    d["taint"] = (
        {"letters": report.taint.letters, "flags": list(report.taint.flags)} if report.taint else None
    )
    d["signature"] = {
        "algorithm": sig.algorithm,
        "key": sig.key,
        "title": sig.title,
        "frames": list(sig.frames),
    }
    return d


def _frame_text(f: Frame) -> str:
    name = f.function or (f"{f.address:#x}" if f.address is not None else "?")
    off = f"+{f.offset:#x}/{f.size:#x}" if f.offset is not None and f.size is not None else ""
    mod = f" [{f.module}]" if f.module else ""
    q = "? " if not f.reliable else ""
    ctx = f" ({f.context})" if f.context not in ("task", "exception") else ""
    return f"{q}{name}{off}{mod}{ctx}"


def human(path: str, log: str, reports: list[CrashReport], out: TextIO) -> None:
    where = f"{path}" + (f" ({os.path.basename(log)})" if log != path else "")
    if not reports:
        print(f"{where}: no crash found", file=out)
        return
    print(f"{where}: {len(reports)} crash report(s)", file=out)
    for i, r in enumerate(reports):
        label = "primary" if i == 0 else f"#{i + 1}"
        print(f"\n[{label}] {r.kind}: {r.title}", file=out)
        if r.panic_message and r.panic_message != r.message:
            print(f"  panic:    {r.panic_message}", file=out)
        if r.corrupted:
            print(f"  corrupted: {r.corrupted_reason}", file=out)
        if r.process:
            print(
                f"  process:  {r.process.comm} (pid {r.process.pid})"
                + (f" on CPU {r.cpu}" if r.cpu is not None else ""),
                file=out,
            )
        if r.guilty:
            print(
                f"  guilty:   {r.guilty.function}"
                + (f" [{r.guilty.module}]" if r.guilty.module else " (kernel)"),
                file=out,
            )
        if r.frames:
            print("  trace:", file=out)
            for f in r.frames[:TRACE_LINES]:
                print(f"    {_frame_text(f)}", file=out)
            if len(r.frames) > TRACE_LINES:
                print(f"    ... {len(r.frames) - TRACE_LINES} more", file=out)
        if r.taint is not None:
            if r.taint.letters:
                print(f"  taint:    {r.taint.letters}", file=out)
                for flag in r.taint.flags:
                    print(f"            {flag}", file=out)
            else:
                print("  taint:    not tainted", file=out)
        if r.release:
            print(f"  release:  {r.release}" + (f" {r.version}" if r.version else ""), file=out)
        if r.hardware:
            print(f"  hardware: {r.hardware}" + (f", BIOS {r.bios}" if r.bios else ""), file=out)
        sig = signature(r)
        print(f"  bucket:   {sig.algorithm} {sig.key}", file=out)
        print(f"  lines:    {r.start_line + 1}-{r.end_line + 1}", file=out)


def _entries(path: str, kind: str) -> list[str]:
    """The names of the regular files (``kind`` "file") or directories ("dir") in a directory, none
    when it cannot be read."""
    try:
        with os.scandir(path) as it:
            return [e.name for e in it if (e.is_file() if kind == "file" else e.is_dir())]
    except OSError:
        return []


def _files(path: str) -> list[str]:
    return _entries(path, "file")


def expand(path: str) -> list[str]:
    """PATH itself, or for a directory of crash directories (``/var/crash``) each one inside it."""
    if not os.path.isdir(path) or log_name(_files(path)) is not None:
        return [path]
    children = [os.path.join(path, name) for name in sorted(_entries(path, "dir"))]
    inner = [c for c in children if log_name(_files(c)) is not None]
    return inner or [path]


def run(args: argparse.Namespace) -> int:
    return triage(args.paths, args.json)


def triage(paths: list[str], as_json: bool) -> int:
    status = 0
    for path in [p for raw in paths for p in expand(raw)]:
        try:
            log = log_of(path)
            reports = parse_file(log)
        except LogError as e:
            print(f"crashhub triage: {type(e).__name__}: {e}", file=sys.stderr)
            if as_json:
                print(json.dumps({"path": path, "error": str(e), "crashes": []}))
            status = EXIT_BAD_INPUT
            continue
        if not reports and status == 0:
            status = EXIT_NO_CRASH
        if as_json:
            print(
                json.dumps({"path": path, "log": log, "crashes": [crash_json(r) for r in reports]})
            )
        else:
            human(path, log, reports, sys.stdout)
    return status
