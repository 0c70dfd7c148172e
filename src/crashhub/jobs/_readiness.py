"""The ``kernel-check`` job: run a kernel readiness check on a worker and store its report.

The API stored the uploaded packages as blobs and queued this job with their names and digests
(:class:`crashhub.readiness.CheckRequest`); here they are laid out under their own names (the runner
tells a deb from an RPM by the name) in a work directory of the hub's data disk, the check runs, and
its report is saved under its release, package digest and capture setup.  Idempotent: a re-run of
the same request replaces the same row.  The blobs are dropped by gc once the job has ended (they
are kept while it waits: the payload's ``blobs``).
"""

# ruff: noqa: PLC0415 - the runner loads only when a check runs

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from crashhub.model import JsonObject

if TYPE_CHECKING:
    from crashhub.readiness import CheckFile
    from crashhub.store import Hub

KIND = "kernel-check"
log = logging.getLogger("crashhub.readiness")


def _lay_out(hub: Hub, f: CheckFile, into: Path) -> Path:
    """The blob as ``into/<role>/<name>``: a hard link when the blob is on this disk, else a copy."""
    dst = into / f.role / f.name
    dst.parent.mkdir(parents=True, exist_ok=True)
    src = hub.blobs.local_path(f.digest)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)
    return dst


def kernel_check_job(hub: Hub, payload: JsonObject) -> JsonObject:
    from crashhub import readiness

    req = readiness.CheckRequest.from_dict(payload)
    root = hub.settings.data_dir / "kernel-check"
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="check-", dir=root) as tmp:
        work = Path(tmp)
        packages = [_lay_out(hub, f, work / "in") for f in req.of("package")]
        debuginfo = [_lay_out(hub, f, work / "in") for f in req.of("debuginfo")]
        makedumpfile = [_lay_out(hub, f, work / "in") for f in req.of("makedumpfile")]
        log.info("kernel check of %s started (asked by %s)", ", ".join(p.name for p in packages),
                 req.requested_by)
        report = readiness.check(
            packages, debuginfo=debuginfo[0] if debuginfo else None,
            makedumpfile=makedumpfile[0] if makedumpfile else None, core_collector=req.core_collector,
            crashkernel=req.crashkernel, kinds=req.kinds, work_dir=work / "run",
            progress=lambda line: log.info("kernel check: %s", line),
        )
    hub.store.readiness.save(readiness.record_of(report))
    log.info("kernel check of %s: %s", report.release, "ready" if report.ready else "not ready")
    return {"release": report.release, "ready": report.ready,
            "kinds": {k.kind: k.ok for k in report.kinds}, "advice": report.advice[:3]}
