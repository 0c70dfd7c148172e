"""Release bounds of KB ranges: which releases a bound applies to, and on which side they fall.

Parsing and comparing releases is ``crashhub.kernel`` (``parse_release``, ``vercmp``); this module
holds the KB's rule on top: a bound written in a distribution's form (``6.1.0-57``) only applies to
releases of the same series, a plain upstream bound (``6.2``) to every release whose upstream
version is known.  RHEL-family kernels have none, so upstream bounds never apply to them.
"""

from __future__ import annotations

import re

from crashhub.kernel import MAX_RELEASE_LEN, Release, parse_release, vercmp

__all__ = ["MAX_RELEASE_LEN", "Release", "bound_series", "compare_to_bound", "is_upstream_bound",
           "parse_release", "vercmp"]


def is_upstream_bound(bound: str) -> bool:
    """True for a bound written as a plain upstream version (``6.2``, ``6.1.75``, ``6.2-rc1``)."""
    return re.fullmatch(r"\d+\.\d+(?:\.\d+)?(?:-?rc\d+)?", bound.strip()) is not None


def compare_to_bound(release: Release, bound: str) -> int | None:
    """Compare ``release`` with a range bound: -1/0/1, or None when the bound does not apply."""
    b = parse_release(bound)
    if is_upstream_bound(bound):
        if release.upstream is None or b.upstream is None:
            return None
        return vercmp(release.upstream, b.upstream)
    if b.series != release.series or b.series == "unknown":
        return None
    return vercmp(release.key, b.key)


def bound_series(bound: str) -> str:
    """The series a bound belongs to ("upstream" for plain upstream versions)."""
    return "upstream" if is_upstream_bound(bound) else parse_release(bound).series
