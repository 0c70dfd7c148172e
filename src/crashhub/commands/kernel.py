"""``crashhub kernel check``: before a fleet rolls out a kernel, prove its crashes will be captured and read.

    crashhub kernel check PACKAGE... [--debuginfo PKG] [--makedumpfile PATH] [--core-collector LINE]
                          [--crashkernel SIZE] [--kind K]... [--json] [--no-save] [--data DIR]

Boots the kernel under QEMU with kdump set up as given, crashes it, reads the dump
(``crashhub.readiness.check``) and prints the report: a table per crash kind and what to change
(``--json``: the report's JSON).  The report is saved in the hub's store (``--data``) unless
``--no-save``.  Exit status: 0 ready, 1 not ready, 2 bad input.
"""

# ruff: noqa: PLC0415 - the runner and the store load only when a check runs

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from crashhub.commands._store import add_store_arguments, open_hub
from crashhub.errors import InputError

if TYPE_CHECKING:
    from collections.abc import Callable

    from crashhub.readiness import KindResult, ReadinessReport

KINDS = ("sysrq", "null", "softlockup")  # crashhub.readiness.CHECK_KINDS, without loading the runner
EXIT_READY, EXIT_NOT_READY = 0, 1
CELL = 40  # widest cell of the table; the full text is in --json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = sub.add_parser("check", help="boot the kernel under QEMU, crash it, read the dump; report readiness")
    p.add_argument("packages", nargs="+", type=Path, metavar="PACKAGE",
                   help="the kernel as shipped: a linux-image .deb, kernel-core + kernel-modules RPMs, or a "
                        "directory with vmlinuz, modules and System.map")
    p.add_argument("--debuginfo", type=Path, metavar="PKG", help="the kernel's debuginfo package")
    p.add_argument("--makedumpfile", type=Path, metavar="PATH",
                   help="the makedumpfile the fleet's capture kernel runs (binary or package; "
                        "default: the host's)")
    p.add_argument("--core-collector", default="makedumpfile -l --message-level 7 -d 31", metavar="LINE",
                   help="kdump's core_collector line (default: %(default)s)")
    p.add_argument("--crashkernel", default="256M", metavar="SIZE",
                   help="the crashkernel= reservation (default: %(default)s)")
    p.add_argument("--kind", action="append", choices=KINDS, dest="kinds", metavar="K",
                   help=f"a crash kind to try (repeatable; {', '.join(KINDS)}; "
                        "default: all the package allows)")
    p.add_argument("--json", action="store_true", help="the report as JSON")
    p.add_argument("--no-save", action="store_true", help="do not save the report in the hub's store")
    add_store_arguments(p)


def _inputs(args: argparse.Namespace) -> None:
    """One line naming the first path or value that will not do (exit 2), before anything boots."""
    from crashhub.readiness import check_collector, check_crashkernel

    for p in args.packages:
        if not p.exists():
            raise InputError(f"{p}: no such package file or directory")
    for opt, p in (("--debuginfo", args.debuginfo), ("--makedumpfile", args.makedumpfile)):
        if p is not None and not p.is_file():
            raise InputError(f"{opt} {p}: no such file")
    args.core_collector = check_collector(args.core_collector)
    args.crashkernel = check_crashkernel(args.crashkernel)


def run(args: argparse.Namespace) -> int:
    from crashhub import readiness

    _inputs(args)
    hub = None if args.no_save else open_hub(args)  # a bad data dir fails before a long boot
    try:
        report = readiness.check(
            args.packages, debuginfo=args.debuginfo, makedumpfile=args.makedumpfile,
            core_collector=args.core_collector, crashkernel=args.crashkernel,
            kinds=tuple(dict.fromkeys(args.kinds)) if args.kinds else None,
            progress=lambda line: print(line, file=sys.stderr, flush=True),
        )
        if hub is not None:
            hub.store.readiness.save(readiness.record_of(report))
            print(f"saved the report of {report.release} in {hub.settings.data_dir}", file=sys.stderr)
    finally:
        if hub is not None:
            hub.close()
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        print(render(report))
    return EXIT_READY if report.ready else EXIT_NOT_READY


# --------------------------------------------------------------------------- the human report
def _yn(v: bool | None) -> str:
    return "?" if v is None else "yes" if v else "NO"


def _mib(n: int | None) -> str:
    return "?" if n is None else f"{n / (1 << 20):.1f} MiB" if n < 1 << 30 else f"{n / (1 << 30):.1f} GiB"


def _cut(s: str | None) -> str:
    s = " ".join((s or "-").split())
    return s if len(s) <= CELL else s[: CELL - 1] + "…"


ROWS: tuple[tuple[str, Callable[[KindResult], str]], ...] = (
    ("captured", lambda k: "yes" if k.captured else "NO"),
    ("dump / RAM", lambda k: f"{_mib(k.dump_bytes)} / {_mib(k.ram_bytes)}" if k.captured else "-"),
    ("dump level", lambda k: "-" if k.dump_level is None else str(k.dump_level)),
    ("dmesg = log", lambda k: _yn(k.dmesg_matches_log)),
    ("panic task readable", lambda k: _yn(k.panic_task_readable)),
    ("stack readable", lambda k: _yn(k.stack_readable)),
    ("dropped needed pages", lambda k: str(len(k.dropped_needed_pages)) if k.captured else "-"),
    ("triage title", lambda k: _cut(k.triage_title)),
    ("guilty / expected", lambda k: _cut(f"{k.guilty_function or '?'} / {k.expected_function or '?'}")),
    ("drgn", lambda k: _cut(k.drgn)),
    ("crash", lambda k: _cut(k.crash_tool)),
    ("verdict", lambda k: "ok" if k.ok else "NOT OK"),
)


def _table(kinds: list[KindResult]) -> list[str]:
    cols = [["", *(name for name, _ in ROWS)]]
    cols += [[k.kind, *(f(k) for _, f in ROWS)] for k in kinds]
    widths = [max(len(c) for c in col) for col in cols]
    return ["  ".join(col[i].ljust(w) for col, w in zip(cols, widths, strict=True)).rstrip()
            for i in range(len(cols[0]))]


def render(r: ReadinessReport) -> str:
    head = [
        f"kernel {r.release}: {'READY' if r.ready else 'NOT READY'}",
        f"  packages      {', '.join(r.packages)}",
        f"  debuginfo     {r.debuginfo or 'none given'}",
        f"  makedumpfile  {r.makedumpfile}",
        f"  collector     {r.core_collector}",
        f"  crashkernel   {r.crashkernel}  ({r.accel}, {r.seconds:.0f} s)",
        "",
    ]
    body = _table(r.kinds) if r.kinds else ["no crash kind was tried"]
    tail: list[str] = []
    for k in r.kinds:
        if k.failure:
            tail.append(f"{k.kind}: not captured: {k.failure}")
        tail += [f"{k.kind}: dropped: {d}" for d in k.dropped_needed_pages]
    if r.advice:
        tail += ["", "what to change:", *(f"  {i}. {a}" for i, a in enumerate(r.advice, 1))]
    return "\n".join(head + body + (["", *tail] if tail else []))
