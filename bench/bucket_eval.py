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

**similar** scores the similar-bucket ranking (``crashhub.classify._similarity.rank``, what a
bucket's page lists) across kernels: the lab kinds' first runs (RHEL log, the CLI's primary report)
grouped into buckets by kernel family (5.10, 6.1, 6.12) and key, as a fleet gets when inlining or
a renamed helper gives the same bug another key on another kernel.  For each bucket of a bug that
the lab has on another kernel too, every other bucket is ranked: "first" counts the buckets whose
top answer is the same bug on another kernel, "ahead" those where every other-kernel bucket of the
bug ranks above every other bug's bucket; MRR is the mean reciprocal rank of the first such answer.
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

from _triage_cli import half, triage_json
from corpus_cases import corpus_dir, syzkaller_cases
from crashhub.classify import Profile, profile, rank, signature
from crashhub.model import CrashReport

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


def family(release: str) -> str:
    """A kernel's family as the lab names it: "6.1.0-57-cloud-amd64" -> "6.1"."""
    return ".".join(release.split(".")[:2])


def similar_items(runs: Path) -> list[Item]:
    """One item per lab kind (variants such as ``null+d23`` left out) and kernel family: its first
    run's RHEL log; ``Item.name`` is ``<family>/<kind>``."""
    items: dict[str, Item] = {}
    for manifest in sorted(runs.glob("*/*/*/manifest.json")):
        run = manifest.parent
        kind, release = run.parent.name, run.parent.parent.name
        log = json.loads(manifest.read_text()).get("files", {}).get("rhel/vmcore-dmesg.txt")
        name = f"{family(release)}/{kind}"
        if "+" not in kind and log:
            items.setdefault(name, Item(name, kind, run / log["path"]))
    return list(items.values())


@dataclass(frozen=True)
class RankScores:
    queries: int  # buckets of a bug the lab has on another kernel too
    first: int  # ... whose top answer is that bug on another kernel
    ahead: int  # ... where all of that bug's other-kernel buckets rank above any other bug's
    mrr: float
    misses: tuple[str, ...]


@dataclass(frozen=True)
class LabBucket:
    """The bucket a hub would hold on one kernel family: the lab kinds whose logs share a key there."""

    name: str  # "<family>/<kind>+<kind>..."
    kernel: str
    kinds: frozenset[str]
    profile: Profile


def lab_buckets(items: list[Item]) -> list[LabBucket]:
    """Items grouped by kernel family and the key of their primary report (``crashhub triage --json``),
    each group's profile made from its first item's report."""
    answers = triage_json([it.log for it in items])
    grouped: dict[tuple[str, str], list[tuple[Item, CrashReport]]] = defaultdict(list)
    for it in items:
        crashes = answers[str(it.log)]
        if crashes:
            report = CrashReport.from_dict({k: v for k, v in crashes[0].items() if k != "signature"})
            grouped[(it.name.split("/")[0], crashes[0]["signature"]["key"])].append((it, report))
    out = []
    for (kernel, _key), members in sorted(grouped.items()):
        kinds = frozenset(it.group for it, _ in members)
        name = f"{kernel}/{'+'.join(sorted(kinds))}"
        report = members[0][1]
        module = report.guilty.module if report.guilty else None
        out.append(LabBucket(name, kernel, kinds, profile(name, signature(report), module=module,
                                                          release=report.release)))
    return out


def rank_scores(buckets: list[LabBucket]) -> RankScores:
    by_name = {b.name: b for b in buckets}
    queries = first = ahead = 0
    rr = 0.0
    misses = []
    for me in buckets:
        same = {b.name for b in buckets if b.kinds & me.kinds and b.kernel != me.kernel}
        if not same:
            continue
        queries += 1
        ranked = [o.bucket for o, _ in rank(me.profile, [b.profile for b in buckets], limit=len(buckets),
                                            floor=0.0)]
        pos = next(i for i, o in enumerate(ranked) if o in same)
        rr += 1 / (pos + 1)
        first += pos == 0
        others = [i for i, o in enumerate(ranked) if not by_name[o].kinds & me.kinds]
        ok = all(ranked.index(o) < min(others, default=len(ranked)) for o in same)
        ahead += ok
        if pos or not ok:
            misses.append(f"{me.name}: " + ", ".join(ranked[:3]))
    return RankScores(queries, first, ahead, rr / queries if queries else 0.0, tuple(misses))


def similar_report(items: list[Item], show: int) -> None:
    if not items:
        print("similar: no lab runs")
        return
    buckets = lab_buckets(items)
    s = rank_scores(buckets)
    kernels = sorted({b.kernel for b in buckets})
    print(f"similar: other kernel's bucket first {s.first}/{s.queries}, all of them ahead of other bugs "
          f"{s.ahead}/{s.queries}, MRR {s.mrr:.4f} ({len(buckets)} buckets, kernels {', '.join(kernels)})")
    for m in s.misses[:show]:
        print(f"  miss   {m}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lab", type=Path, default=LAB_RUNS, help="the crash lab's runs directory")
    ap.add_argument("--show", type=int, default=15, help="how many split groups and mixed buckets to list")
    args = ap.parse_args()
    report("lab", lab_items(args.lab), args.show)
    similar_report(similar_items(args.lab), args.show)
    corpus = corpus_dir()
    if corpus is None:
        print("syzkaller: no corpus (../shared/corpus or CRASHHUB_CORPUS)")
        return 1
    with tempfile.TemporaryDirectory(prefix="bucket-eval-") as tmp:
        items = syzkaller_items(corpus, Path(tmp))
        report("syzkaller", items, args.show)
        # The stable halves triage_eval.py uses: a grouping change made looking at one is checked on
        # the other (a group is whole in its half when its cases fall there).
        for h in "ab":
            report(f"syzkaller half {h}", [i for i in items if half(i.name) == h], 0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
