"""Agreement of crashhub.triage with the answers other tools give on the public corpus.

Run: ``.venv/bin/python bench/triage_eval.py [--show-misses] [--half a|b] [--issue16]``.  Prints one
line per corpus and figure.  On the syzkaller cases it scores what a user sees: the *primary* report
(``crashes[0]`` of ``crashhub triage --json``, the one that names the bucket) and, separately, whether
*any* report in the log gives syzkaller's answer; then a table per class of title.  ``--half`` keeps
one stable half of the cases, so a fix made while looking at one half is checked on the other.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

import json
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from _triage_cli import half, triage_json
from corpus_cases import (
    LOGSPEC_KINDS,
    SATYR_TAINTS,
    SQUAD_KINDS,
    abrt_right,
    corpus_dir,
    squad_check,
    syzkaller_cases,
    title_class,
    title_frame,
    title_kind,
)
from crashhub.kernel import base_name, strip_prefix
from crashhub.triage import parse
from crashhub.triage._frames import parse_frame, split_marker


def _norm(func: str | None) -> str | None:
    return strip_prefix(base_name(func)) if func else None


@dataclass
class Tally:
    """Hits over cases for one row of the table: crash/no-crash, guilty function, kind, exact title."""

    n: int = 0
    crash: int = 0
    framed: int = 0
    frame: int = 0
    kinded: int = 0
    kind: int = 0
    titled: int = 0
    title: int = 0

    def line(self, label: str) -> str:
        return (f"{label[:34]:<34} {self.n:>4}  crash {_pct(self.crash, self.n):>17}  guilty "
                f"{_pct(self.frame, self.framed):>17}  kind {_pct(self.kind, self.kinded):>17}  "
                f"title {_pct(self.title, self.titled):>17}")


def _score(t: Tally, want: dict[str, Any], got: dict[str, Any] | None, has_report: bool) -> list[str]:
    """Add one case to ``t``; returns what it missed (for --show-misses)."""
    t.n += 1
    misses = []
    t.crash += bool(got) == has_report
    if bool(got) != has_report:
        misses.append(f"crash? want {has_report} got {got['title'] if got else None}")
    title = want.get("title")
    if not title:
        return misses
    t.titled += 1
    t.title += bool(got) and got["title"] == title  # type: ignore[index]
    frame = title_frame(title)
    if frame and frame != "corrupted":
        t.framed += 1
        ours = _norm(got["guilty"]["function"]) if got and got.get("guilty") else None
        t.frame += ours == _norm(frame)
        if ours != _norm(frame):
            misses.append(f"frame want {frame!r} got {ours!r}  [{title} | {got['title'] if got else None}]")
    kind = title_kind(title)
    if kind:
        t.kinded += 1
        t.kind += bool(got) and got["kind"] == kind  # type: ignore[index]
        if not got or got["kind"] != kind:
            misses.append(f"kind want {kind} got {got['kind'] if got else None}  [{title}]")
    return misses


def _best_of(title: str, crashes: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Among every report in the log, the one that answers ``title`` best (exact title, then frame, kind)."""
    frame = _norm(title_frame(title) or "")
    kind = title_kind(title)

    def rank(c: dict[str, Any]) -> tuple[bool, bool, bool]:
        g = _norm(c["guilty"]["function"]) if c.get("guilty") else None
        return (c["title"] == title, g == frame, c["kind"] == kind)

    return max(crashes, key=rank) if crashes else None


def eval_syzkaller(corpus: Path, show: bool, half_: str | None = None) -> None:
    """Scores what users see: the primary report (``crashes[0]`` of ``crashhub triage --json``), and
    separately whether *any* report in the log gives syzkaller's answer, with a table per class."""
    cases = [(n, log, row) for n, log, row in syzkaller_cases(corpus) if half_ is None or half(n) == half_]
    with tempfile.TemporaryDirectory(prefix="triage-eval-") as tmp:
        paths = []
        for name, log, _ in cases:
            paths.append(Path(tmp) / name.replace("/", "_"))
            paths[-1].write_bytes(log)
        answers = triage_json(paths)
    primary, anyrep = Tally(), Tally()
    by_class: dict[str, Tally] = defaultdict(Tally)
    for (name, _, row), path in zip(cases, paths, strict=True):
        crashes = answers[str(path)]
        want = {"title": row["titles"][0] if row["titles"] else None}
        got = crashes[0] if crashes else None
        for m in _score(primary, want, got, row["has_report"]):
            if show:
                print(f"  {name}: {m}")
        _score(by_class[title_class(want["title"]) if want["title"] else "(no report)"], want, got,
               row["has_report"])
        _score(anyrep, want, _best_of(want["title"], crashes) if want["title"] else got, row["has_report"])
    label = f"syzkaller{f' half {half_}' if half_ else ''}"
    print(primary.line(f"{label}: primary report"))
    print(anyrep.line(f"{label}: any report in the log"))
    for cls in sorted(by_class, key=lambda c: (-by_class[c].n, c)):
        print(by_class[cls].line(f"  {cls}"))


def _pct(a: int, b: int) -> str:
    return f"{100.0 * a / b:.1f}% ({a}/{b})" if b else "n/a"


def _all_frames(reports: list) -> list:  # type: ignore[type-arg]
    """satyr's view of an oops: the faulting function, then every frame line, across all reports."""
    out = []
    for r in sorted(reports, key=lambda r: r.start_line):
        if r.rip is not None:
            out.append(r.rip)
        for t in r.text.splitlines():
            f = parse_frame(split_marker(t)[1])
            if f is not None and f.function:
                out.append(f)
    return out


def eval_satyr(corpus: Path, show: bool) -> None:
    root = corpus / "satyr-kerneloopses"
    fields = {"first": 0, "last": 0, "count": 0, "taint": 0, "modules": 0}
    n = 0
    for line in (root / "expected.jsonl").read_text().splitlines():
        row = json.loads(line)
        if "frame_count" not in row:
            continue
        n += 1
        reports = parse((root / "kerneloopses" / row["name"]).read_bytes())
        frames = _all_frames(reports)
        taint = next((r.taint for r in sorted(reports, key=lambda r: r.start_line) if r.taint), None)
        got = {
            "first": frames[0].function if frames else None,
            "last": frames[-1].function if frames else None,
            "count": len(frames),
            "taint": len(taint.letters) if taint else 0,
            "modules": max((len(r.modules) for r in reports), default=0),
        }
        want = {
            "first": row.get("first_function_name"),
            "last": row.get("last_function_name"),
            "count": row.get("frame_count"),
            "taint": row.get("taint_count"),
            "modules": row.get("module_count"),
        }
        for k in fields:
            if "first_function_name" not in row and k in ("first", "last", "taint"):
                fields[k] += 1  # not asserted upstream for this case
                continue
            if got[k] == want[k]:
                fields[k] += 1
            elif show:
                print(f"  satyr {row['name']} {k}: want {want[k]!r} got {got[k]!r}")
    print("satyr: " + "; ".join(f"{k} {_pct(v, n)}" for k, v in fields.items()))


def eval_faf(corpus: Path, show: bool) -> None:
    root = corpus / "faf-ureports"
    n = frames_ok = taint_ok = mods_ok = ver_ok = 0
    for path in sorted(root.iterdir()):
        if path.name == "README.md":
            continue
        problem = json.loads(path.read_text())["problem"]
        n += 1
        reports = parse(problem["raw_oops"])
        r = min(reports, key=lambda r: r.start_line) if reports else None
        want_frames = [f["function_name"] for f in problem.get("frames", [])]
        got_frames = [f.function for f in _all_frames(reports)]
        want_taint = "".join(sorted(SATYR_TAINTS.get(t, "?") for t in problem.get("taint_flags", [])))
        got_taint = "".join(sorted(r.taint.letters)) if r and r.taint else ""
        want_mods = [m.split("(")[0] for m in problem.get("modules", [])]
        checks = [
            (got_frames == want_frames, "frames", want_frames, got_frames),
            (got_taint == want_taint, "taint", want_taint, got_taint),
            (
                r is not None and list(r.modules) == want_mods,
                "modules",
                len(want_mods),
                len(r.modules) if r else None,
            ),
            (
                r is not None and r.release == problem.get("version"),
                "version",
                problem.get("version"),
                r.release if r else None,
            ),
        ]
        frames_ok += checks[0][0]
        taint_ok += checks[1][0]
        mods_ok += checks[2][0]
        ver_ok += checks[3][0]
        for ok, what, want, got in checks:
            if not ok and show:
                print(f"  faf {path.name} {what}: want {want!r} got {got!r}")
    print(
        f"faf: frames {_pct(frames_ok, n)}; taint {_pct(taint_ok, n)}; modules {_pct(mods_ok, n)}; "
        f"version {_pct(ver_ok, n)}"
    )


def eval_abrt(corpus: Path, show: bool) -> None:
    root = corpus / "abrt-examples" / "examples"
    n = count_ok = ver_ok = 0
    for right in sorted(root.glob("*.right")):
        stem = right.name[: -len(".right")]
        test = next((p for p in (root / f"{stem}.test", root / f"{stem}.test.template") if p.exists()), None)
        if test is None or stem.startswith("xorg"):
            continue
        n += 1
        want_n, want_versions = abrt_right(right)
        reports = sorted(parse(test.read_bytes()), key=lambda r: r.start_line)
        if len(reports) == want_n:
            count_ok += 1
        elif show:
            print(f"  abrt {stem}: want {want_n} oopses got {len(reports)} {[r.title for r in reports]}")
        got_versions = [r.release or "" for r in reports]
        if got_versions == want_versions:
            ver_ok += 1
        elif show:
            print(f"  abrt {stem}: want versions {want_versions} got {got_versions}")
    print(f"abrt: oops count {_pct(count_ok, n)}; versions {_pct(ver_ok, n)}")


def eval_kernelci(corpus: Path, show: bool) -> None:
    root = corpus / "kernelci-logspec"
    n = ok = 0
    for line in (root / "expected.jsonl").read_text().splitlines():
        row = json.loads(line)
        reports = parse((root / row["file"]).read_bytes())
        kinds = {r.kind for r in reports}
        want = {
            e["error_type"] for e in row["expected"].get("errors", []) if e["error_type"] in LOGSPEC_KINDS
        }
        good = all(kinds & LOGSPEC_KINDS[w] for w in want) and (bool(want) or not reports)
        n += 1
        ok += good
        if not good and show:
            print(f"  kernelci {row['file']}: want {sorted(want)} got {sorted(kinds)}")
    print(f"kernelci logspec: kinds agree {_pct(ok, n)}")


def eval_squad(corpus: Path, show: bool) -> None:
    root = corpus / "squad-linux-log-parser" / "linux_log_parser"
    n = ok = 0
    for line in (corpus / "squad-linux-log-parser" / "expected.jsonl").read_text().splitlines():
        row = json.loads(line)
        path = root / row["log"]
        if not path.is_file() or row["expected_result"] == "not asserted":
            continue
        check = squad_check(row["test_name"])
        if check not in SQUAD_KINDS:
            continue
        kinds = {r.kind for r in parse(path.read_bytes())}
        found = bool(kinds & SQUAD_KINDS[check])
        want = row["expected_result"].startswith("fail")
        n += 1
        ok += found == want
        if found != want and show:
            print(f"  squad {row['log']} {row['test_name'][:60]}: want found={want} got {sorted(kinds)}")
    print(f"squad: categories agree {_pct(ok, n)}")


def eval_fwts(corpus: Path, show: bool) -> None:
    reports = parse((corpus / "fwts-oops" / "oops.txt").read_bytes())
    warns = sum(1 for r in reports if r.kind == "warning")
    print(f"fwts: {len(reports) - warns} oopses (want 39), {warns} WARN_ON (want 1)")


def eval_issue16(corpus: Path, show: bool) -> None:
    """Issue 16's classes 1-10 (bench/issue16_cases.py): right answers per class, and per half."""
    from issue16_cases import cases  # noqa: PLC0415 - only this table needs the lab's kept logs

    right: dict[int, dict[str, list[int]]] = defaultdict(lambda: {"a": [0, 0], "b": [0, 0]})
    for cls, name, text, check in cases(corpus):
        miss = check(parse(text))
        tally = right[cls][half(f"{cls}/{name}")]
        tally[0] += miss is None
        tally[1] += 1
        if miss and show:
            print(f"  class {cls} {name}: {miss}")
    for cls in sorted(right):
        a, b = right[cls]["a"], right[cls]["b"]
        print(f"issue 16 class {cls:<2}  {a[1] + b[1]:>4} cases  right {_pct(a[0] + b[0], a[1] + b[1]):>17}  "
              f"half a {_pct(*a):>17}  half b {_pct(*b):>17}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--show-misses", action="store_true")
    ap.add_argument("--half", choices=("a", "b"),
                    help="one half of the syzkaller cases (a stable split by name)")
    ap.add_argument("--issue16", action="store_true",
                    help="only the cases of issue 16's classes 1-10, each split in halves")
    args = ap.parse_args()
    corpus = corpus_dir()
    if corpus is None:
        print("corpus ../shared/corpus is absent", file=sys.stderr)
        return 2
    if args.issue16:
        eval_issue16(corpus, args.show_misses)
        return 0
    eval_syzkaller(corpus, args.show_misses, args.half)
    eval_satyr(corpus, args.show_misses)
    eval_faf(corpus, args.show_misses)
    eval_abrt(corpus, args.show_misses)
    eval_kernelci(corpus, args.show_misses)
    eval_squad(corpus, args.show_misses)
    eval_fwts(corpus, args.show_misses)
    return 0


if __name__ == "__main__":
    sys.exit(main())
