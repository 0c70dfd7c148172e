"""Ingest one crash directory, killed with SIGKILL at a named point (the fault-injection child).

``python -m tests.security.ingest_child DATA CRASH_DIR POINT [DATABASE_URL]``: POINT is one of ``POINTS``
or ``UPLOAD_POINTS`` (or ``none``, ``upload:none``).  An ``upload:`` point stores the directory's log
first, then sends its dump as a resumable upload (continuing one an earlier run left) and dies in
that upload's last steps.  The kill points are set from outside the code under test, by wrapping
the function a step calls, so the pipeline runs exactly as in production up to the instant it dies.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

from sqlalchemy.engine.default import DefaultDialect

from crashhub import config, dump
from crashhub.ingest import Pipeline, Uploads, ingest_path
from crashhub.ingest import _uploads as uploads
from crashhub.store import LocalBlobStore
from crashhub.store._sql_store import SqlCrashes
from crashhub.web import build_context

STORE = (SqlCrashes, "add_crash")
# name -> (owner of the function, its name, "before" or "after" it runs, only inside this call)
POINTS: dict[str, tuple[Any, str, str, tuple[Any, str] | None]] = {
    "detect": (dump, "detect", "before", None),  # nothing done yet
    "reassemble": (dump, "reassemble", "after", None),  # a rebuilt flat dump in the temp area
    "facts": (dump, "facts", "after", None),
    "dump-blob": (LocalBlobStore, "adopt", "after", None),  # the dump is a blob, no record refers to it
    "log-blob": (LocalBlobStore, "put_bytes", "after", None),  # the log too
    "db-commit": (DefaultDialect, "do_commit", "before", STORE),  # the crash's transaction
    "db-committed": (DefaultDialect, "do_commit", "after", STORE),  # stored, the caller not told
    "ingested": (Pipeline, "ingest", "after", None),  # done; the spool would not have marked it yet
}
FINISH = (Uploads, "finish")
UPLOAD_POINTS: dict[str, tuple[Any, str, str, tuple[Any, str] | None]] = {
    "upload:appended": (Uploads, "append", "after", None),  # every byte in the .part file
    "upload:renamed": (uploads.os, "replace", "after", FINISH),  # .part moved to the temp area
    "upload:dump-blob": (LocalBlobStore, "adopt", "after", FINISH),  # a blob nobody refers to
    "upload:db-commit": (DefaultDialect, "do_commit", "before", (SqlCrashes, "attach_dump")),
    "upload:db-committed": (DefaultDialect, "do_commit", "after", (SqlCrashes, "attach_dump")),
    "upload:finished": (Uploads, "finish", "after", None),
}


def arm(point: str) -> None:
    owner, name, when, within = {**POINTS, **UPLOAD_POINTS}[point]
    orig = getattr(owner, name)
    inside = [within is None]

    def die() -> None:
        if inside[0]:
            os.kill(os.getpid(), signal.SIGKILL)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if when == "before":
            die()
        out = orig(*args, **kwargs)
        die()
        return out

    setattr(owner, name, wrapper)
    if within is not None:
        w_owner, w_name = within
        w_orig = getattr(w_owner, w_name)

        def scope(*args: Any, **kwargs: Any) -> Any:
            inside[0] = True
            try:
                return w_orig(*args, **kwargs)
            finally:
                inside[0] = False

        setattr(w_owner, w_name, scope)


def main(argv: list[str]) -> int:
    data, crash_dir, point = Path(argv[0]), Path(argv[1]), argv[2]
    extra = {"database_url": argv[3]} if len(argv) > 3 else {}
    settings = config.load(data, env={}, spool_dir="", workers=0, alert_interval=0, **extra)
    ctx = build_context(settings)
    if point.startswith("upload:"):
        ctx.hub.store.release_claims()  # what a restarted embedded hub does first (web/_app.py)
        crash = ingest_path(ctx.pipeline, crash_dir / "vmcore-dmesg.txt", source="cli").crash
        if point != "upload:none":
            arm(point)
        upload(Uploads(ctx.pipeline), crash.id, (crash_dir / "vmcore").read_bytes())
        return 0
    if point != "none":
        arm(point)
    out = ingest_path(ctx.pipeline, crash_dir, source="cli")
    print(out.crash.id, out.created)
    return 0


def upload(up: Uploads, crash_id: str, data: bytes) -> None:
    """What the agent does: ask where the hub is, send the rest, finish."""
    state = up.state(crash_id)
    if state.complete:
        return
    at = state.offset
    owner = up.claim(crash_id)
    assert owner is not None, "the killed run's lease is still held"
    try:
        up.begin(crash_id, len(data), at)
        up.append(crash_id, owner, at, data[at:])
    finally:
        up.release(crash_id, owner)
    up.finish(crash_id)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
