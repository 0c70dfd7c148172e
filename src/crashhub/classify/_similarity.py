"""How alike two crashes are, by their stacks: a number in [0, 1].

For "is this new bucket the same bug as that one?" suggestions, not for bucketing (the key
decides that).  The score is 1 minus the normalised edit distance between the two normalised
stacks (``Signature.stack``, or the key frames when a signature has no stack), where an edit at
stack depth ``i`` costs ``1 / (1 + i)``: a differing top frame matters more than a differing
caller twenty frames down (the same weighting idea as ABRT/FAF's backtrace clustering, which uses
plain Levenshtein distance).  Two empty stacks score 1.0 when the titles are equal, else 0.0.

``likeness`` compares two *buckets* (their ``Profile``: a newest crash's signature), for "similar
buckets" on a bucket's page: the same bug on two kernels gets two keys when inlining or a renamed
helper changes a key frame, and must still rank first.  Function names are folded across kernel
versions (``fold``), the stacks of kinds whose stack is a random victim's are left out, and the
guilty function, stack, title and kind agreements are weighed together (``WEIGHTS``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from crashhub.classify._signature import VICTIM_KINDS
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


# --------------------------------------------------------------------------- buckets across kernels

# One function under the names different kernel versions give it, folded to one spelling, so the
# same bug on two kernels compares equal where only the name moved.
_RENAMED = {
    "_do_fork": "kernel_clone",  # v5.10, "fork: introduce kernel_clone()"
    "do_page_fault": "exc_page_fault",  # v5.8, x86's page fault entry converted to IDTENTRY_RAW
    "page_fault": "asm_exc_page_fault",  # v5.8, the same change's assembly entry
}
# v6.10's memory allocation profiling made the allocators macros around foo_noprof(): 6.10+ stacks
# show kmalloc_noprof, vma_alloc_folio_noprof... where older ones show kmalloc, vma_alloc_folio.
_SUFFIXES = ("_noprof",)
# Weights of the parts of a likeness, a part missing on either side left out.  The guilty function
# names a bug more than anything else (the key starts there, syzkaller titles by it); the stack
# confirms the path into it; the title's head says what failed; the kind is coarse.
WEIGHTS = {"guilty": 0.35, "stack": 0.35, "title": 0.2, "kind": 0.1}


def fold(function: str) -> str:
    """A function's name with the spelling differences of kernel versions folded away."""
    for suffix in _SUFFIXES:
        function = function.removesuffix(suffix)
    return _RENAMED.get(function, function)


@dataclass(frozen=True, slots=True)
class Profile:
    """What a bucket looks like to a comparison across kernels (from its newest crash's signature)."""

    bucket: str
    kind: str
    title: str  # normalised
    guilty: str | None = None  # folded
    module: str | None = None
    stack: tuple[str, ...] = ()  # folded; empty for kinds whose stack is a victim's
    release: str | None = None


def profile(bucket: str, sig: Signature, *, module: str | None = None, release: str | None = None) -> Profile:
    """A bucket's profile from a signature of one of its crashes."""
    kind = sig.kind or ""
    stack = () if kind in VICTIM_KINDS else tuple(fold(f) for f in sig.stack)
    return Profile(bucket, kind, sig.title, fold(sig.guilty) if sig.guilty else None, module, stack, release)


@dataclass(frozen=True, slots=True)
class Likeness:
    """How alike two buckets are (``score`` in [0, 1]) and why: each part in [0, 1], None when a
    side lacks it."""

    score: float
    guilty: float | None
    stack: float | None
    title: float
    kind: float

    def to_dict(self) -> dict[str, float | None]:
        return {"score": round(self.score, 4), "guilty": self.guilty, "stack": _round(self.stack),
                "title": round(self.title, 4), "kind": self.kind}

    @classmethod
    def from_dict(cls, d: Mapping[str, float | None]) -> Likeness:
        """The parts of :meth:`to_dict` (rounded there to 4 places)."""
        def num(k: str) -> float:
            v = d.get(k)
            return 0.0 if v is None else float(v)

        def opt(k: str) -> float | None:
            v = d.get(k)
            return None if v is None else float(v)

        return cls(num("score"), opt("guilty"), opt("stack"), num("title"), num("kind"))


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def _head_words(title: str) -> set[str]:
    """The words of a title before its " in GUILTY" (the guilty part is compared on its own)."""
    return set(title.rsplit(" in ", 1)[0].lower().replace(":", " ").split())


def likeness(a: Profile, b: Profile) -> Likeness:
    guilty = None
    if a.guilty and b.guilty:
        guilty = 1.0 if (a.guilty, a.module) == (b.guilty, b.module) else 0.5 if a.guilty == b.guilty else 0.0
    elif a.guilty or b.guilty:
        # A bug in a function against a report that names none (an NMI that found every CPU idle
        # against one that found a CPU spinning): two things, not one with a part missing.
        guilty = 0.0
    stack = None
    if a.stack and b.stack:
        stack = similarity(Signature("", "", a.title, stack=a.stack),
                           Signature("", "", b.title, stack=b.stack))
    wa, wb = _head_words(a.title), _head_words(b.title)
    title = len(wa & wb) / len(wa | wb) if wa | wb else 1.0
    kind = 1.0 if a.kind == b.kind else 0.0
    parts = {"guilty": guilty, "stack": stack, "title": title, "kind": kind}
    weight = sum(WEIGHTS[k] for k, v in parts.items() if v is not None)
    score = sum(WEIGHTS[k] * v for k, v in parts.items() if v is not None) / weight
    return Likeness(score, guilty, stack, title, kind)


# Below this, a bucket shares little more than a call path with another (another bug in the same
# caller scores about 0.37: same stack, another guilty function, title and kind), while the same bug
# under a renamed guilty function still scores 0.65 (stack, title and kind agree).
FLOOR = 0.5


def rank(
    me: Profile, others: Iterable[Profile], *, limit: int = 10, floor: float = FLOOR
) -> list[tuple[Profile, Likeness]]:
    """The other buckets most like ``me``, best first (ties: bucket id), none below ``floor``."""
    scored = [(o, likeness(me, o)) for o in others if o.bucket != me.bucket]
    scored = [x for x in scored if x[1].score >= floor]
    scored.sort(key=lambda x: (-x[1].score, x[0].bucket))
    return scored[:limit]
