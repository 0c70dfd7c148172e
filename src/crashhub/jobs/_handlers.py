"""The hub's job kinds: ``analyze`` (deep analysis of a crash's dump), ``kb-apply`` (re-match
buckets) and ``rekey`` (regroup the buckets under the current signature algorithm, ``jobs.rekey``).

All are idempotent: an analysis result replaces the crash's previous one, re-applying the knowledge
base recomputes every bucket's matches from scratch, and a re-key of buckets already keyed by the
current algorithm plans nothing.
"""

# ruff: noqa: PLC0415 - imports inside functions are deliberate: each command and stage loads
# only what it uses (the host agent installs without the hub's web and database stack).

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import TYPE_CHECKING

from crashhub.errors import CrashhubError
from crashhub.model import CrashReport, JsonObject

if TYPE_CHECKING:
    from crashhub.jobs._base import Queue
    from crashhub.knowledge import KnowledgeBase
    from crashhub.store import Hub


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


def analyze_job(hub: Hub, payload: JsonObject) -> JsonObject:
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
        return result
    vmlinux = find_vmlinux(hub.settings.vmlinux_dir, crash.release)
    # Without a vmlinux-<release> file, the debuginfo store (`crashhub debuginfo import`) answers by
    # build-id, else release; a vmlinux_dir laid out as such a store works too.
    store_dir = hub.settings.data_dir / "debuginfo"
    if vmlinux is None and not store_dir.is_dir() and hub.settings.vmlinux_dir:
        store_dir = Path(hub.settings.vmlinux_dir)
    # Triage's word, as the crash was bucketed and titled by it: analyze does not read the log again.
    # Only the primary report is stored (``CrashRecord.report``); none when triage found no report.
    reports = () if crash.report is None else (CrashReport.from_dict(crash.report),)
    try:
        out = analyze(
            hub.blobs.local_path(dump.digest),
            reports=reports,
            vmlinux=vmlinux,
            debuginfo_dir=store_dir if vmlinux is None and store_dir.is_dir() else None,
            timeout=float(payload.get("timeout") or hub.settings.analyze_timeout),
        )
        record = AnalysisRecord("done", result=out)
    except CrashhubError as e:
        record = AnalysisRecord("failed", error=f"{type(e).__name__}: {e}")
    record = dataclasses.replace(record, started=started, seconds=round(time.time() - started, 3),
                                 vmlinux=str(vmlinux) if vmlinux else None)
    result = record.to_dict()
    hub.store.crashes.set_crash_analysis(crash_id, result)
    return {k: v for k, v in result.items() if k != "result"}


def register(queue: Queue, hub: Hub, kb: KnowledgeBase) -> None:
    queue.register("analyze", lambda p: analyze_job(hub, p))
    # Re-matching every bucket: the API does it in the request (the answer shows the change); a large
    # store or another node can queue it instead.
    queue.register("kb-apply", lambda p: {"changed": kb.reapply(hub.store)})
    from crashhub.jobs import _rekey as rekey

    queue.register(rekey.KIND, lambda p: rekey.rekey_job(hub.store, hub.blobs, p))
