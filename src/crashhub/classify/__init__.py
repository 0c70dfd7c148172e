"""Classify: signatures (bucket keys under versioned algorithm ids), stack similarity, grouping
rules (``rules``) and the re-key plan (``rekey``)."""

from __future__ import annotations

from crashhub._face import face
from crashhub.classify._signature import ALGORITHM, ALGORITHMS, signature
from crashhub.kernel import SKIP, SKIP_GROUPS

__all__ = ["ALGORITHM", "ALGORITHMS", "SKIP", "SKIP_GROUPS", "signature", "similarity"]


# The public face (as httpx does): the names other parts use, loaded on first use so that importing
# crashhub.classify stays cheap and free of import cycles; the modules behind it are private (_x).
TYPE_CHECKING = False  # not typing's: importing typing is not free on the CLI's fast paths
if TYPE_CHECKING:
    from crashhub.classify._rekey import BucketInfo as BucketInfo
    from crashhub.classify._rekey import CrashKey as CrashKey
    from crashhub.classify._rekey import Plan as Plan
    from crashhub.classify._rekey import plan as plan
    from crashhub.classify._rules import FIELDS as FIELDS
    from crashhub.classify._rules import Condition as Condition
    from crashhub.classify._rules import GroupingRule as GroupingRule
    from crashhub.classify._rules import Subject as Subject
    from crashhub.classify._rules import check as check
    from crashhub.classify._rules import split_rule as split_rule
    from crashhub.classify._rules import subject_of as subject_of
    from crashhub.classify._similarity import FLOOR as FLOOR
    from crashhub.classify._similarity import Likeness as Likeness
    from crashhub.classify._similarity import Profile as Profile
    from crashhub.classify._similarity import profile as profile
    from crashhub.classify._similarity import rank as rank
    from crashhub.classify._similarity import similarity as similarity

_FACE: dict[str, str] = {
    "BucketInfo": "crashhub.classify._rekey",
    "Condition": "crashhub.classify._rules",
    "CrashKey": "crashhub.classify._rekey",
    "FIELDS": "crashhub.classify._rules",
    "FLOOR": "crashhub.classify._similarity",
    "GroupingRule": "crashhub.classify._rules",
    "Likeness": "crashhub.classify._similarity",
    "Plan": "crashhub.classify._rekey",
    "Profile": "crashhub.classify._similarity",
    "Subject": "crashhub.classify._rules",
    "check": "crashhub.classify._rules",
    "plan": "crashhub.classify._rekey",
    "profile": "crashhub.classify._similarity",
    "rank": "crashhub.classify._similarity",
    "similarity": "crashhub.classify._similarity",
    "split_rule": "crashhub.classify._rules",
    "subject_of": "crashhub.classify._rules",
}
__all__ += [
    "FIELDS",
    "FLOOR",
    "BucketInfo",
    "Condition",
    "CrashKey",
    "GroupingRule",
    "Likeness",
    "Plan",
    "Profile",
    "Subject",
    "check",
    "plan",
    "profile",
    "rank",
    "split_rule",
    "subject_of",
]


__getattr__ = face(globals(), _FACE)
