"""The agent's words about its host and the hub's answers to the agent (docs/api.md)."""

from __future__ import annotations

from dataclasses import dataclass

from crashhub.model import JsonObject, _known, to_jsonable

# --------------------------------------------------------------------------- hosts


@dataclass(frozen=True, slots=True)
class HostInfo:
    """What the agent reads about its own host (``agent.hostinfo.host_info``)."""

    release: str | None = None
    build_id: str | None = None  # the running kernel's GNU build-id, hex
    machine: str | None = None
    hardware: str | None = None  # built as the kernel's "Hardware name:" line is
    version: str | None = None  # /proc/version
    agent_version: str | None = None

    def to_dict(self) -> JsonObject:
        d: JsonObject = to_jsonable(self)
        return d

    @classmethod
    def from_dict(cls, d: JsonObject) -> HostInfo:
        return cls(**{k: (None if v is None else str(v)) for k, v in _known(cls, d).items()})


_HOST_TEXT = ("release", "build_id", "hardware", "machine", "agent_version")


@dataclass(frozen=True, slots=True)
class HostReport:
    """The body of ``POST /api/v1/hosts/report``: what the agent tells the hub about its host
    before it crashes.  ``kdump`` is the agent's kdump check as JSON (``CheckResult.to_json``)."""

    host: str
    release: str | None = None
    build_id: str | None = None
    hardware: str | None = None
    machine: str | None = None
    agent_version: str | None = None
    kdump: JsonObject | None = None

    @classmethod
    def of(cls, host: str, info: HostInfo, kdump: JsonObject | None) -> HostReport:
        return cls(host=host, release=info.release, build_id=info.build_id, hardware=info.hardware,
                   machine=info.machine, agent_version=info.agent_version, kdump=kdump)

    def to_dict(self) -> JsonObject:
        d: JsonObject = to_jsonable(self)
        return d

    @classmethod
    def from_dict(cls, d: JsonObject) -> HostReport:
        """A report as received; ``ValueError`` naming the field when a value has the wrong type
        (the hub answers it as a 400).  Keys this version does not know are ignored."""
        if not isinstance(d.get("host"), str) or not d["host"]:
            raise ValueError("field 'host': a non-empty string is required")
        kd = d.get("kdump")
        if kd is not None and not isinstance(kd, dict):
            raise ValueError("field 'kdump': expected an object")
        for k in _HOST_TEXT:
            if d.get(k) is not None and not isinstance(d[k], str):
                raise ValueError(f"field {k!r}: expected a string or null")
        return cls(host=d["host"], kdump=kd, **{k: d.get(k) for k in _HOST_TEXT})


# --------------------------------------------------------------------------- agent <-> hub protocol
# What the agent acts on in the hub's answers (docs/api.md). The hub writes them with to_dict and
# the agent reads them with from_dict, so a field renamed on one side fails the other's tests.


def _count(v: object) -> int | None:
    """A byte count from JSON: a non-negative int, else None (bool is not a count)."""
    return v if isinstance(v, int) and not isinstance(v, bool) and v >= 0 else None


@dataclass(frozen=True, slots=True)
class UploadState:
    """Where a crash's resumable dump upload stands (``GET .../vmcore/upload``, every ``PUT``'s
    answer, and the extras of its 409): the hub holds ``offset`` bytes of ``size`` (None: no size
    announced yet); ``complete`` once the dump is attached to the crash."""

    offset: int = 0
    size: int | None = None
    complete: bool = False

    def to_dict(self) -> JsonObject:
        return {"offset": self.offset, "size": self.size, "complete": self.complete}

    @classmethod
    def from_dict(cls, d: JsonObject) -> UploadState:
        """As the agent reads an answer: a value of another type is not believed (offset 0, size
        unknown, not complete), so the agent re-asks or sends again rather than deleting a dump."""
        return cls(offset=_count(d.get("offset")) or 0, size=_count(d.get("size")),
                   complete=d.get("complete") is True)


@dataclass(frozen=True, slots=True)
class CrashAccepted:
    """The part of ``POST /api/v1/crashes``'s answer the agent acts on: the crash's id, whether it
    is new, whether the hub wants its dump and whether it holds one already."""

    id: str
    created: bool = False
    wants_vmcore: bool = False
    has_vmcore: bool = False

    def to_dict(self) -> JsonObject:
        return {"id": self.id, "created": self.created, "wants_vmcore": self.wants_vmcore,
                "has_vmcore": self.has_vmcore}

    @classmethod
    def from_dict(cls, d: JsonObject) -> CrashAccepted:
        """``ValueError`` without a crash id (nothing can be resumed against it)."""
        cid = d.get("id")
        if not isinstance(cid, str) or not cid:
            raise ValueError(f"answer without a crash id: {d!r}"[:300])
        return cls(id=cid, created=d.get("created") is True, wants_vmcore=d.get("wants_vmcore") is True,
                   has_vmcore=d.get("has_vmcore") is True)
