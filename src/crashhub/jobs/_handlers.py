"""The hub's job kinds: ``analyze`` (deep analysis of a crash's dump), ``kb-apply`` (re-match
buckets), ``rekey`` (regroup the buckets under the current signature algorithm, ``jobs.rekey``) and
``kernel-check`` (a kernel readiness check, ``jobs._readiness``).

All are idempotent: an analysis result replaces the crash's previous one, re-applying the knowledge
base recomputes every bucket's matches from scratch, and a re-key of buckets already keyed by the
current algorithm plans nothing.
"""

# ruff: noqa: PLC0415 - imports inside functions are deliberate: each command and stage loads
# only what it uses (the host agent installs without the hub's web and database stack).

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING

from crashhub.errors import CrashhubError
from crashhub.model import CrashReport, JsonObject

if TYPE_CHECKING:
    from crashhub.jobs._base import Queue
    from crashhub.knowledge import KnowledgeBase
    from crashhub.store import Hub

log = logging.getLogger("crashhub.analyze")


def find_vmlinux(vmlinux_dir: str | None, release: str | None) -> Path | None:
    """``vmlinux-<release>`` (as Debian's -dbg packages name it) in the configured directory, if there."""
    if not vmlinux_dir or not release:
        return None
    base = Path(vmlinux_dir)
    for cand in (
        base / f"vmlinux-{release}",
        base / release / "vmlinux",
        base / "usr/lib/debug/boot" / f"vmlinux-{release}",
        base / "usr/lib/debug/lib/modules" / release / "vmlinux",
        base / release / "usr/lib/debug/boot" / f"vmlinux-{release}",  # one extracted -dbg tree per release
    ):
        if cand.is_file():
            return cand
    return None


def _debuginfo_for(hub: Hub, release: str | None) -> tuple[Path | None, Path | None]:
    """The vmlinux (``vmlinux_dir``'s ``vmlinux-<release>``) or else the debuginfo store to analyse with."""
    vmlinux = find_vmlinux(hub.settings.vmlinux_dir, release)
    # Without a vmlinux-<release> file, the debuginfo store (`crashhub debuginfo import`) answers by
    # build-id, else release; a vmlinux_dir laid out as such a store works too.
    store_dir = hub.settings.data_dir / "debuginfo"
    if vmlinux is None and not store_dir.is_dir() and hub.settings.vmlinux_dir:
        store_dir = Path(hub.settings.vmlinux_dir)
    return vmlinux, store_dir if vmlinux is None and store_dir.is_dir() else None


def analyze_job(hub: Hub, payload: JsonObject, queue: Queue | None = None) -> JsonObject:
    """Fast first: drgn's analysis (with its diagnosis) is stored as soon as it exists; crash, several
    times slower, follows as the ``analyze-crash`` job on ``queue`` (setting ``analyze_crash``)."""
    crash_id = str(payload["crash_id"])
    crash = hub.store.crashes.get_crash(crash_id)
    if crash is None:
        return {"status": "skipped", "reason": f"no crash {crash_id}"}
    dump = next((f for f in crash.files if f.role == "vmcore"), None)
    if dump is None:
        return {"status": "skipped", "reason": "the crash has no dump"}
    started = time.time()
    try:
        from crashhub.analyze import AnalysisRecord, analyze  # type: ignore[attr-defined,unused-ignore]
    except ImportError as e:
        result: JsonObject = {"status": "engine unavailable", "error": str(e)}
        hub.store.crashes.set_crash_analysis(crash_id, result)
        log.warning("analysis of crash %s: engine unavailable: %s", crash_id, e)
        return result
    vmlinux, store_dir = _debuginfo_for(hub, crash.release)
    log.info("analysis of crash %s: drgn started (kernel %s, debuginfo %s)", crash_id, crash.release,
             vmlinux or store_dir or "none")
    # Triage's word, as the crash was bucketed and titled by it: analyze does not read the log again.
    # Only the primary report is stored (``CrashRecord.report``); none when triage found no report.
    reports = () if crash.report is None else (CrashReport.from_dict(crash.report),)
    try:
        out = analyze(
            hub.blobs.local_path(dump.digest),
            reports=reports,
            vmlinux=vmlinux,
            debuginfo_dir=store_dir,
            engines=("drgn",),
            timeout=float(payload.get("timeout") or hub.settings.analyze_timeout),
        )
        record = AnalysisRecord("done", result=out)
    except CrashhubError as e:
        record = AnalysisRecord("failed", error=f"{type(e).__name__}: {e}")
    record = dataclasses.replace(record, started=started, seconds=round(time.time() - started, 3),
                                 vmlinux=str(vmlinux) if vmlinux else None)
    result = record.to_dict()
    hub.store.crashes.set_crash_analysis(crash_id, result)
    log.info("analysis of crash %s: drgn %s in %.1f s%s", crash_id, record.status, record.seconds or 0.0,
             f": {record.error}" if record.error else "")
    summary = {k: v for k, v in result.items() if k != "result"}
    # crash needs the vmlinux drgn had; without it the second job could only fail.
    if (queue is not None and hub.settings.analyze_crash and record.result is not None
            and record.result.debuginfo.get("ok")):
        summary["crash_job"] = queue.submit(CRASH_JOB, {"crash_id": crash_id},
                                            key=f"{CRASH_JOB}:{crash_id}:{started:.3f}")
    return summary


CRASH_JOB = "analyze-crash"


def analyze_crash_job(hub: Hub, payload: JsonObject) -> JsonObject:
    """The second half of an analysis: crash run on the dump, merged into the stored drgn analysis."""
    crash_id = str(payload["crash_id"])
    crash = hub.store.crashes.get_crash(crash_id)
    dump = next((f for f in crash.files if f.role == "vmcore"), None) if crash is not None else None
    if crash is None or dump is None:
        return {"status": "skipped", "reason": f"no crash {crash_id} with a dump"}
    from crashhub.analyze import AnalysisRecord, add_crash  # type: ignore[attr-defined,unused-ignore]

    prior = AnalysisRecord.from_dict(crash.analysis or {})
    if prior.status != "done" or prior.result is None:
        return {"status": "skipped", "reason": f"no drgn analysis to add crash to ({prior.status or 'none'})"}
    started = time.time()
    vmlinux, store_dir = _debuginfo_for(hub, crash.release)
    reports = () if crash.report is None else (CrashReport.from_dict(crash.report),)
    log.info("analysis of crash %s: crash started", crash_id)
    try:
        out = add_crash(prior.result, hub.blobs.local_path(dump.digest), reports=reports, vmlinux=vmlinux,
                        debuginfo_dir=store_dir,
                        timeout=float(payload.get("timeout") or hub.settings.analyze_timeout))
    except CrashhubError as e:
        log.info("analysis of crash %s: crash failed in %.1f s: %s", crash_id, time.time() - started, e)
        return {"status": "failed", "error": f"{type(e).__name__}: {e}"}
    # The record keeps when the analysis started; its seconds now count both jobs' work.
    record = dataclasses.replace(prior, result=out,
                                 seconds=round((prior.seconds or 0.0) + time.time() - started, 3))
    hub.store.crashes.set_crash_analysis(crash_id, record.to_dict())
    crash_run = out.engines.get("crash")
    log.info("analysis of crash %s: crash done in %.1f s%s", crash_id, time.time() - started,
             "" if crash_run and crash_run.ok else " (crash itself did not run through)")
    return {"status": "done", "crash_ok": bool(crash_run and crash_run.ok), "seconds": record.seconds}


def register(queue: Queue, hub: Hub, kb: KnowledgeBase) -> None:
    queue.register("analyze", lambda p: analyze_job(hub, p, queue))
    queue.register(CRASH_JOB, lambda p: analyze_crash_job(hub, p))
    # Re-matching every bucket: the API does it in the request (the answer shows the change); a large
    # store or another node can queue it instead.
    queue.register("kb-apply", lambda p: {"changed": kb.reapply(hub.store)})
    from crashhub.jobs import _rekey as rekey

    queue.register(rekey.KIND, lambda p: rekey.rekey_job(hub.store, hub.blobs, p))
    from crashhub.jobs import _readiness as readiness

    queue.register(readiness.KIND, lambda p: readiness.kernel_check_job(hub, p))
