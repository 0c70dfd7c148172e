"""Classify: signatures (bucket keys under versioned algorithm ids), stack similarity, grouping
rules (``rules``) and the re-key plan (``rekey``)."""

from __future__ import annotations

from crashhub.classify.signature import ALGORITHM, ALGORITHMS, signature
from crashhub.classify.similarity import similarity
from crashhub.kernel import SKIP, SKIP_GROUPS

__all__ = ["ALGORITHM", "ALGORITHMS", "SKIP", "SKIP_GROUPS", "signature", "similarity"]
