"""The store's records of retention: a dump evicted, a dump still held, a crash deleted.

Kept apart from ``crashhub.store._base`` (which re-exports them) so that module stays a readable size.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from crashhub.store._base import FileRecord


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class EvictedDump:
    """A dump retention removed: its file's facts stay on the crash, with why and when."""

    name: str
    digest: str
    size: int
    reason: str  # "count" | "quota" (crashhub.retention._policy.REASONS)
    at: float
    actor: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "sha256": self.digest,
            "size": self.size,
            "reason": self.reason,
            "at": _iso(self.at),
            "actor": self.actor,
        }

    def to_row(self) -> dict[str, Any]:
        """The JSON the store keeps (``at`` in seconds since the epoch)."""
        return self.to_dict() | {"at": self.at}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> EvictedDump:
        """The record of :meth:`to_dict` (``at`` as ISO 8601) or of :meth:`to_row` (seconds)."""
        at = d.get("at", 0.0)
        if isinstance(at, str):
            at = datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp()
        return cls.from_row({**d, "at": at})

    @staticmethod
    def from_row(d: dict[str, Any]) -> EvictedDump:
        return EvictedDump(
            name=str(d.get("name", "vmcore")),
            digest=str(d.get("sha256", "")),
            size=int(d.get("size", 0)),
            reason=str(d.get("reason", "")),
            at=float(d.get("at", 0.0)),
            actor=str(d.get("actor", "")),
        )


@dataclass(frozen=True, slots=True)
class DumpHolding:
    """A crash whose dump is still in the blob store: what the retention policy decides on."""

    crash_id: str
    bucket_id: str
    host: str
    received_at: float
    dump: FileRecord
    pinned: bool


@dataclass(frozen=True, slots=True)
class DeletedCrash:
    """A crash removed by an admin: the files whose blobs may now be unreferenced."""

    crash_id: str
    host: str
    bucket_id: str
    files: tuple[FileRecord, ...]
