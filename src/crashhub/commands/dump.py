"""``crashhub dump``: read vmcores without debuginfo.

    crashhub dump info PATH [--json]
    crashhub dump dmesg PATH [PATH...] [-o FILE] [--caller-id]   (several PATHs: the parts of a split dump)
    crashhub dump reassemble FLAT|- [-o OUT]

Only the standard library and ``crashhub.dump`` load at start; Rich is imported for the progress bar
only when a long job runs on a terminal, so ``dump dmesg`` starts about as fast as Python.
"""

from __future__ import annotations

import os
import sys

from crashhub.errors import InputError

TYPE_CHECKING = False  # mypy's convention; importing typing would cost a third of the start-up
if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable, Iterator
    from contextlib import AbstractContextManager


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    info = sub.add_parser("info", help="what a dump is: kernel, host, time, completeness")
    info.add_argument("path")
    info.add_argument("--json", action="store_true", help="print every fact as JSON")
    dm = sub.add_parser("dmesg", help="the kernel log from the dump (as makedumpfile --dump-dmesg)")
    dm.add_argument("path", nargs="+", help="the dump (or every part of a makedumpfile --split dump)")
    dm.add_argument("-o", "--output", help="write to FILE instead of standard output")
    dm.add_argument("--caller-id", action="store_true",
                    help="add the [T<pid>]/[C<cpu>] column, as makedumpfile >= 1.7.5")
    re_ = sub.add_parser("reassemble", help="rebuild a flattened dump (makedumpfile -R), sparse")
    re_.add_argument("flat", help="flattened file, or - for standard input")
    re_.add_argument("-o", "--output", help="output file (default: FLAT without .flat, or stdout is refused)")
    re_.add_argument("--no-progress", action="store_true", help="no progress bar")


def _progress(
    total: int | None, label: str, enabled: bool
) -> AbstractContextManager[Callable[[int], None] | None]:
    """A Rich progress bar for long work on a terminal, or nothing (contextlib and Rich load only here)."""
    import contextlib  # noqa: PLC0415

    if not enabled or not sys.stderr.isatty():
        return contextlib.nullcontext(None)

    @contextlib.contextmanager
    def bar() -> Iterator[Callable[[int], None] | None]:
        from rich.progress import (  # noqa: PLC0415 (Rich only when a bar is shown)
            BarColumn,
            DownloadColumn,
            Progress,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        with Progress("[progress.description]{task.description}", BarColumn(), DownloadColumn(),
                      TransferSpeedColumn(), TimeRemainingColumn(), transient=True) as p:
            task = p.add_task(label, total=total)
            yield lambda done: p.update(task, completed=done)

    return bar()


def _info(args: argparse.Namespace) -> int:
    from crashhub.dump import facts  # noqa: PLC0415 (commands import only what they use)

    f = facts(args.path)
    if args.json:
        import json  # noqa: PLC0415

        print(json.dumps(f.to_dict(), indent=2, sort_keys=True))
        return 0
    rows: list[tuple[str, object]] = [
        ("format", f.format), ("compression", f.compression), ("arch", f.arch), ("release", f.release),
        ("version", f.version), ("build_id", f.build_id), ("hostname", f.hostname),
        ("crash_time", f.crash_time), ("cpus", f.cpus), ("page_size", f.page_size),
        ("dump_level", f.dump_level if f.dump_level is None or not f.dump_level_excludes
         else f"{f.dump_level} (excludes {', '.join(f.dump_level_excludes)})"),
        ("partial", f.partial), ("incomplete", f.incomplete), ("excluded_vmemmap", f.excluded_vmemmap),
        ("pages_present", f.pages_present), ("ram_bytes", f.ram_bytes), ("file_size", f.file_size),
        ("panic_cpu", f.panic_cpu), ("panic_pid", f.panic_pid), ("log_layout", f.log_layout),
    ]
    if f.crash_time is not None:
        import datetime  # noqa: PLC0415

        stamp = datetime.datetime.fromtimestamp(f.crash_time, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        rows[7] = ("crash_time", f"{f.crash_time} ({stamp})")
    if f.registers.get("rip") is not None:
        rows.append(("rip", f"{f.registers['rip']:#x}"))
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {'-' if v is None else v}")
    for w in f.warnings:
        print(f"warning: {w}")
    return 0


def _dmesg(args: argparse.Namespace) -> int:
    return _write_dmesg(args.path, args.output, args.caller_id)


def _write_dmesg(paths: list[str], output: str | None, caller_id: bool) -> int:
    from crashhub.dump import dmesg, open_split  # noqa: PLC0415

    if len(paths) == 1:
        text = dmesg(paths[0], caller_id=caller_id)
    else:
        from crashhub.dump import read_log  # noqa: PLC0415

        with open_split(list(paths)) as d:
            text = read_log(d, caller_id).text
    if output and output != "-":
        with open(output, "wb") as f:
            f.write(text)
    else:
        sys.stdout.buffer.write(text)
        sys.stdout.buffer.flush()
    return 0


def fast_run(argv: list[str]) -> int | None:
    """``dump dmesg PATH [-o FILE] [--caller-id]`` without argparse, or None for anything else.

    Fetching the log of a dump is what scripts and the hub's tools call most, and argparse with the
    modules it pulls in (re, gettext, locale, shutil) costs about half of a bare interpreter start;
    every other form (help, several paths, other actions) goes through the full parser.
    """
    if len(argv) < 2 or argv[0] != "dmesg":
        return None
    path: str | None = None
    output: str | None = None
    caller_id = False
    rest = argv[1:]
    i = 0
    while i < len(rest):
        a = rest[i]
        if a in ("-o", "--output") and i + 1 < len(rest):
            output = rest[i + 1]
            i += 2
            continue
        if a.startswith("--output="):
            output = a[len("--output="):]
        elif a == "--caller-id":
            caller_id = True
        elif a.startswith("-") or path is not None:
            return None  # help, unknown options, several paths: argparse says what is right
        else:
            path = a
        i += 1
    if path is None:
        return None
    try:
        return _write_dmesg([path], output, caller_id)
    except OSError as e:
        raise InputError(e.strerror or str(e), e.filename) from None


def _reassemble(args: argparse.Namespace) -> int:
    from crashhub.dump import reassemble  # noqa: PLC0415

    out = args.output
    if out is None:
        if args.flat == "-" or not args.flat.endswith(".flat"):
            raise InputError("give -o OUT (the output name cannot be derived from the input)", args.flat)
        out = args.flat[: -len(".flat")]
    if out == "-":
        raise InputError("the output must be a file (it is written out of order, with holes)", out)
    if args.flat == "-":
        with _progress(None, "reassembling", not args.no_progress) as cb:
            reassemble(sys.stdin.buffer, out, progress=cb)
        return 0
    try:
        total = os.stat(args.flat).st_size
    except OSError as e:
        raise InputError(f"cannot read: {e.strerror}", args.flat) from None
    with _progress(total, "reassembling", not args.no_progress and total > 64 << 20) as cb:
        reassemble(args.flat, out, progress=cb)
    return 0


def run(args: argparse.Namespace) -> int:
    try:
        if args.action == "info":
            return _info(args)
        if args.action == "dmesg":
            return _dmesg(args)
        return _reassemble(args)
    except OSError as e:
        # Files the user named that cannot be opened or written: one line, not a traceback.
        raise InputError(e.strerror or str(e), e.filename) from None
