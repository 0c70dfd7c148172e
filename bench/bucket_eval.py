"""Grouping accuracy: bucket keys against a reference grouping, scored with BCubed precision/recall/F1.

Run: ``.venv/bin/python bench/bucket_eval.py [--lab DIR] [--show N]``.

What is scored is what a user sees: the bucket key of the *primary* report (``crashes[0]``) of
``crashhub triage --json``, run once over every log, exactly as the CLI prints it.  Two reference sets:

- **lab**: every cached crash-lab run (``~/.cache/crashhub-lab/runs/<release>/<kind>/<n>``), one item per
  kernel log a distribution's kdump wrote (RHEL local, RHEL over ssh, ELF, Debian).  One bug = one
  group: a lab kind (``null``, ``warn``...; variants such as ``null+d23`` or ``null+qemu`` are the same
  bug captured differently) across KASLR reruns, pids, dump formats, layouts and kernels.
- **syzkaller**: the shared corpus's syzkaller report cases; one expected title = one group.

BCubed (Bagga & Baldwin 1998; Amigó et al. 2009): for each item, precision is the share of its bucket
that is in its group and recall the share of its group that is in its bucket; both are averaged over
items and F1 is their harmonic mean.  A log with no report is a bucket of its own.  The script
prints the figures, then the split groups (a group spread over several buckets) and the mixed
buckets (a bucket holding several groups), largest first.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _triage_cli import triage_json
from corpus_cases import corpus_dir, syzkaller_cases

LAB_RUNS = Path.home() / ".cache" / "crashhub-lab" / "runs"
# The kernel log each layout leaves, as the lab's manifest names it (never kexec-dmesg.log: that
# is the capture kernel's own log).
LAB_LOGS = ("rhel/vmcore-dmesg.txt", "rhel-ssh/vmcore-dmesg.txt", "elf/vmcore-dmesg.txt", "debian/dmesg")


@dataclass(frozen=True)
class Item:
    name: str  # where it came from, for the listings
    group: str  # the reference answer
    log: Path


@dataclass(frozen=True)
class Scores:
    precision: float
    recall: float
    f1: float
    items: int
    groups: int
    buckets: int


def bcubed(items: list[Item], bucket: dict[str, str]) -> Scores:
    """BCubed over ``items``; ``bucket`` maps an item's name to its bucket key."""
    by_bucket: dict[str, list[Item]] = defaultdict(list)
    by_group: dict[str, list[Item]] = defaultdict(list)
    for it in items:
        by_bucket[bucket[it.name]].append(it)
        by_group[it.group].append(it)
    p = r = 0.0
    for it in items:
        same = sum(1 for o in by_bucket[bucket[it.name]] if o.group == it.group)
        p += same / len(by_bucket[bucket[it.name]])
        r += same / len(by_group[it.group])
    n = len(items)
    p, r = (p / n, r / n) if n else (0.0, 0.0)
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return Scores(p, r, f1, n, len(by_group), len(by_bucket))


def primary_keys(items: list[Item]) -> dict[str, str]:
    """The bucket key the CLI gives each item's log (its primary report's); a log without one is alone."""
    answers = triage_json([it.log for it in items])
    keys = {}
    for it in items:
        crashes = answers[str(it.log)]
        keys[it.name] = crashes[0]["signature"]["key"] if crashes else f"none:{it.name}"
    return keys


def lab_items(runs: Path) -> list[Item]:
    items = []
    for manifest in sorted(runs.glob("*/*/*/manifest.json")):
        run = manifest.parent
        kind = run.parent.name.split("+", 1)[0]
        files = json.loads(manifest.read_text()).get("files", {})
        for name in LAB_LOGS:
            if name in files:
                items.append(Item(f"{run.relative_to(runs)}/{name.split('/')[0]}", kind,
                                  run / files[name]["path"]))
    return items


def syzkaller_items(corpus: Path, tmp: Path) -> list[Item]:
    items = []
    for name, log, row in syzkaller_cases(corpus):
        if not row["titles"]:
            continue
        path = tmp / name.replace("/", "_")
        path.write_bytes(log)
        items.append(Item(name, row["titles"][0], path))
    return items


def report(label: str, items: list[Item], show: int) -> None:
    if not items:
        print(f"{label}: no items")
        return
    keys = primary_keys(items)
    s = bcubed(items, keys)
    print(f"{label}: BCubed precision {s.precision:.4f} recall {s.recall:.4f} F1 {s.f1:.4f} "
          f"({s.items} logs, {s.groups} groups, {s.buckets} buckets)")
    _listings(items, keys, show)


def _listings(items: Iterable[Item], keys: dict[str, str], show: int) -> None:
    group_buckets: dict[str, Counter[str]] = defaultdict(Counter)
    bucket_groups: dict[str, Counter[str]] = defaultdict(Counter)
    example: dict[tuple[str, str], str] = {}
    for it in items:
        k = keys[it.name]
        group_buckets[it.group][k] += 1
        bucket_groups[k][it.group] += 1
        example.setdefault((it.group, k), it.name)
    split = sorted(((g, c) for g, c in group_buckets.items() if len(c) > 1), key=lambda x: -len(x[1]))
    mixed = sorted(((k, c) for k, c in bucket_groups.items() if len(c) > 1), key=lambda x: -len(x[1]))
    print(f"  split groups: {len(split)}; mixed buckets: {len(mixed)}")
    for g, c in split[:show]:
        parts = ", ".join(f"{k[:12]}×{n} (e.g. {example[(g, k)]})" for k, n in c.most_common())
        print(f"  split  {g!r}: {parts}")
    for k, c in mixed[:show]:
        print(f"  mixed  {k[:12]}: " + ", ".join(f"{g!r}×{n}" for g, n in c.most_common()))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lab", type=Path, default=LAB_RUNS, help="the crash lab's runs directory")
    ap.add_argument("--show", type=int, default=15, help="how many split groups and mixed buckets to list")
    args = ap.parse_args()
    report("lab", lab_items(args.lab), args.show)
    corpus = corpus_dir()
    if corpus is None:
        print("syzkaller: no corpus (../shared/corpus or CRASHHUB_CORPUS)")
        return 1
    with tempfile.TemporaryDirectory(prefix="bucket-eval-") as tmp:
        report("syzkaller", syzkaller_items(corpus, Path(tmp)), args.show)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
