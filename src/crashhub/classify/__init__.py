"""Classify: signatures (bucket keys under versioned algorithm ids), stack similarity, grouping
rules and the re-key plan.

The names below load on first use (PEP 562): the store imports ``classify.rules`` and
``classify.rekey`` without paying for triage, which the signature needs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crashhub.classify.signature import ALGORITHM, ALGORITHMS, signature
    from crashhub.classify.similarity import similarity
    from crashhub.kernel import SKIP, SKIP_GROUPS

_WHERE = {
    "ALGORITHM": "crashhub.classify.signature",
    "ALGORITHMS": "crashhub.classify.signature",
    "signature": "crashhub.classify.signature",
    "similarity": "crashhub.classify.similarity",
    "SKIP": "crashhub.kernel",
    "SKIP_GROUPS": "crashhub.kernel",
}


def __getattr__(name: str) -> object:
    if name not in _WHERE:
        raise AttributeError(f"module 'crashhub.classify' has no attribute {name!r}")
    __import__(_WHERE[name])
    import sys  # noqa: PLC0415 - already loaded; a dict lookup

    return getattr(sys.modules[_WHERE[name]], name)


__all__ = ["ALGORITHM", "ALGORITHMS", "SKIP", "SKIP_GROUPS", "signature", "similarity"]
