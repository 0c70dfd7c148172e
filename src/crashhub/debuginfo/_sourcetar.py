"""Unpack a kernel source tarball (``linux-6.1.192.tar.xz``) for one release, sources only.

The first path component (``linux-6.1.192/``) is dropped so paths read as in the tree;
only what file:line snippets and MAINTAINERS lookups need is kept (C, assembly, Rust,
headers, Makefiles, Kconfig, MAINTAINERS), with the same name checks and byte limits as
debuginfo imports.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from crashhub.debuginfo._archive import (
    BLOCK,
    Budget,
    CountingStream,
    Limits,
    entry_name,
    safe_name,
    write_entry,
)
from crashhub.errors import DebuginfoError

KEEP_SUFFIXES = (".c", ".h", ".S", ".rs", ".lds", ".s")
KEEP_NAMES = ("Makefile", "Kconfig", "MAINTAINERS", "Kbuild")


def extract_sources(tarball: Path, dest: Path, limits: Limits) -> int:
    """Extract the source files of ``tarball`` under ``dest``; return how many were kept."""
    import libarchive  # noqa: PLC0415  (the optional 'analyze' extra)

    src = str(tarball)
    dest.mkdir(parents=True)
    kept = 0
    with tarball.open("rb") as raw:
        stream = CountingStream(raw)
        budget = Budget(limits, src, stream)
        try:
            with libarchive.stream_reader(stream, block_size=BLOCK) as archive:
                for entry in archive:
                    name = safe_name(entry_name(entry), src)
                    if not entry.isreg or entry.issym or entry.islnk or len(name.parts) < 2:
                        continue
                    rel = PurePosixPath(*name.parts[1:])
                    if not (rel.suffix in KEEP_SUFFIXES or rel.name in KEEP_NAMES):
                        continue
                    write_entry(entry, dest / rel, budget, rel)
                    kept += 1
        except DebuginfoError:
            raise
        except Exception as e:
            if type(e).__name__ != "ArchiveError":
                raise
            raise DebuginfoError(f"cannot read the source archive: {e} (truncated or corrupt?)", src) from e
    if kept == 0:
        raise DebuginfoError("no kernel source files in the archive", src)
    return kept
