"""``python -m lab``: make crash runs from the command line (see lab/README.md)."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

from lab.debs import LabUnavailable
from lab.kinds import KINDS
from lab.run import CI_CORE, VARIANTS, LabRun, cached, crash


def _summary(run: LabRun) -> str:
    files = ", ".join(f"{n} {f['size'] / 2**20:.1f} MiB" for n, f in sorted(run.manifest["files"].items())
                      if f["size"] > 2**20)
    t = run.manifest["timings"]
    return (f"{run.manifest['kernel']['release']} {run.kind}"
            f"{'+' + run.variant if run.variant else ''}: {run.dir} "
            f"({t.get('total_s', '?')} s; {files})")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m lab", description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("crash", help="make (or reuse) one crash run")
    c.add_argument("--kernel", default="6.1")
    c.add_argument("--kind", default="null", choices=sorted(KINDS))
    c.add_argument("--variant", default=None, choices=[v for v in VARIANTS if v])
    c.add_argument("--instance", type=int, default=1)
    c.add_argument("--out", type=Path, help="copy the run here (it is also kept in the cache)")
    c.add_argument("--fresh", action="store_true", help="crash again even if a cached run exists")
    a = sub.add_parser("all", help="every kind (and variant) on the given kernels")
    a.add_argument("--kernel", action="append", default=None)
    a.add_argument("--variant", action="append", default=None)
    ci = sub.add_parser("ci", help="the core set CI builds (lab.run.CI_CORE)")
    ci.add_argument("--fresh", action="store_true")
    sub.add_parser("list", help="the runs in the cache")
    r = sub.add_parser("refresh", help="resolve today's kernels, make the core set, compare with kept logs")
    r.add_argument("--all", action="store_true", help="every kind kept in tests/triage/data/lab")
    r.add_argument("--no-resolve", action="store_true", help="keep the pinned kernels (compare only)")
    r.add_argument("--adopt", action="store_true",
                   help="keep the new logs (of unchanged behaviour) and the minidump in the repository")
    m = sub.add_parser("minidump", help="cut a run's elf/vmcore down to the pages the hub reads")
    m.add_argument("--kernel", default="6.1")
    m.add_argument("--kind", default="null", choices=sorted(KINDS))
    m.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)

    try:
        if args.cmd == "crash":
            run = crash(args.kernel, args.kind, args.variant, args.instance, fresh=args.fresh)
            if args.out:
                if args.out.exists():
                    shutil.rmtree(args.out)
                shutil.copytree(run.dir, args.out)
            print(_summary(run))
            print(json.dumps(run.manifest["expected"], indent=2), flush=True)
        elif args.cmd == "refresh":
            from lab.refresh import refresh  # noqa: PLC0415 - needs the crashhub package

            return refresh(everything=args.all, resolve=not args.no_resolve, take=args.adopt)
        elif args.cmd == "minidump":
            from lab.minidump import make  # noqa: PLC0415 - needs the crashhub package

            print(json.dumps(make(crash(args.kernel, args.kind), args.out), indent=2), flush=True)
        elif args.cmd == "list":
            for run in cached():
                print(_summary(run))
        elif args.cmd == "ci":
            t = time.monotonic()
            for kern, kind_name, variant, instance in CI_CORE:
                print(_summary(crash(kern, kind_name, variant, instance, fresh=args.fresh)), flush=True)
            print(f"CI core set done in {time.monotonic() - t:.1f} s")
        else:
            t = time.monotonic()
            for kern in args.kernel or ["6.1", "6.12"]:
                for variant in args.variant or [None]:
                    for kind_name in (name for name, spec in KINDS.items() if kern in spec.kernels):
                        print(_summary(crash(kern, kind_name, None if variant == "default" else variant)),
                              flush=True)
            print(f"done in {time.monotonic() - t:.1f} s")
    except LabUnavailable as exc:
        print(f"lab: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
