"""Memory state from the drgn ``memstate`` section: who held the memory at an OOM, and the page a
"Bad page state" report names.

Pure.  :func:`parse_memstate` types the section; :func:`oom_evidence` gives the lines
``check_oom`` adds; :func:`check_bad_page` the ``bad-page`` finding.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from crashhub.analyze._diag_fault import caller_outside_helpers
from crashhub.analyze._model import Analysis, Culprit, Finding
from crashhub.model import CrashReport


def _i(v: Any) -> int | None:
    return int(v) if isinstance(v, int) and not isinstance(v, bool) else None


@dataclass(frozen=True, slots=True)
class TaskMem:
    """A process by resident memory, with what the OOM killer weighs it by."""

    pid: int
    comm: str
    rss_kb: int
    anon_kb: int
    shmem_kb: int
    swap_kb: int
    pgtables_kb: int | None
    oom_score_adj: int | None
    memcg: str | None = None  # the memory cgroup's path and limit, when not the root's
    memcg_root: bool = False

    def text(self) -> str:
        adj = f", oom_score_adj {self.oom_score_adj}" if self.oom_score_adj is not None else ""
        pt = f", page tables {self.pgtables_kb} KiB" if self.pgtables_kb else ""
        cg = f", memcg {self.memcg}" if self.memcg else ", root memcg (no limit)" if self.memcg_root else ""
        return (f"{self.comm}:{self.pid} RSS {self.rss_kb // 1024} MiB (anon {self.anon_kb // 1024} MiB, "
                f"shmem {self.shmem_kb // 1024} MiB, swap {self.swap_kb // 1024} MiB{pt}{adj}{cg})")


@dataclass(frozen=True, slots=True)
class SlabUse:
    name: str
    kb: int
    object_size: int | None


@dataclass(frozen=True, slots=True)
class BadPage:
    """The page of a "Bad page state" report as the dump holds it."""

    address: int
    pfn: int | None
    flags: int | None
    flags_decoded: str | None
    mapcount: int | None
    refcount: int | None
    mapping: int | None
    log_line: str | None
    reason: str | None


@dataclass(frozen=True, slots=True)
class MemState:
    top_tasks: tuple[TaskMem, ...] = ()
    top_slabs: tuple[SlabUse, ...] = ()
    shmem_pages: int | None = None
    pagetable_pages: int | None = None
    kernel_stack_kb: int | None = None
    bad_page: BadPage | None = None


def _memcg(d: Any) -> str | None:
    if not isinstance(d, dict) or not d.get("path"):
        return None
    limit = _i(d.get("limit_kb"))
    lim = f"limit {limit // 1024} MiB" if limit is not None else "no limit"
    return f"{d['path']} ({lim}, usage {(_i(d.get('usage_kb')) or 0) // 1024} MiB)"


def _task(d: Any) -> TaskMem | None:
    if not isinstance(d, dict) or _i(d.get("pid")) is None:
        return None
    return TaskMem(int(d["pid"]), str(d.get("comm") or "?"), _i(d.get("rss_kb")) or 0,
                   _i(d.get("anon_kb")) or 0, _i(d.get("shmem_kb")) or 0, _i(d.get("swap_kb")) or 0,
                   _i(d.get("pgtables_kb")),
                   _i(d.get("oom_score_adj")), _memcg(d.get("memcg")), "memcg" in d and d["memcg"] is None)


def _page(d: Any) -> BadPage | None:
    if not isinstance(d, dict) or _i(d.get("address")) is None:
        return None
    fd = d.get("flags_decoded")
    return BadPage(int(d["address"]), _i(d.get("pfn")), _i(d.get("flags")),
                   fd if isinstance(fd, str) else None, _i(d.get("mapcount")), _i(d.get("refcount")),
                   _i(d.get("mapping")), str(d["log_line"]) if d.get("log_line") else None,
                   str(d["reason"]) if d.get("reason") else None)


def parse_memstate(raw: Any) -> MemState:
    """The ``memstate`` section typed; empty when the engine gave none."""
    if not isinstance(raw, dict):
        return MemState()
    pages: dict[str, Any] = raw["pages"] if isinstance(raw.get("pages"), dict) else {}
    slabs = tuple(SlabUse(str(s["name"]), _i(s.get("kb")) or 0, _i(s.get("object_size")))
                  for s in raw.get("top_slabs") or () if isinstance(s, dict) and s.get("name"))
    return MemState(top_tasks=tuple(t for t in map(_task, raw.get("top_tasks") or ()) if t),
                    top_slabs=slabs, shmem_pages=_i(pages.get("shmem")),
                    pagetable_pages=_i(pages.get("pagetables")),
                    kernel_stack_kb=_i(pages.get("kernel_stack_kb")),
                    bad_page=_page(raw.get("bad_page")))


def memstate_of(a: Analysis) -> MemState:
    drgn = a.engines.get("drgn")
    return parse_memstate(drgn.section("memstate") if drgn else None)


def oom_evidence(ms: MemState, page_kb: int = 4) -> list[str]:
    """What held the memory: processes by RSS, slab caches by size, shmem, page tables, stacks."""
    ev = []
    if ms.top_tasks:
        ev.append("processes by RSS: " + "; ".join(t.text() for t in ms.top_tasks[:5]))
    if ms.top_slabs:
        ev.append("slab caches by size: " + ", ".join(f"{s.name} {s.kb} KiB" for s in ms.top_slabs[:6]))
    kernel = []
    if ms.shmem_pages is not None:
        kernel.append(f"shmem {ms.shmem_pages * page_kb} KiB")
    if ms.pagetable_pages is not None:
        kernel.append(f"page tables {ms.pagetable_pages * page_kb} KiB")
    if ms.kernel_stack_kb is not None:
        kernel.append(f"kernel stacks {ms.kernel_stack_kb} KiB")
    if kernel:
        ev.append(", ".join(kernel))
    return ev


def check_bad_page(a: Analysis, reports: Sequence[CrashReport] | None = None) -> list[Finding]:
    """The ``bad-page`` finding: the page the report names, its state in the dump, and who freed it
    (the first frame outside mm/ and the report and panic path; the log's Call Trace names it
    when the unwinder stops in a module without debuginfo).  ``reports``: triage's, of ``a.log``."""
    bp = memstate_of(a).bad_page
    if bp is None:
        return []
    if reports is None:
        from crashhub.triage import parse  # noqa: PLC0415

        reports = parse((a.log or "").encode())
    report = next((r for r in reports if r.kind == "bad_page"), None)
    caller = caller_outside_helpers(a.stack, report)
    pfn = f"pfn {bp.pfn:#x}" if bp.pfn is not None else f"page {bp.address:#x}"
    why = f" ({bp.reason})" if bp.reason else ""
    claim = f"bad page state: {pfn}{why}"
    if caller:
        claim += f", freed by {caller}()"
    state = "its struct page is not readable in the dump"
    if bp.flags is not None and bp.mapping is not None:
        names = bp.flags_decoded if bp.flags_decoded not in (None, "", "0") else "no flag bits set"
        state = (f"flags {bp.flags:#x} [{names}], mapcount {bp.mapcount}, "
                 f"refcount {bp.refcount}, mapping {bp.mapping:#x}")
    claim += f"; in the dump: {state}"
    ev = [f"struct page {bp.address:#x}: {state}"]
    if bp.log_line:
        ev.insert(0, f"the log: {bp.log_line}")
        if bp.mapcount is not None and f"mapcount:{bp.mapcount} " not in bp.log_line:
            ev.append("the dump's mapcount differs from the log's: bad_page() resets it "
                      "(page_mapcount_reset) before it taints and panics")
    pt = a.panic_task
    cmd = ("from drgn.helpers.linux.mm import decode_page_flags; "
           f"p = Object(prog, 'struct page *', {bp.address:#x}); "
           "print(decode_page_flags(p), p._mapcount, p._refcount, p.mapping)")
    return [Finding("bad-page", "critical", claim, "", tuple(ev), command=cmd,
                    culprit=Culprit(function=caller, cpu=pt.cpu if pt else None, pid=pt.pid if pt else None,
                                    comm=pt.comm if pt else None))]
