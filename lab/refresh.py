"""Kernel drift guard: crash today's Debian kernels and compare with the crashes kept in the repository.

``python -m lab refresh`` (see lab/README.md):

1. resolves every kernel family anew (the pins in ``<cache>/kernels/`` are moved aside), printing
   ``6.1: 6.1.0-56-cloud-amd64 -> 6.1.0-57-cloud-amd64``;
2. makes the CI core set on those kernels (``--all``: every kind kept in tests/triage/data/lab);
3. triages each new run's ``rhel/vmcore-dmesg.txt`` and compares it with the kept log of the same
   case (``<kernel>-<kind>-<n>``), field by field.  What differs from boot to boot or kernel to kernel
   (release, line numbers, pids, CPU, module count, unreliable frames) is *data*; a different kind,
   title, guilty frame, reliable top frames, taint, panic line or bucket key is *behaviour*, and the
   command exits 1 listing each;
4. ``--adopt`` copies the new logs whose behaviour did not change over the kept ones (with what the
   lab knew of each run) and cuts the 6.1 null minidump anew; then ``pytest tests/triage
   --update-golden`` records the new data.  A changed behaviour is never adopted by this command: it
   is a triage question for a person (and a golden-file change reviewed as such).
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

from lab.config import FAMILIES, cache_dir
from lab.run import CI_CORE, LabRun, crash

REPO = Path(__file__).resolve().parent.parent
KEPT = REPO / "tests" / "triage" / "data" / "lab"
MINIDUMP = REPO / "tests" / "data" / "minidump" / "6.1-null"
# Fields of a report's answer that say what the bug is; the rest changes between boots and kernels.
BEHAVIOUR = ("kind", "title", "fatal", "corrupted", "guilty", "rip", "taint", "arch", "panic", "signatures")


def resolve_anew(keys: list[str]) -> dict[str, tuple[str | None, str]]:
    """Move each family's pin aside and resolve it again: key -> (old release, new release)."""
    from lab.debs import resolve  # noqa: PLC0415 - apt is only asked here

    out: dict[str, tuple[str | None, str]] = {}
    for key in keys:
        pin = cache_dir() / "kernels" / f"{key}.json"
        old = json.loads(pin.read_text())["release"] if pin.exists() else None
        if pin.exists():
            pin.rename(pin.with_suffix(f".json.{int(time.time())}"))
        out[key] = (old, resolve(FAMILIES[key])[0])
    return out


def kept_cases() -> list[tuple[str, str, int]]:
    """(kernel, kind, instance) of every kept default-variant log."""
    cases = []
    for p in sorted(KEPT.glob("*.vmcore-dmesg.txt")):
        stem = p.name.removesuffix(".vmcore-dmesg.txt")
        kernel, rest = stem.split("-", 1)
        kind, _, n = rest.rpartition("-")
        if kind and n.isdigit() and kind in _kinds():
            cases.append((kernel, kind, int(n)))
    return cases


def _kinds() -> set[str]:
    from lab.kinds import KINDS  # noqa: PLC0415

    return set(KINDS)


def _answer(log: Path) -> list[dict[str, Any]]:
    """The golden files' answer for each report, with its first four reliable frames."""
    from tests.triage.answers import answer  # noqa: PLC0415 - the golden files' own answer

    from crashhub.triage import parse_file  # noqa: PLC0415

    reports = parse_file(log)
    out = answer(reports)
    for doc, r in zip(out, reports, strict=True):
        doc["reliable"] = [f.function for f in r.frames if f.reliable][:4]
    return out


def compare(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[str]:
    """Behaviour differences between two answers for one case ([] when only data moved)."""
    if len(old) != len(new):
        return [f"{len(old)} reports -> {len(new)}: {[r['title'] for r in new]}"]
    diffs = []
    for i, (a, b) in enumerate(zip(old, new, strict=True)):
        for field in BEHAVIOUR:
            if a.get(field) != b.get(field):
                diffs.append(f"report {i} {field}: {a.get(field)!r} -> {b.get(field)!r}")
        if a["reliable"] != b["reliable"]:
            diffs.append(f"report {i} reliable top frames: {a['reliable']} -> {b['reliable']}")
        if (a["process"] or [None])[0] != (b["process"] or [None])[0]:
            diffs.append(f"report {i} process: {a['process']} -> {b['process']}")
    return diffs


def adopt(run: LabRun, case: str) -> None:
    """Keep ``run``'s log as the case's log, with what the lab knew of it."""
    shutil.copyfile(run.path("rhel/vmcore-dmesg.txt"), KEPT / f"{case}.vmcore-dmesg.txt")
    keys = ("release", "comm", "guilty_function", "culprit_function", "earlier_functions", "module")
    m = run.manifest
    expected: dict[str, Any] = {k: m["expected"].get(k) for k in keys}
    expected.update(kind=m["kind"], kernel=m["kernel"]["key"], lab_version=m.get("lab_version"))
    (KEPT / f"{case}.expected.json").write_text(json.dumps(expected, indent=1, sort_keys=True) + "\n")
    if case == "6.1-null-1" and run.has("debian/dmesg"):
        shutil.copyfile(run.path("debian/dmesg"), KEPT / f"{case}.debian-dmesg.txt")


def refresh(*, everything: bool, resolve: bool, take: bool) -> int:
    """The command; returns its exit status (1 when behaviour changed)."""
    if resolve:
        for key, (old, new) in resolve_anew(sorted(FAMILIES)).items():
            print(f"{key}: {old or '(not pinned)'} -> {new}", flush=True)
    wanted = kept_cases() if everything else [
        (k, kind, n) for k, kind, variant, n in CI_CORE if variant is None and (k, kind, n) in kept_cases()]
    changed = 0
    for kernel, kind, n in wanted:
        run, case = crash(kernel, kind, None, n), f"{kernel}-{kind}-{n}"
        new = _answer(run.path("rhel/vmcore-dmesg.txt"))
        diffs = compare(_answer(KEPT / f"{case}.vmcore-dmesg.txt"), new)
        if not diffs and take:
            adopt(run, case)
        release = run.manifest["kernel"]["release"]
        print(f"{case} ({release}): " + ("same behaviour" if not diffs else "BEHAVIOUR CHANGED"), flush=True)
        for d in diffs:
            print(f"    {d}")
        changed += bool(diffs)
    if take:
        from lab.minidump import make  # noqa: PLC0415

        shutil.rmtree(MINIDUMP, ignore_errors=True)
        make(crash("6.1", "null"), MINIDUMP)
        print(f"kept logs and {MINIDUMP.relative_to(REPO)} rewritten: pytest tests/triage --update-golden")
    print(f"{len(wanted)} cases, {changed} with changed behaviour")
    return 1 if changed else 0
