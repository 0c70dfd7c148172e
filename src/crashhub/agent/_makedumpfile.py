"""Which makedumpfile is installed, and is it fit for the running kernel?

The facts come from makedumpfile's own history (``makedumpfile.h`` ``LATEST_VERSION`` per
release, and the fixes named below).  A makedumpfile older than the kernel prints "The kernel
version is not supported." and carries on; that is harmless until the kernel changes a structure
makedumpfile reads to classify pages, after which "exclude user data" (``-d`` bit 8) throws away
live kernel pages and the dump cannot be opened by crash or drgn.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

Version = tuple[int, int, int]

# makedumpfile release -> newest kernel it says it supports (makedumpfile.h LATEST_VERSION).
LATEST_KERNEL: dict[Version, Version] = {
    (1, 6, 7): (5, 4, 8),
    (1, 6, 8): (5, 9, 4),
    (1, 6, 9): (5, 12, 1),
    (1, 7, 0): (5, 15, 0),
    (1, 7, 1): (5, 17, 1),
    (1, 7, 2): (6, 0, 1),
    (1, 7, 3): (6, 3, 0),
    (1, 7, 4): (6, 6, 0),
    (1, 7, 5): (6, 8, 4),
    (1, 7, 6): (6, 11, 4),
    (1, 7, 7): (6, 14, 2),
    (1, 7, 8): (6, 17, 4),
    (1, 7, 9): (7, 0, 0),
}


@dataclass(frozen=True, slots=True)
class PageBug:
    """A kernel change that makes older makedumpfile releases misclassify pages."""

    kernel: Version  # first kernel affected
    fixed_in: Version  # first makedumpfile release with the fix
    dump_bits: int  # the -d bits under which the bug loses or bloats data
    loses_data: bool  # True: live kernel pages are dropped; False: the dump is only larger
    what: str


PAGE_BUGS: tuple[PageBug, ...] = (
    # makedumpfile commit 5f17bdd "Fix wrong exclusion of slab pages on Linux 6.2-rc1", after
    # kernel commit 130d4df57390 put slab.slabs where page.mapping is: odd values look anonymous.
    PageBug((6, 2, 0), (1, 7, 3), 8, True,
            "since Linux 6.2 slab pages can look like user pages; -d with bit 8 drops them"),
    # makedumpfile commit bad2a7c "Fix wrong exclusion of Slab pages on Linux 6.10-rc1 and later",
    # after kernel commit 46df8e73a4a3 "mm: free up PG_slab" made PG_slab a page type.
    PageBug((6, 10, 0), (1, 7, 6), 8, True,
            "since Linux 6.10 PG_slab is a page type; -d with bit 8 drops live slab pages"),
    # makedumpfile commit 72c3414 "fix detection of typed (compound) pages (Linux 6.12)", after
    # kernel commit 4ffca5a96678c stored page types as values: free pages look like slab.
    PageBug((6, 12, 0), (1, 7, 7), 16, False,
            "since Linux 6.12 page types are values; free pages are not recognised and are dumped"),
)

_VERSION_RE = re.compile(rb"makedumpfile: version (\d+)\.(\d+)\.(\d+)")
_DPKG_VERSION_RE = re.compile(r"^(?:\d+:)?(\d+)\.(\d+)\.(\d+)")
_MAX_BINARY = 16 * 2**20


def version_from_binary(path: Path) -> Version | None:
    """Read the version from the binary's ``print_version`` string, without running it.

    The string is a literal in every release ("makedumpfile: version 1.7.2 (released on ...)"),
    so this works on a fixture tree and for a makedumpfile built for another architecture.
    """
    try:
        with path.open("rb") as f:
            data = f.read(_MAX_BINARY)
    except OSError:
        return None
    m = _VERSION_RE.search(data)
    if not m:
        return None
    return int(m.group(1)), int(m.group(2)), int(m.group(3))


def version_from_dpkg_status(text: str) -> Version | None:
    """The installed makedumpfile version from ``/var/lib/dpkg/status``."""
    for stanza in text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in stanza.splitlines():
            k, sep, v = line.partition(":")
            if sep and not line.startswith(" "):
                fields[k] = v.strip()
        if fields.get("Package") == "makedumpfile" and "installed" in fields.get("Status", "").split():
            m = _DPKG_VERSION_RE.match(fields.get("Version", ""))
            if m:
                return int(m.group(1)), int(m.group(2)), int(m.group(3))
    return None


def latest_supported(mdf: Version) -> Version | None:
    """The newest kernel ``mdf`` claims to support, or None for a release not in the table."""
    if mdf in LATEST_KERNEL:
        return LATEST_KERNEL[mdf]
    known = sorted(LATEST_KERNEL)
    if mdf < known[0]:
        return None
    older = [v for v in known if v <= mdf]
    if mdf > known[-1]:
        return None  # newer than the table: assume it knows the kernels of its day
    return LATEST_KERNEL[older[-1]]


def bugs_for(mdf: Version, kernel: Version) -> list[PageBug]:
    """Page-classification bugs that ``mdf`` has for ``kernel``."""
    return [b for b in PAGE_BUGS if kernel >= b.kernel and mdf < b.fixed_in]


def fmt(v: Version) -> str:
    return ".".join(str(x) for x in v)
