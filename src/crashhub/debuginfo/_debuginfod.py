"""The debuginfod protocol served from the store, and an optional upstream client.

Protocol (elfutils ``debuginfod.8``): ``GET /buildid/<hex>/debuginfo``, ``/executable``
and ``/source/<absolute path>``; a hit carries ``X-DEBUGINFOD-FILE`` and
``X-DEBUGINFOD-SIZE``, a miss is a 404.  So an engineer's drgn, gdb or crash can use
the hub as ``DEBUGINFOD_URLS=http://hub:8470/``.  For a kernel the vmlinux with DWARF
is both the debuginfo and the executable.

Missing kernels can be fetched from upstream debuginfod servers (``Upstream``); it is
off unless URLs are configured, since a vmlinux is hundreds of MB and fleet kernels are
often private builds.
"""

from __future__ import annotations

import os
import tempfile
import threading
from pathlib import Path, PurePosixPath
from typing import Any

from crashhub.debuginfo._index import DebuginfoStore
from crashhub.errors import CrashhubError, DebuginfoError

MAX_SOURCE_DEPTH = 64


def _is_hex_id(s: str) -> bool:
    return 8 <= len(s) <= 128 and all(c in "0123456789abcdef" for c in s)


class Upstream:
    """Fetches a missing build-id's debuginfo from upstream debuginfod servers into the store."""

    def __init__(self, urls: list[str], store: DebuginfoStore, *, timeout: float = 60.0,
                 max_bytes: int = 4 << 30) -> None:
        self.urls = [u.rstrip("/") for u in urls if u.strip()]
        self.store = store
        self.timeout = timeout
        self.max_bytes = max_bytes
        self._lock = threading.Lock()

    def fetch(self, build_id: str) -> Path | None:
        """Download and import; the vmlinux path, or None when no server has it."""
        import httpx  # noqa: PLC0415  (only when upstream fetching is configured)

        with self._lock:  # one download at a time: a vmlinux is large
            hit = self.store.find(build_id=build_id)
            if hit is not None:
                return hit
            for url in self.urls:
                # In the store's .tmp with our pid in the name, so gc sweeps it if we are killed.
                staging = self.store.root / ".tmp"
                staging.mkdir(parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(prefix=f"{os.getpid()}-debuginfod-", dir=staging)
                try:
                    with os.fdopen(fd, "wb") as out, httpx.stream(
                        "GET", f"{url}/buildid/{build_id}/debuginfo", timeout=self.timeout,
                        follow_redirects=True,
                    ) as r:
                        if r.status_code != 200:
                            continue
                        got = 0
                        for chunk in r.iter_bytes(1 << 20):
                            got += len(chunk)
                            if got > self.max_bytes:
                                raise DebuginfoError(f"upstream file over {self.max_bytes} bytes", url)
                            out.write(chunk)
                    entries = self.store.import_path(Path(tmp))
                    if any(e.id == build_id for e in entries):
                        return self.store.find(build_id=build_id)
                    for e in entries:  # a server answering with the wrong file: do not keep it
                        self.store.remove(e.id)
                except (httpx.HTTPError, CrashhubError):
                    continue
                finally:
                    Path(tmp).unlink(missing_ok=True)
        return None


def resolve_source(root: Path, requested: str) -> Path | None:
    """Map a DWARF path (``/build/linux-6.1/fs/ext4/inode.c``) into a source tree, or None.

    The build directory prefix differs per distribution, so leading components are
    dropped one by one until the rest names a file inside ``root``; nothing outside
    ``root`` is ever returned.
    """
    parts = [p for p in PurePosixPath(requested).parts if p not in ("/", "", ".")]
    if ".." in parts or not parts or "\0" in requested:
        return None
    base = root.resolve()
    for i in range(min(len(parts), MAX_SOURCE_DEPTH)):
        try:
            cand = (base / PurePosixPath(*parts[i:])).resolve()
            if cand.is_file() and cand.is_relative_to(base):
                return cand
        except OSError:  # a name longer than the file system takes (ENAMETOOLONG): not in the tree
            continue
    return None


def router(store: DebuginfoStore, upstream: Upstream | None = None) -> Any:
    """A FastAPI ``APIRouter`` serving debuginfod from ``store`` (mount it at the root)."""
    from fastapi import APIRouter, HTTPException  # noqa: PLC0415  (the 'hub' extra)
    from fastapi.responses import FileResponse  # noqa: PLC0415

    r = APIRouter(tags=["debuginfod"])
    # The return annotations name FileResponse, which (imported here, under postponed annotations)
    # FastAPI cannot resolve into a response model when it builds the OpenAPI document: say it.
    _FILE_ROUTE: dict[str, Any] = {"response_model": None, "response_class": FileResponse}

    def _file(path: Path, archive: str | None = None, name: str | None = None) -> FileResponse:
        # Names relative to the store and the package's base name: the hub's own paths stay private.
        if name is None:
            try:
                name = path.relative_to(store.root).as_posix()
            except ValueError:
                name = path.name
        headers = {"X-DEBUGINFOD-FILE": name, "X-DEBUGINFOD-SIZE": str(path.stat().st_size)}
        if archive:
            headers["X-DEBUGINFOD-ARCHIVE"] = Path(archive).name
        return FileResponse(path, media_type="application/octet-stream", headers=headers)

    def _lookup(build_id: str) -> Path:
        bid = build_id.lower()
        if not _is_hex_id(bid):
            raise HTTPException(400, "build-id must be 8-128 lower-case hex digits")
        hit = store.find(build_id=bid)
        if hit is None and upstream is not None:
            hit = upstream.fetch(bid)
        if hit is None:
            raise HTTPException(404, f"no debuginfo for build-id {bid}")
        return hit

    def _archive(path: Path) -> str | None:
        e = store.entry_for(build_id=path.parent.name) if path.name == "vmlinux" else None
        return e.source if e is not None else None

    @r.api_route("/buildid/{build_id}/debuginfo", methods=["GET", "HEAD"], **_FILE_ROUTE)
    def debuginfo(build_id: str) -> FileResponse:
        p = _lookup(build_id)
        return _file(p, _archive(p))

    @r.api_route("/buildid/{build_id}/executable", methods=["GET", "HEAD"], **_FILE_ROUTE)
    def executable(build_id: str) -> FileResponse:
        # A kernel's executable image with symbols is the vmlinux itself.
        p = _lookup(build_id)
        return _file(p, _archive(p))

    @r.api_route("/buildid/{build_id}/source/{path:path}", methods=["GET", "HEAD"], **_FILE_ROUTE)
    def source(build_id: str, path: str) -> FileResponse:
        p = _lookup(build_id)
        entry_dir = p.parent if p.name == "vmlinux" else next(
            (q for q in p.parents if (q / "meta.json").is_file()), None)
        entry = store.entry_for(build_id=entry_dir.name) if entry_dir else None
        tree = store.source_dir(entry.release if entry else None)
        if tree is None:
            raise HTTPException(404, f"no source tree imported for build-id {build_id}")
        f = resolve_source(tree, path)
        if f is None:
            raise HTTPException(404, f"{path} is not in the source tree of {entry.release if entry else '?'}")
        return _file(f, name="/" + path.lstrip("/"))

    return r


def app(store: DebuginfoStore, upstream: Upstream | None = None) -> Any:
    """A stand-alone debuginfod application (``crashhub debuginfo serve``)."""
    from fastapi import FastAPI  # noqa: PLC0415

    a = FastAPI(title="crashhub debuginfod")
    a.include_router(router(store, upstream))
    return a
