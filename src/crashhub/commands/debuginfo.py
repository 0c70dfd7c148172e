"""``crashhub debuginfo import|list|remove|gc|source|serve``: the debuginfo store from the shell."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from crashhub import config


def add_arguments(parser: argparse.ArgumentParser) -> None:
    data_help = "data directory whose debuginfo/ is the store (default: $CRASHHUB_DATA or ./crashhub-data)"
    parser.add_argument("--data", default=config.default_data(), help=data_help)
    # --data also after the action (`crashhub debuginfo import X --data D`), as on every store command;
    # SUPPRESS keeps the parent's value when it is not repeated there.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data", default=argparse.SUPPRESS, help=data_help)
    sub = parser.add_subparsers(dest="action", required=True)
    imp = sub.add_parser(
        "import", parents=[common],
        help="import kernel-debuginfo RPMs, -dbg debs, trees, vmlinux[.gz|.xz] or an out-of-tree module's .ko"
    )
    imp.add_argument("paths", nargs="+", type=Path)
    imp.add_argument("--release", help="kernel release, when the file does not say")
    ls = sub.add_parser("list", parents=[common], help="list the kernels in the store")
    ls.add_argument("--json", action="store_true")
    rm = sub.add_parser("remove", parents=[common], help="remove an entry (build-id, its prefix, or release)")
    rm.add_argument("ids", nargs="+")
    sub.add_parser("gc", parents=[common], help="sweep unfinished imports and broken entries")
    src = sub.add_parser(
        "source", parents=[common], help="import a kernel source tree or tarball for a release"
    )
    src.add_argument("release")
    src.add_argument("path", type=Path)
    srv = sub.add_parser("serve", parents=[common], help="serve the store over the debuginfod protocol")
    srv.add_argument("--port", type=int, default=8002)
    srv.add_argument("--listen", default="127.0.0.1")
    srv.add_argument(
        "--upstream",
        action="append",
        default=[],
        help="upstream debuginfod URL to fetch missing kernels from (off unless given)",
    )


def run(args: argparse.Namespace) -> int:
    from crashhub.debuginfo import DebuginfoStore, is_module  # noqa: PLC0415  (keep the CLI start light)

    store = DebuginfoStore(Path(args.data) / "debuginfo")
    if args.action == "import":
        for p in args.paths:
            if is_module(p):
                m = store.import_module(p)
                size = m.path.stat().st_size / 2**20
                print(f"{m.build_id}  module {m.name}  {size:.1f} MiB  from {p.name}")
                continue
            for e in store.import_path(p, release=args.release):
                print(
                    f"{e.id}  {e.release or '?'}  {len(e.modules)} modules  {e.size / 2**20:.0f} MiB  "
                    f"from {p.name}"
                )
        return 0
    if args.action == "list":
        entries = store.list()
        if args.json:
            print(json.dumps([e.to_dict() for e in entries], indent=1))
            return 0
        if not entries:
            print("(no debuginfo)")
        for e in entries:
            print(
                f"{e.id}  {e.release or '?':<36} {e.kind:<7} {len(e.modules):>5} modules "
                f"{e.size / 2**20:>7.0f} MiB  {e.package or Path(e.source).name}"
            )
        return 0
    if args.action == "remove":
        for ref in args.ids:
            e = store.remove(ref)
            print(f"removed {e.id} ({e.release})")
        return 0
    if args.action == "gc":
        gone = store.gc()
        for g in gone:
            print(f"removed {g}")
        print(f"{len(gone)} removed")
        return 0
    if args.action == "source":
        print(store.import_source(args.path, args.release))
        return 0
    if args.action == "serve":
        import uvicorn  # noqa: PLC0415

        from crashhub.debuginfo import Upstream, app  # noqa: PLC0415

        up = Upstream(args.upstream, store) if args.upstream else None
        uvicorn.run(app(store, up), host=args.listen, port=args.port, log_level="warning")
        return 0
    return 2
