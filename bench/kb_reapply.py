"""A KB edit's re-match of the buckets, with 10,000 buckets (goal: an edit ≤ 2 s, a full re-match ≤ 10 s).

A KB edit (API, UI, ``crashhub kb``) re-matches the edited entry on the buckets it can concern (of
its kinds, or holding it): the newest crash of each, and for entries with release ranges every
kernel the bucket ran (a regression shown by any crash of the bucket stays).  Fills a fresh
SQLite store the way ``bench/bucket_list.py`` does, gives every crash the report of a real lab
log of its bucket's kind (tests/triage/data/lab), writes an entry with a release range and times,
median of ``--repeat`` runs:

- ``reapply`` after the first write (every bucket's stored matches are rewritten);
- ``reapply`` after an edit that changes nothing for most buckets (the common case: one entry's
  advice edited), which writes only the rows whose matches changed;
- a full re-match (every entry on every bucket: a start, an import, an edit made on another node).

    python bench/kb_reapply.py [--buckets 10000] [--crashes 30000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import select, update

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bucket_list import populate
from crashhub.knowledge import KnowledgeBase
from crashhub.store import SqlStore
from crashhub.store import _models as m
from crashhub.triage import parse_file

LAB = Path(__file__).resolve().parents[1] / "tests" / "triage" / "data" / "lab"
ENTRY = """id: bench-null
title: crashmod writes through NULL
match:
  kinds: [null_deref]
  function: ^crashmod_
  releases:
    - introduced_in: "6.1"
      fixed_in: "6.12.115"
advice: {advice}
"""


def reports_by_kind() -> dict[str, dict[str, object]]:
    out: dict[str, dict[str, object]] = {}
    for log in sorted(LAB.glob("6.1-*-1.vmcore-dmesg.txt")):
        for r in parse_file(log):
            out.setdefault(r.kind, r.to_dict())
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--buckets", type=int, default=10_000)
    ap.add_argument("--crashes", type=int, default=30_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = SqlStore(f"sqlite:///{tmp}/bench.db")
        store.migrate()
        populate(store, args.buckets, args.crashes)
        reports = reports_by_kind()
        fallback = reports.get("null_deref") or next(iter(reports.values()))
        with store.engine.begin() as c:
            kinds = dict(c.execute(select(m.Bucket.id, m.Bucket.kind)).all())
            for kind in set(kinds.values()):
                rep = reports.get(kind) or {**fallback, "kind": kind}
                c.execute(update(m.Crash).where(m.Crash.kind == kind).values(report=rep))
        kb = KnowledgeBase(Path(tmp) / "kb", store=store)
        kb.put_text(ENTRY.format(advice="first"))
        t = time.perf_counter()
        changed = kb.reapply(store)
        first = time.perf_counter() - t
        times, again = [], 0
        for i in range(args.repeat):
            kb.put_text(ENTRY.format(advice=f"edit {i}"))
            t = time.perf_counter()
            again = kb.reapply(store)
            times.append(time.perf_counter() - t)
        t = time.perf_counter()
        full_changed = kb.reapply(store, full=True)  # what a start, an import or another node's edit costs
        full = time.perf_counter() - t
        regressed = sum(1 for b in store.buckets.list_buckets(kb_status="regression", limit=1000))
        print(json.dumps({
            "buckets": args.buckets, "crashes": args.crashes, "entries": len(kb.entries()),
            "first_reapply_s": round(first, 2), "first_changed": changed,
            "edit_reapply_median_s": round(statistics.median(times), 2), "edit_changed": again,
            "full_reapply_s": round(full, 2), "full_changed": full_changed, "regressed_buckets": regressed,
        }))
        store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
