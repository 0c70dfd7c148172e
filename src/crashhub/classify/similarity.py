"""How alike two crashes are, by their stacks: a number in [0, 1].

For "is this new bucket the same bug as that one?" suggestions, not for bucketing (the key
decides that).  The score is 1 minus the normalised edit distance between the two normalised
stacks (``Signature.stack``, or the key frames when a signature has no stack), where an edit at
stack depth ``i`` costs ``1 / (1 + i)``: a differing top frame matters more than a differing
caller twenty frames down (the same weighting idea as ABRT/FAF's backtrace clustering, which uses
plain Levenshtein distance).  Two empty stacks score 1.0 when the titles are equal, else 0.0.
"""

from __future__ import annotations

from crashhub.model import Signature


def _weight(i: int) -> float:
    return 1.0 / (1.0 + i)


def similarity(a: Signature, b: Signature) -> float:
    """Similarity of two signatures' stacks, in [0, 1]; symmetric; 1.0 for identical stacks."""
    sa = a.stack or a.frames
    sb = b.stack or b.frames
    if not sa and not sb:
        return 1.0 if a.title == b.title else 0.0
    if not sa or not sb:
        return 0.0
    n, m = len(sa), len(sb)
    # Weighted edit distance (dynamic programming, O(n*m) on at most 16x16 frames).
    prev = [0.0] * (m + 1)
    for j in range(1, m + 1):
        prev[j] = prev[j - 1] + _weight(j - 1)
    for i in range(1, n + 1):
        cur = [prev[0] + _weight(i - 1)] + [0.0] * m
        for j in range(1, m + 1):
            w = _weight(min(i, j) - 1)
            cost = 0.0 if sa[i - 1] == sb[j - 1] else w
            cur[j] = min(prev[j] + _weight(i - 1), cur[j - 1] + _weight(j - 1), prev[j - 1] + cost)
        prev = cur
    total = sum(_weight(i) for i in range(max(n, m)))
    score = 1.0 - prev[m] / total
    return max(0.0, min(1.0, score))
