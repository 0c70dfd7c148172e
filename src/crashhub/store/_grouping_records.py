"""The store's records of versioned grouping: key aliases, the re-key ledger, what a re-key reads.

The rules themselves are ``crashhub.classify._rules.GroupingRule`` (a pure model: ingest, the
re-key plan and the API share it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from crashhub.classify import BucketInfo, GroupingRule


@dataclass(frozen=True, slots=True)
class BucketAlias:
    """An (algorithm, key) and the bucket it sends crashes to: the bucket's own key, or one it
    took over (from a re-key, or before a merge)."""

    algorithm: str
    key: str
    bucket_id: str
    created_at: float
    origin: str  # "ingest" | "rekey" | "migration"

    def to_dict(self) -> dict[str, Any]:
        return {"algorithm": self.algorithm, "key": self.key, "bucket": self.bucket_id,
                "created_at": self.created_at, "origin": self.origin}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BucketAlias:
        return cls(str(d["algorithm"]), str(d["key"]), str(d["bucket"]), float(d["created_at"]),
                   str(d["origin"]))


@dataclass(frozen=True, slots=True)
class RekeyEntry:
    """One row of the re-key ledger: crashes that went from an old key and bucket to a new one."""

    run: str
    at: float
    from_algorithm: str
    to_algorithm: str
    old_key: str
    new_key: str
    old_bucket: str
    new_bucket: str
    crashes: int
    change: str  # "same" | "rename" | "merge" | "split" | "regroup" (crashhub.classify._rekey.Change)
    rule: str | None = None  # the rule that sent them, if one did

    def to_dict(self) -> dict[str, Any]:
        return {
            "run": self.run, "at": self.at, "from_algorithm": self.from_algorithm,
            "to_algorithm": self.to_algorithm, "old_key": self.old_key, "new_key": self.new_key,
            "old_bucket": self.old_bucket, "new_bucket": self.new_bucket, "crashes": self.crashes,
            "change": self.change, "rule": self.rule,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RekeyEntry:
        return cls(
            str(d["run"]), float(d["at"]), str(d["from_algorithm"]), str(d["to_algorithm"]),
            str(d["old_key"]), str(d["new_key"]), str(d["old_bucket"]), str(d["new_bucket"]),
            int(d["crashes"]), str(d["change"]), None if d.get("rule") is None else str(d["rule"]),
        )


@dataclass(frozen=True, slots=True)
class RekeyCrash:
    """A stored crash with what a re-key needs to compute its new key and test rules on it."""

    id: str
    bucket_id: str
    algorithm: str
    key: str
    title: str
    host: str
    release: str | None
    hardware: str | None
    report: dict[str, Any] | None
    seen: float  # crash time, else when it was received
    log_digest: str | None  # the kernel log's blob (None: only the stored report is left)


@dataclass(frozen=True, slots=True)
class RekeyState:
    """The buckets, live rules and key aliases a re-key plans against."""

    buckets: dict[str, BucketInfo] = field(default_factory=dict)
    rules: tuple[GroupingRule, ...] = ()
    aliases: dict[tuple[str, str], str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RekeyOutcome:
    """What applying a re-key plan did."""

    run: str
    algorithm: str
    crashes: int = 0  # crashes looked at
    rekeyed: int = 0  # crashes whose key changed
    moved: int = 0  # crashes that changed bucket
    new_buckets: int = 0
    retired: int = 0  # buckets that became aliases
    rules_carried: int = 0
    flows: int = 0  # ledger rows written

    def to_dict(self) -> dict[str, Any]:
        return {
            "run": self.run, "algorithm": self.algorithm, "crashes": self.crashes,
            "rekeyed": self.rekeyed, "moved": self.moved, "new_buckets": self.new_buckets,
            "retired": self.retired, "rules_carried": self.rules_carried, "flows": self.flows,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RekeyOutcome:
        ints = ("crashes", "rekeyed", "moved", "new_buckets", "retired", "rules_carried", "flows")
        return cls(str(d["run"]), str(d["algorithm"]), *(int(d.get(k) or 0) for k in ints))
