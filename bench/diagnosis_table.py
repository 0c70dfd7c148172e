"""Per lab kind, the diagnosis crashhub leads with and whether it names the culprit the lab planted.

    python bench/diagnosis_table.py [--kernel 6.1] [--kinds null,nmi,...] [--make]

For every crash-lab kind whose run is cached (``--make`` makes the missing ones, ~25 s each under
TCG), the default analysis (the drgn engine, the kind's module ``.ko`` given) of the run's
``rhel/vmcore``: its first finding (the line ``crashhub analyze``, the crash page and the reports
lead with), the culprit it names, and the lab's own answer from the run's manifest (the function
the module was written to have the culprit run, or the guilty function where the crash is the
culprit itself; for ``oom`` the process that ate the memory).  A markdown table, one row a kind,
with a "names it" column; ``nmi_idle`` (an NMI over an idle machine) has no culprit to name, and
naming none is its right answer.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lab.config import family
from lab.debs import fetch_kernel
from lab.kinds import KINDS
from lab.run import crash, load, run_dir

from crashhub.analyze import analyze

NO_CULPRIT = ("nmi_idle",)
PROCESS_CULPRIT = ("oom",)


def one(kernel: str, kind: str, make: bool) -> dict[str, Any] | None:
    # 6.12 at dump level 23 (slab pages kept), as the diagnosis tests take it.
    variant = "d23" if kernel.startswith("6.12") else None
    release = fetch_kernel(family(kernel)).release
    run = crash(kernel, kind, variant) if make else load(run_dir(release, kind, variant, 1))
    if run is None:
        return None
    mod = run.dir / "crashmod.ko"
    t = time.monotonic()
    r = analyze(run.path("rhel/vmcore"), vmlinux=run.vmlinux, engines=("drgn",),
                modules=[mod] if mod.exists() else [], timeout=600).to_dict()
    seconds = time.monotonic() - t
    exp = run.manifest["expected"]
    want = exp.get("culprit_function") or exp.get("guilty_function")
    findings = r.get("findings") or []
    first = findings[0] if findings else {}
    blamed = next((f for f in findings if f.get("culprit")), None)
    c = (blamed or {}).get("culprit", {})
    got = c.get("function")
    if kind in PROCESS_CULPRIT:  # the culprit is a process (the OOM's memory hog), not a function
        got, want = f"{c.get('comm')}:{c.get('pid')}" if c else None, f"{exp['comm']}:{exp['pid']}"
    right = got is None if kind in NO_CULPRIT else got == want
    return {"kind": kind, "first": f"{first.get('id', '-')}: {first.get('title', 'no finding')}",
            "culprit": got, "want": None if kind in NO_CULPRIT else want, "right": right,
            "seconds": round(seconds, 2)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kernel", default="6.1")
    ap.add_argument("--kinds", default=",".join(KINDS))
    ap.add_argument("--make", action="store_true", help="make the kinds whose run is not cached")
    args = ap.parse_args()
    rows = [row for k in args.kinds.split(",") if (row := one(args.kernel, k, args.make)) is not None]
    print(f"| kind ({args.kernel}) | first finding | culprit named | lab's culprit | names it |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['kind']} | {r['first']} | {r['culprit'] or '-'} | {r['want'] or '(none)'} | "
              f"{'yes' if r['right'] else 'NO'} |")
    print(f"\n{sum(r['right'] for r in rows)}/{len(rows)} kinds right")
    return 0 if all(r["right"] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
