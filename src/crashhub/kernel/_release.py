"""Kernel release strings (``uname -r``): one parser, one comparator.

``kernel_version`` reads the numbers every release starts with (``6.12.117+deb12-cloud-amd64`` ->
(6, 12, 117)): what a feature check ("since Linux 6.10") compares.  ``parse_release`` splits a
release into the "series" it belongs to and the key ``vercmp`` (rpm's comparator) orders it by,
since a fleet mixes distributions whose release strings cannot be compared with each other:

=========================================  ==========  ===========================================
release (``uname -r``)                     series      compared as
=========================================  ==========  ===========================================
``4.18.0-513.5.1.el8_9.x86_64``            ``el8``     ``4.18.0-513.5.1.el8_9`` (arch dropped)
``5.14.0-362.8.1.el9_3``                   ``el9``     ``5.14.0-362.8.1.el9_3``
``5.15.0-200.131.27.el8uek.x86_64``        ``el8uek``  ``5.15.0-200.131.27.el8uek``
``6.1.0-56-cloud-amd64``                   ``abi-6.1`` ``6.1.0-56`` (Debian/Ubuntu ABI number)
``6.12.117+deb12-cloud-amd64``             ``deb12``   ``6.12.117+deb12`` (flavour dropped)
``6.5.6-300.fc39.x86_64``                  ``fc39``    ``6.5.6-300.fc39``
``6.6.30``, ``6.2.0-rc3``                  ``upstream````6.6.30``, ``6.2.0~rc3``
=========================================  ==========  ===========================================

The *upstream* version is known for upstream and Fedora releases, Debian's ``+debNN`` releases,
and Debian ABI releases when the log's version line names the package (``Debian 6.1.192-2``).
RHEL-family kernels have no meaningful upstream version (thousands of
backports on a frozen 4.18/5.14 base).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from crashhub.kernel._version import kernel_version

_ARCHES = ("x86_64", "aarch64", "ppc64le", "s390x", "i686", "noarch", "armv7hl")
_EL = re.compile(r"\.(el\d+)(?:_\d+)?(uek)?(?=\.|$)")
_FC = re.compile(r"\.(fc\d+)(?=\.|$)")
# Debian's +debNN releases (Debian kernels since 6.12 in bookworm-backports/trixie).
_DEB = re.compile(r"^(\d+\.\d+(?:\.\d+)?)\+(deb\d+)(?:u\d+)?(?:-[a-z][a-z0-9-]*)?$")
# Debian/Ubuntu ABI naming X.Y.0-ABI[-flavour]; bullseye-backports use ABI "0.deb11.17".
_ABI = re.compile(r"^(\d+)\.(\d+)\.(\d+)-(\d+(?:\.deb\d+\.\d+)?)(?:-[a-z][a-z0-9-]*)?$")
_UPSTREAM = re.compile(r"^(\d+\.\d+(?:\.\d+)?)(?:-?(rc\d+))?")
_DEBIAN_PKG = re.compile(r"\bDebian (\d+\.\d+(?:\.\d+)?)(?:~?(rc\d+))?[-+~]")
MAX_RELEASE_LEN = 200


@dataclass(frozen=True, slots=True)
class Release:
    """A release string split into what comparisons need."""

    raw: str
    series: str  # "el9", "abi-6.1", "deb12", "fc39", "upstream"
    key: str  # the string compared within the series
    upstream: str | None  # the upstream version, where it is meaningful

    @property
    def version(self) -> tuple[int, int, int] | None:
        """The numbers the release starts with (``kernel_version``)."""
        return kernel_version(self.raw)

    def to_dict(self) -> dict[str, str | None]:
        return {"raw": self.raw, "series": self.series, "key": self.key, "upstream": self.upstream}

    @classmethod
    def from_dict(cls, d: dict[str, str | None]) -> Release:
        return cls(str(d["raw"]), str(d["series"]), str(d["key"]), d.get("upstream"))


def vercmp(a: str, b: str) -> int:
    """Compare two version strings the way rpm's ``rpmvercmp`` does: -1, 0 or 1.

    Strings split into runs of digits and runs of ASCII letters; anything else separates.
    Digit runs compare as numbers, letter runs as strings, and a digit run beats a letter run.
    ``~`` sorts before everything (even the end: ``1.0~rc1 < 1.0``), ``^`` after the end but
    before any further segment.  When one string runs out first, the longer one is newer.
    """
    if a == b:
        return 0
    i = j = 0
    la, lb = len(a), len(b)

    def sep(c: str) -> bool:
        return not (c.isascii() and c.isalnum()) and c not in "~^"

    while i < la or j < lb:
        while i < la and sep(a[i]):
            i += 1
        while j < lb and sep(b[j]):
            j += 1
        ta = a[i] if i < la else ""
        tb = b[j] if j < lb else ""
        if ta == "~" or tb == "~":
            if ta != "~":
                return 1
            if tb != "~":
                return -1
            i += 1
            j += 1
            continue
        if ta == "^" or tb == "^":
            if not ta:
                return -1
            if not tb:
                return 1
            if ta != "^":
                return 1
            if tb != "^":
                return -1
            i += 1
            j += 1
            continue
        if not ta or not tb:
            break
        if ta.isdigit():
            si = i
            while i < la and a[i].isascii() and a[i].isdigit():
                i += 1
            sj = j
            while j < lb and b[j].isascii() and b[j].isdigit():
                j += 1
            if sj == j:  # b has letters here: numbers are newer
                return 1
            na, nb = a[si:i].lstrip("0"), b[sj:j].lstrip("0")
            if len(na) != len(nb):
                return 1 if len(na) > len(nb) else -1
            if na != nb:
                return 1 if na > nb else -1
        else:
            si = i
            while i < la and a[i].isascii() and a[i].isalpha():
                i += 1
            sj = j
            while j < lb and b[j].isascii() and b[j].isalpha():
                j += 1
            if sj == j:
                return -1
            sa, sb = a[si:i], b[sj:j]
            if sa != sb:
                return 1 if sa > sb else -1
    if i >= la and j >= lb:
        return 0
    return -1 if i >= la else 1


def _strip_arch(s: str) -> str:
    for arch in _ARCHES:
        if s.endswith("." + arch):
            return s[: -len(arch) - 1]
    return s


def parse_release(raw: str, version: str | None = None) -> Release:
    """Split a ``uname -r`` string (or a KB bound) into series, comparison key and upstream version.

    ``version`` is the log's version line (``#1 SMP PREEMPT_DYNAMIC Debian 6.1.192-2``); it gives
    the upstream version of Debian ABI releases, whose ``X.Y.0`` says nothing about the sublevel.
    """
    s = raw.strip()[:MAX_RELEASE_LEN]
    m = _EL.search(s)
    if m:
        return Release(raw, m.group(1) + (m.group(2) or ""), _strip_arch(s), None)
    m = _FC.search(s)
    if m:
        fc_up = _UPSTREAM.match(s)
        return Release(raw, m.group(1), _strip_arch(s), fc_up.group(1) if fc_up else None)
    m = _DEB.match(s)
    if m:
        return Release(raw, m.group(2), f"{m.group(1)}+{m.group(2)}", m.group(1))
    m = _ABI.match(s)
    if m:
        upstream = None
        if version:
            pkg = _DEBIAN_PKG.search(version)
            if pkg and pkg.group(1).startswith(f"{m.group(1)}.{m.group(2)}"):
                upstream = pkg.group(1) + (f"~{pkg.group(2)}" if pkg.group(2) else "")
        key = f"{m.group(1)}.{m.group(2)}.{m.group(3)}-{m.group(4)}"
        return Release(raw, f"abi-{m.group(1)}.{m.group(2)}", key, upstream)
    m = _UPSTREAM.match(s)
    if m:
        # An -rcN is a pre-release: rpm's "~" makes 6.2~rc3 sort before 6.2.
        up = m.group(1) + (f"~{m.group(2)}" if m.group(2) else "")
        return Release(raw, "upstream", up + s[m.end():], up)
    return Release(raw, "unknown", s, None)
