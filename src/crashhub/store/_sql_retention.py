"""The retention repository on SQL: pins, evicted dumps, and an admin's deletion of crashes and hosts.

Each method is one transaction with its audit row in it, so a deletion is never done without its
record (nor recorded without being done).  Blobs are not touched here: the methods return the
files whose records went, and ``crashhub.retention._apply`` removes the blobs no record points at.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from crashhub.errors import StoreError
from crashhub.store import _models as m
from crashhub.store._base import CrashRecord, now
from crashhub.store._counting import count_in, recompute_seen
from crashhub.store._retention import Retention
from crashhub.store._retention_records import DeletedCrash, DumpHolding, EvictedDump
from crashhub.store._sql import SqlRepository, _crash, _file

HOLD_PINNED = "pinned"
HOLD_BUNDLE = "vendor bundle"
HOLD_ANALYSIS = "under analysis"
# The audit action of a vendor bundle made with the dump (web/ui/_crashes.py, commands/bundle.py).
BUNDLE_WITH_DUMP = "bundle-with-dump"


class SqlRetention(SqlRepository, Retention):
    def dump_holdings(self) -> list[DumpHolding]:
        q = (
            select(
                m.Crash.id,
                m.Crash.bucket_id,
                m.Crash.host,
                m.Crash.received_at,
                m.Crash.pinned_by,
                m.CrashFile,
            )
            .join(m.CrashFile, m.CrashFile.crash_id == m.Crash.id)
            .where(m.CrashFile.role == "vmcore", m.Crash.dump_evicted.is_(None))
            .order_by(m.Crash.received_at, m.Crash.id)
        )
        with self._read() as s:
            return [
                DumpHolding(
                    crash_id=cid,
                    bucket_id=bid,
                    host=host,
                    received_at=t,
                    dump=_file(f),
                    pinned=pin is not None,
                )
                for cid, bid, host, t, pin, f in s.execute(q)
            ]

    def retention_holds(self, *, bundle_since: float) -> dict[str, str]:
        with self._read() as s:
            return _holds(s, None, bundle_since)

    def pin_dump(self, crash_id: str, actor: str, *, pinned: bool = True) -> CrashRecord:
        with self._write() as s:
            c = s.get(m.Crash, crash_id)
            if c is None:
                raise StoreError(f"no crash {crash_id!r}")
            if pinned and c.pinned_by is None:
                c.pinned_by, c.pinned_at = actor[:255], now()
            elif not pinned:
                c.pinned_by, c.pinned_at = None, None
            s.add(
                m.Audit(
                    at=now(),
                    actor=actor,
                    action="pin-dump" if pinned else "unpin-dump",
                    target=crash_id,
                    detail={},
                )
            )
            s.flush()
            return _crash(c, s.scalars(select(m.CrashFile).where(m.CrashFile.crash_id == crash_id)).all())

    def evict_dump(
        self, crash_id: str, *, reason: str, actor: str, bundle_since: float
    ) -> EvictedDump | None:
        with self._write() as s:
            c = s.get(m.Crash, crash_id)
            if c is None or c.dump_evicted is not None:
                return None
            f = s.scalar(
                select(m.CrashFile).where(m.CrashFile.crash_id == crash_id, m.CrashFile.role == "vmcore")
            )
            # The hold is looked at again inside the eviction's transaction: a pin or an analysis
            # queued since the plan was made wins over the plan.
            if f is None or _holds(s, [crash_id], bundle_since):
                return None
            gone = EvictedDump(
                name=f.name, digest=f.digest, size=f.size, reason=reason, at=now(), actor=actor
            )
            c.dump_evicted = gone.to_row()
            s.delete(f)
            s.add(
                m.Audit(
                    at=gone.at,
                    actor=actor,
                    action="evict-dump",
                    target=crash_id,
                    detail={"bucket": c.bucket_id, "size": f.size, "sha256": f.digest, "reason": reason},
                )
            )
            return gone

    def referenced_digests(self) -> set[str]:
        with self._read() as s:
            out = set(s.scalars(select(m.CrashFile.digest).distinct()))
            # A job waiting or running names the blobs it will read in its payload's ``blobs`` (a
            # kernel check's packages): they are kept until it ends, however long it queues.
            live = select(m.Job.payload).where(m.Job.state.in_(("pending", "running")))
            for payload in s.scalars(live):
                blobs = (payload or {}).get("blobs")
                if isinstance(blobs, list):
                    out.update(str(d) for d in blobs[:64])
            return out

    def unreferenced(self, digests: Iterable[str]) -> set[str]:
        want = set(digests)
        if not want:
            return set()
        with self._read() as s:
            used = set(s.scalars(select(m.CrashFile.digest).where(m.CrashFile.digest.in_(want)).distinct()))
        return want - used

    def delete_crash(self, crash_id: str, actor: str) -> DeletedCrash | None:
        with self._write() as s:
            c = s.get(m.Crash, crash_id)
            if c is None:
                return None
            out = self._delete(s, c)
            s.add(m.Audit(at=now(), actor=actor, action="delete-crash", target=crash_id, detail=_detail(out)))
            return out

    def delete_host(self, host: str, actor: str) -> list[DeletedCrash]:
        with self._write() as s:
            crashes = list(
                s.scalars(select(m.Crash).where(m.Crash.host == host).order_by(m.Crash.received_at))
            )
            had_report = s.get(m.Host, host) is not None
            if not crashes and not had_report:
                raise StoreError(f"no host {host!r}")
            out = [self._delete(s, c) for c in crashes]
            s.execute(delete(m.Host).where(m.Host.name == host))
            size = sum(f.size for d in out for f in d.files)
            s.add(
                m.Audit(
                    at=now(),
                    actor=actor,
                    action="delete-host",
                    target=host,
                    detail={"crashes": [d.crash_id for d in out], "bytes": size},
                )
            )
            return out

    def _delete(self, s: Session, c: m.Crash) -> DeletedCrash:
        files = tuple(_file(f) for f in s.scalars(select(m.CrashFile).where(m.CrashFile.crash_id == c.id)))
        bucket_id = c.bucket_id
        count_in(s, bucket_id, c, -1)
        s.execute(delete(m.CrashFile).where(m.CrashFile.crash_id == c.id))
        s.execute(delete(m.CrashLogReport).where(m.CrashLogReport.crash_id == c.id))
        s.execute(delete(m.CrashChannel).where(m.CrashChannel.crash_id == c.id))
        s.execute(delete(m.Upload).where(m.Upload.crash_id == c.id))
        s.delete(c)
        s.flush()
        self._drop_if_empty(s, bucket_id)
        return DeletedCrash(crash_id=c.id, host=c.host, bucket_id=bucket_id, files=files)

    def _drop_if_empty(self, s: Session, bucket_id: str) -> None:
        left = s.scalar(select(func.count()).select_from(m.Crash).where(m.Crash.bucket_id == bucket_id))
        if left:
            recompute_seen(s, bucket_id)
            return
        # A bucket others were merged into stays: their later crashes are routed through it.
        if s.scalar(select(func.count()).select_from(m.Bucket).where(m.Bucket.merged_into == bucket_id)):
            return
        for model in (m.BucketDay, m.BucketHost, m.BucketKernel, m.BucketHardware):
            s.execute(delete(model).where(model.bucket_id == bucket_id))
        s.execute(delete(m.BucketEventRow).where(m.BucketEventRow.bucket_id == bucket_id))
        s.execute(delete(m.Bucket).where(m.Bucket.id == bucket_id))


def _holds(s: Session, crash_ids: list[str] | None, bundle_since: float) -> dict[str, str]:
    out: dict[str, str] = {}
    jobs = select(m.Job.payload).where(m.Job.kind == "analyze", m.Job.state.in_(("pending", "running")))
    for payload in s.scalars(jobs):
        cid = (payload or {}).get("crash_id")
        if isinstance(cid, str):
            out[cid] = HOLD_ANALYSIS
    bundles = select(m.Audit.target).where(m.Audit.action == BUNDLE_WITH_DUMP, m.Audit.at >= bundle_since)
    if crash_ids is not None:
        bundles = bundles.where(m.Audit.target.in_(crash_ids))
    out.update(dict.fromkeys(s.scalars(bundles), HOLD_BUNDLE))
    pins = select(m.Crash.id).where(m.Crash.pinned_by.is_not(None))
    if crash_ids is not None:
        pins = pins.where(m.Crash.id.in_(crash_ids))
    out.update(dict.fromkeys(s.scalars(pins), HOLD_PINNED))
    return out if crash_ids is None else {k: v for k, v in out.items() if k in crash_ids}


def _detail(d: DeletedCrash) -> dict[str, Any]:
    return {
        "host": d.host,
        "bucket": d.bucket_id,
        "files": [{"name": f.name, "role": f.role, "size": f.size, "sha256": f.digest} for f in d.files],
    }


__all__ = ["HOLD_ANALYSIS", "HOLD_BUNDLE", "HOLD_PINNED", "SqlRetention"]
