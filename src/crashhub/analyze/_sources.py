"""From a frame's file:line (drgn reads it from DWARF) to the code and the people who own it.

The DWARF path of a kernel file is relative (``fs/proc/inode.c``) or carries the build
directory (``/build/reproducible-path/linux-6.1.192/arch/x86/entry/entry_64.S``); a
module's is relative to its own build (``crashmod/crashmod.c``).  :func:`find_file`
tries each source root with leading components dropped, never leaving the root.
MAINTAINERS is read as ``get_maintainer.pl`` does: ``F:`` patterns (a trailing ``/``
covers the whole directory, ``*`` stays inside one component), ``X:`` excludes, and the
most specific match first.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

MAX_SOURCE_BYTES = 8 << 20
MAX_DEPTH = 64


def find_file(roots: Sequence[Path], dwarf_path: str) -> tuple[Path, str] | None:
    """The file a DWARF path names under one of ``roots``, and its path relative to that root."""
    parts = [p for p in PurePosixPath(dwarf_path).parts if p not in ("/", "", ".")]
    if not parts or ".." in parts:
        return None
    for root in roots:
        base = root.resolve()
        for i in range(min(len(parts), MAX_DEPTH)):
            rel = PurePosixPath(*parts[i:])
            cand = (base / rel).resolve()
            if cand.is_relative_to(base) and cand.is_file():
                return cand, rel.as_posix()
    return None


def snippet(path: Path, line: int, context: int = 5) -> dict[str, Any]:
    """``context`` lines either side of ``line`` (1-based) of a source file."""
    if path.stat().st_size > MAX_SOURCE_BYTES:
        return {"error": f"{path} is over {MAX_SOURCE_BYTES} bytes"}
    lines = path.read_text("utf-8", "replace").splitlines()
    if not 1 <= line <= len(lines):
        return {"error": f"line {line} is past the end of {path} ({len(lines)} lines): "
                         "the source does not match the build"}
    start = max(1, line - context)
    end = min(len(lines), line + context)
    return {"start": start, "line": line, "text": lines[line - 1],
            "lines": [{"n": n, "text": lines[n - 1]} for n in range(start, end + 1)]}


@dataclass(slots=True)
class Section:
    title: str
    maintainers: list[str] = field(default_factory=list)
    reviewers: list[str] = field(default_factory=list)
    lists: list[str] = field(default_factory=list)
    status: str | None = None
    files: list[str] = field(default_factory=list)
    excludes: list[str] = field(default_factory=list)
    regexes: list[str] = field(default_factory=list)


def parse_maintainers(text: str) -> list[Section]:
    sections: list[Section] = []
    cur: Section | None = None
    started = False
    for raw in text.splitlines():
        line = raw.rstrip()
        m = re.match(r"^([A-Z]):\s*(.*)$", line)
        if m and cur is not None:
            tag, val = m.group(1), m.group(2).strip()
            {"M": cur.maintainers, "R": cur.reviewers, "L": cur.lists, "F": cur.files,
             "X": cur.excludes, "N": cur.regexes}.get(tag, []).append(val)
            if tag == "S":
                cur.status = val
            continue
        if not line:
            cur = None
            continue
        if m is None and not line.startswith(("\t", " ")):
            # The entries start after the "Maintainers List" header's underline.
            if not started and not re.match(r"^[0-9A-Z]", line):
                continue
            started = True
            cur = Section(line.strip())
            sections.append(cur)
    return [s for s in sections if s.files or s.regexes]


def _pattern(p: str) -> tuple[re.Pattern[str], int]:
    """A MAINTAINERS F:/X: pattern as a regex, and its specificity (path depth)."""
    # Literal components count for specificity: "fs/proc/" (2) beats "fs/*" (1).
    depth = sum(1 for c in p.rstrip("/").split("/") if c and "*" not in c and "?" not in c)
    rx = re.escape(p).replace(r"\*", "[^/]*").replace(r"\?", "[^/]")
    if p.endswith("/"):
        return re.compile(rx + ".*"), depth
    if "*" in p or "?" in p:  # "drivers/net/*": the files in drivers/net, not below
        return re.compile(rx), depth
    # "F: drivers/net" without a slash also covers the directory, as get_maintainer does.
    return re.compile(rx + "(?:/.*)?"), depth


def maintainers_for(sections: Iterable[Section], rel_path: str, limit: int = 3) -> list[dict[str, Any]]:
    """The sections covering ``rel_path``, most specific first."""
    hits: list[tuple[int, Section]] = []
    for s in sections:
        if s.title.upper().startswith("THE REST"):
            continue
        if any(_pattern(x)[0].fullmatch(rel_path) for x in s.excludes):
            continue
        best = -1
        for f in s.files:
            rx, depth = _pattern(f)
            if rx.fullmatch(rel_path):
                best = max(best, depth)
        for n in s.regexes:
            try:
                if re.search(n, rel_path):
                    best = max(best, 0)
            except re.error:
                continue
        if best >= 0:
            hits.append((best, s))
    hits.sort(key=lambda h: -h[0])
    return [{"subsystem": s.title, "maintainers": s.maintainers, "reviewers": s.reviewers,
             "lists": s.lists, "status": s.status} for _d, s in hits[:limit]]


def annotate(frames: list[dict[str, Any]], roots: Sequence[Path], *, max_frames: int = 4,
             context: int = 5) -> list[dict[str, Any]]:
    """Snippets and maintainers for the first frames that have file:line and a source file."""
    out: list[dict[str, Any]] = []
    cache: dict[Path, list[Section]] = {}
    for f in frames:
        if len(out) >= max_frames:
            break
        if not f.get("file") or not f.get("line"):
            continue
        found = find_file(roots, str(f["file"]))
        if found is None:
            continue
        path, rel = found
        item: dict[str, Any] = {"function": f.get("function"), "file": f["file"], "line": f["line"],
                                "source": str(path)}
        item.update(snippet(path, int(f["line"]), context))
        root = next((r for r in roots if path.is_relative_to(r.resolve())), None)
        mfile = root / "MAINTAINERS" if root is not None else None
        if mfile is not None and mfile.is_file():
            if mfile not in cache:
                cache[mfile] = parse_maintainers(mfile.read_text("utf-8", "replace"))
            item["maintainers"] = maintainers_for(cache[mfile], rel)
        out.append(item)
    return out
