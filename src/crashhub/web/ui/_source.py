"""Kernel source at the crash's exact release: a frame's ``file:line`` opens the file at that line.

The tree is the one ``crashhub debuginfo import-source`` stored for the release (in the hub's
debuginfo store, or the ``vmlinux_dir`` store).  A path is looked up through the debuginfod's own
``resolve_source``: components only, no ``..``, nothing outside the tree; a file larger than
``MAX_SOURCE_BYTES`` is not shown.  Without a tree for the release the page shows plain text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response

from crashhub.config import Settings
from crashhub.debuginfo import DebuginfoStore, resolve_source
from crashhub.errors import PageError
from crashhub.web.ui.base import UIState, page

router = APIRouter()

MAX_SOURCE_BYTES = 4 << 20  # the largest kernel .c files are ~1 MiB (amdgpu register headers: more)
CONTEXT_LINES = 200  # shown either side of the line asked for
_RELEASE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+~-]{0,254}")


def source_tree(settings: Settings, release: str | None) -> Path | None:
    """The source tree stored for ``release``, or None (no tree, or a name that is no release)."""
    if not release or not _RELEASE.fullmatch(release):
        return None
    roots = [settings.data_dir / "debuginfo"]
    if settings.vmlinux_dir:
        roots.append(Path(settings.vmlinux_dir))
    for root in roots:
        tree = DebuginfoStore(root).source_dir(release) if root.is_dir() else None
        if tree is not None:
            return tree
    return None


@dataclass
class SourceLinks:
    """``file:line`` → the source page's URL, when the release's tree holds the file (else None)."""

    release: str | None
    tree: Path | None

    def __call__(self, file: str | None, line: int | None) -> str | None:
        if self.tree is None or not file or not self.release:
            return None
        found = resolve_source(self.tree, file)
        if found is None:
            return None
        rel = found.relative_to(self.tree.resolve()).as_posix()
        n = int(line) if line else 0
        at = f"?line={n}#L{n}" if n > 0 else ""
        return f"/ui/source/{quote(self.release, safe='')}/{quote(rel)}{at}"


@dataclass(frozen=True, slots=True)
class SourceLine:
    n: int
    text: str


@router.get("/ui/source/{release}/{path:path}", include_in_schema=False)
@page
def source(request: Request, ui: UIState, release: str, path: str, line: int = 0) -> Response:
    ui.require(request)
    tree = source_tree(ui.ctx.settings, release)
    if tree is None:
        raise PageError(404, "No kernel source stored for {release}.", release=repr(release))
    f = resolve_source(tree, path)
    if f is None:
        raise PageError(404, "{path} is not in the source of {release}.", path=repr(path), release=release)
    size = f.stat().st_size
    if size > MAX_SOURCE_BYTES:
        raise PageError(413, "{path} is too large to show ({size} bytes).", path=repr(path), size=size)
    lines = f.read_text("utf-8", "replace").splitlines()
    first = max(1, line - CONTEXT_LINES) if line > 0 else 1
    last = min(len(lines), (line if line > 0 else 1) + CONTEXT_LINES)
    shown = [SourceLine(n, lines[n - 1]) for n in range(first, last + 1)]
    ctx = {"release": release, "file": f.relative_to(tree.resolve()).as_posix(), "line": line,
           "lines": shown, "total": len(lines)}
    return ui.render(request, "source.html", ctx)
