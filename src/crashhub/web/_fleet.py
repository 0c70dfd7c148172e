"""The fleet's kernels with their debuginfo: what the kernels page and ``GET /api/v1/kernels`` show.

A kernel is ready when the debuginfo store (``crashhub debuginfo import``) holds a vmlinux for it
(by the build-id of its dumps or host reports, else by release), or when ``vmlinux_dir`` has a
``vmlinux-<release>`` — the same two places the analysis job looks in (``jobs``' ``_debuginfo_for``).
A store vmlinux of the right release but another build-id is a mismatch: drgn would refuse it.
"""

# ruff: noqa: PLC0415 - the jobs package loads only when the kernels are listed

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from crashhub.model import JsonObject

if TYPE_CHECKING:
    from crashhub.debuginfo import DebuginfoStore, Entry
    from crashhub.store import KernelDumps, KernelRecord, Store

By = Literal["build-id", "release", "vmlinux_dir"]
State = Literal["ready", "mismatch", "missing"]
WAITING_LISTED = 20  # crash ids listed per kernel; the count is whole


@dataclass(frozen=True, slots=True)
class KernelReadiness:
    """One kernel of the fleet and whether the hub can analyse its dumps."""

    release: str
    crashes: int
    hosts: int
    crash_build_ids: tuple[str, ...]  # from its dumps and its hosts' reports
    state: State
    by: By | None  # how the vmlinux was found
    store_build_id: str | None  # the store's vmlinux (on a mismatch: the one of the same release)
    vmlinux: bool
    modules: int  # module debug files beside that vmlinux
    sources: bool  # a source tree under the store's sources/<release>
    dumps: int  # crashes whose dump is kept
    waiting: int  # of those, the ones no analysis has read with debuginfo yet
    waiting_ids: tuple[str, ...]  # the newest of them (WAITING_LISTED at most)

    def to_dict(self) -> JsonObject:
        return {
            "release": self.release, "crashes": self.crashes, "hosts": self.hosts,
            "build_ids": list(self.crash_build_ids), "state": self.state,
            "debuginfo": self.state == "ready", "by": self.by, "store_build_id": self.store_build_id,
            "mismatch": self.state == "mismatch", "vmlinux": self.vmlinux, "modules": self.modules,
            "sources": self.sources, "dumps": self.dumps, "waiting": self.waiting,
            "waiting_crashes": list(self.waiting_ids),
        }

    @classmethod
    def from_dict(cls, d: JsonObject) -> KernelReadiness:
        """The row ``to_dict`` gave (``debuginfo`` and ``mismatch`` are derived from ``state``)."""
        state = d.get("state")
        by = d.get("by")
        return cls(
            release=str(d["release"]), crashes=int(d.get("crashes") or 0), hosts=int(d.get("hosts") or 0),
            crash_build_ids=tuple(str(b) for b in d.get("build_ids") or ()),
            state=state if state in ("ready", "mismatch") else "missing",
            by=by if by in ("build-id", "release", "vmlinux_dir") else None,
            store_build_id=None if d.get("store_build_id") is None else str(d["store_build_id"]),
            vmlinux=bool(d.get("vmlinux")), modules=int(d.get("modules") or 0),
            sources=bool(d.get("sources")),
            dumps=int(d.get("dumps") or 0), waiting=int(d.get("waiting") or 0),
            waiting_ids=tuple(str(i) for i in d.get("waiting_crashes") or ()),
        )


@dataclass(frozen=True, slots=True)
class StoreIndex:
    """The debuginfo store's entries read once per page (a store lists them from disk each time)."""

    by_id: dict[str, Entry]
    by_release: dict[str, Entry]  # the newest import of each release, as the analysis picks it
    sources: frozenset[str]  # releases with a source tree

    @classmethod
    def of(cls, *stores: DebuginfoStore) -> StoreIndex:
        entries = [e for di in stores for e in di.list() if e.vmlinux.is_file()]
        newest = sorted((e for e in entries if e.release), key=lambda e: e.imported_at)
        dirs = [di.root / "sources" for di in stores]
        return cls({e.id: e for e in entries}, {e.release: e for e in newest if e.release},
                   frozenset(p.name for d in dirs if d.is_dir() for p in d.iterdir()))

    def find(self, release: str, bids: tuple[str, ...]) -> tuple[Entry | None, By | None]:
        for bid in bids:
            if (e := self.by_id.get(bid)) is not None:
                return e, "build-id"
        e = self.by_release.get(release)
        return e, "release" if e is not None else None


def readiness(k: KernelRecord, dumps: KernelDumps | None, store: StoreIndex,
              vmlinux_dir: str | None) -> KernelReadiness:
    from crashhub.jobs import find_vmlinux

    bids = tuple(sorted({*(b.lower() for b in k.build_ids), *(dumps.build_ids if dumps else ())}))
    entry, by = store.find(k.release, bids)
    state: State = "ready" if entry is not None else "missing"
    if entry is not None and by == "release" and bids and entry.id not in bids:
        state = "mismatch"  # the store's build of this release is not the one that crashed
    if state != "ready" and find_vmlinux(vmlinux_dir, k.release) is not None:
        state, by = "ready", "vmlinux_dir"
    waiting = dumps.waiting if dumps else ()
    return KernelReadiness(
        release=k.release, crashes=k.crashes, hosts=k.hosts, crash_build_ids=bids, state=state, by=by,
        store_build_id=entry.id if entry else None, vmlinux=state == "ready" or entry is not None,
        modules=len(entry.modules) if entry else 0, sources=k.release in store.sources,
        dumps=dumps.dumps if dumps else 0, waiting=len(waiting), waiting_ids=waiting[:WAITING_LISTED],
    )


def fleet_kernels(store: Store, di: DebuginfoStore, vmlinux_dir: str | None) -> list[KernelReadiness]:
    """Every kernel seen in crashes or host reports, most crashes first."""
    from crashhub.debuginfo import DebuginfoStore

    dumps = store.crashes.kernel_dumps()
    # vmlinux_dir may itself be laid out as a debuginfo store: the analysis reads it so too.
    extra = [DebuginfoStore(Path(vmlinux_dir))] if vmlinux_dir and Path(vmlinux_dir).is_dir() else []
    index = StoreIndex.of(di, *extra)
    kernels = sorted(store.hosts.list_kernels(), key=lambda k: (-k.crashes, k.release))
    return [readiness(k, dumps.get(k.release), index, vmlinux_dir) for k in kernels]


# --------------------------------------------------------------------------- a host's kdump check

Verdict = Literal["ok", "warn", "fail", "unknown"]
_VERDICTS: tuple[Verdict, ...] = ("ok", "warn", "fail", "unknown")


@dataclass(frozen=True, slots=True)
class KdumpReason:
    id: str  # the agent's check item ("service", "crashkernel", "space", ...)
    status: Verdict
    summary: str
    fix: str | None


@dataclass(frozen=True, slots=True)
class KdumpView:
    """A host's kdump check as its agent sent it (``agent``'s ``CheckResult.to_json``): the verdict,
    and the items that are not ok, worst first, with their fixes."""

    verdict: Verdict
    flavor: str | None
    reasons: tuple[KdumpReason, ...]
    checked: int  # items the agent checked


def _verdict(v: object) -> Verdict:
    return next((x for x in _VERDICTS if x == v), "unknown")


def kdump_check(j: JsonObject | None) -> KdumpView | None:
    """The check from a host report; None when the host sent none.  Text is kept as the agent wrote
    it (English, the words of its fix commands)."""
    if not j:
        return None
    raw = j.get("items")
    items = [i for i in raw if isinstance(i, dict)] if isinstance(raw, list) else []
    rank = {"fail": 0, "warn": 1, "unknown": 2, "ok": 3}
    reasons = sorted(
        (KdumpReason(str(i.get("id") or ""), _verdict(i.get("status")), str(i.get("summary") or ""),
                     str(i["fix"]) if i.get("fix") else None)
         for i in items if i.get("status") != "ok"),
        key=lambda r: rank[r.status],
    )
    flavor = j.get("flavor")
    return KdumpView(_verdict(j.get("verdict")), flavor if isinstance(flavor, str) else None,
                     tuple(reasons), len(items))
