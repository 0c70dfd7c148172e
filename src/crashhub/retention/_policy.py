"""The retention policy as a pure function: dumps held + holds + settings in, evictions out.

Logs are never evicted.  Per bucket the first dump, the latest dump and the ``keep`` most recent
stay; the others go (reason ``count``).  When the blob store is still over its quota, the kept
dumps that are neither a bucket's first nor its latest go too, oldest first across buckets
(reason ``quota``), until it is not.  A held dump (pinned, in an open vendor bundle, under
analysis) is never evicted, for either reason; nor is a first or latest dump, so a quota that only
those exceed is reported as a shortfall instead of met.

"Oldest" is the hub's receiving time, not the crash time a host claims: a host cannot make its
dumps outlive others by dating them in the future.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from crashhub.store import DumpHolding

Reason = Literal["count", "quota"]
REASONS: dict[Reason, str] = {
    "count": "beyond the first, the latest and the keep_dumps_per_bucket most recent of its bucket",
    "quota": "among the oldest kept dumps while the blob store was over blob_quota_bytes",
}


@dataclass(frozen=True, slots=True)
class Policy:
    keep: int  # keep_dumps_per_bucket: most recent dumps kept per bucket (besides the first)
    quota: int  # blob_quota_bytes: 0 for none


@dataclass(frozen=True, slots=True)
class Decision:
    crash_id: str
    bucket_id: str
    digest: str
    size: int
    reason: Reason


@dataclass(frozen=True, slots=True)
class Plan:
    evict: tuple[Decision, ...]
    usage_before: int
    usage_after: int  # estimated: a blob shared with a dump that stays frees nothing
    shortfall: int  # bytes over the quota that only first, latest or held dumps fill

    def freed(self) -> int:
        return self.usage_before - self.usage_after


def plan(holdings: Sequence[DumpHolding], holds: Mapping[str, str], policy: Policy, *, usage: int) -> Plan:
    """What to evict of ``holdings`` (every stored dump) with ``usage`` bytes in the blob store."""
    if policy.keep < 0 or policy.quota < 0:
        raise ValueError("keep_dumps_per_bucket and blob_quota_bytes must be >= 0")
    by_bucket: dict[str, list[DumpHolding]] = defaultdict(list)
    for h in sorted(holdings, key=lambda h: (h.received_at, h.crash_id)):
        by_bucket[h.bucket_id].append(h)
    refs: dict[str, int] = defaultdict(int)
    for h in holdings:
        refs[h.dump.digest] += 1
    held = set(holds) | {h.crash_id for h in holdings if h.pinned}
    out: list[Decision] = []
    left = usage

    def evict(h: DumpHolding, reason: Reason) -> None:
        nonlocal left
        out.append(Decision(h.crash_id, h.bucket_id, h.dump.digest, h.dump.size, reason))
        refs[h.dump.digest] -= 1
        if refs[h.dump.digest] == 0:
            left -= h.dump.size

    spare: list[DumpHolding] = []  # kept by count, but neither first nor latest: the quota's
    for dumps in by_bucket.values():
        recent = {h.crash_id for h in dumps[-policy.keep :]} if policy.keep else set()
        for i, h in enumerate(dumps):
            core = i in (0, len(dumps) - 1)
            if core or h.crash_id in held:
                continue
            if h.crash_id in recent:
                spare.append(h)
            else:
                evict(h, "count")
    if policy.quota:
        for h in sorted(spare, key=lambda h: (h.received_at, h.crash_id)):
            if left <= policy.quota:
                break
            evict(h, "quota")
    shortfall = max(0, left - policy.quota) if policy.quota else 0
    return Plan(evict=tuple(out), usage_before=usage, usage_after=left, shortfall=shortfall)
