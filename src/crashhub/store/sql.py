"""The store on SQLAlchemy 2: SQLite (WAL) embedded, PostgreSQL for teams.

``SqlStore`` is assembled from three parts: ``sql_base`` (engine, transactions, row converters),
``sql_buckets`` (bucket lists and aggregates), ``sql_ops`` (tokens, audit, hosts, uploads, jobs, spool),
``sql_access`` (UI users, rate limits), ``sql_retention`` (pins, evictions, deletions) and, here,
crashes with the bucket counting that must happen
in the same transaction, merge and split.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crashhub.errors import StoreError
from crashhub.store import models as m
from crashhub.store.base import (
    BucketRecord,
    CrashRecord,
    FileRecord,
    NewCrash,
    Store,
    day_of,
    now,
)
from crashhub.store.sql_access import AccessOps
from crashhub.store.sql_aggregates import Aggregates
from crashhub.store.sql_base import SqlBase, _crash, _upsert_inc, bucket_id_for, new_id
from crashhub.store.sql_buckets import BucketQueries, trailing_days, trend_and_spike
from crashhub.store.sql_ops import Operations
from crashhub.store.sql_retention import RetentionOps
from crashhub.store.sql_workflow import WorkflowOps
from crashhub.store.workflow import kb_status

__all__ = ["SqlBase", "SqlStore", "bucket_id_for", "new_id", "trailing_days", "trend_and_spike"]


class SqlStore(AccessOps, WorkflowOps, RetentionOps, Aggregates, BucketQueries, Operations, Store):
    # ------------------------------------------------------------------ crashes
    def add_crash(self, new: NewCrash) -> tuple[CrashRecord, bool]:
        for attempt in range(3):
            try:
                return self._add_crash(new)
            except IntegrityError:
                # Someone stored the same crash or created the same bucket between our read and write.
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _add_crash(self, new: NewCrash) -> tuple[CrashRecord, bool]:
        t = now()
        with self._write() as s:
            old = s.scalar(select(m.Crash).where(m.Crash.identity == new.identity))
            if old is not None:
                have = {f.name for f in s.scalars(select(m.CrashFile).where(m.CrashFile.crash_id == old.id))}
                for f in new.files:
                    if f.name not in have and f.role != "vmcore":
                        s.add(
                            m.CrashFile(
                                crash_id=old.id,
                                name=f.name,
                                role=f.role,
                                digest=f.digest,
                                size=f.size,
                                created_at=t,
                            )
                        )
                files = s.scalars(select(m.CrashFile).where(m.CrashFile.crash_id == old.id)).all()
                return _crash(old, files), False

            bid = bucket_id_for(new.signature_algorithm, new.signature_key)
            bucket = s.get(m.Bucket, bid)
            hops = 0
            while bucket is not None and bucket.merged_into and hops < 16:
                bucket = s.get(m.Bucket, bucket.merged_into)
                hops += 1
            seen = new.crash_time if new.crash_time is not None else t
            if bucket is None:
                bucket = m.Bucket(
                    id=bid,
                    algorithm=new.signature_algorithm,
                    key=new.signature_key,
                    primary=True,
                    kind=new.kind,
                    title=new.signature_title or new.title,
                    frames=list(new.signature_frames),
                    count=0,
                    dumps=0,
                    first_seen=seen,
                    last_seen=seen,
                    kb=list(new.kb),
                    created_at=t,
                    # Known from the KB at once: the KB's advice is the answer, nothing is due.
                    status="known_issue" if kb_status(new.kb) == "known" else "new",
                    advice_deadline=seen + self.first_advice_hours * 3600,
                    kb_status=kb_status(new.kb),
                )
                s.add(bucket)
                s.flush()
            has_dump = any(f.role == "vmcore" for f in new.files)
            crash = m.Crash(
                id=new_id("c"),
                identity=new.identity,
                received_at=t,
                crash_time=new.crash_time,
                crash_time_source=new.crash_time_source,
                host=new.host,
                host_source=new.host_source,
                release=new.release,
                kind=new.kind,
                title=new.title,
                bucket_id=bucket.id,
                signature_algorithm=new.signature_algorithm,
                signature_key=new.signature_key,
                hardware=new.hardware,
                report=new.report,
                reports=new.reports,
                source=new.source,
                crash_dir=new.crash_dir,
                has_vmcore=has_dump,
                dump_facts=new.dump_facts,
                versions=dict(new.versions),
                kb=list(new.kb),
                analysis=None,
            )
            s.add(crash)
            s.flush()
            for f in new.files:
                s.add(
                    m.CrashFile(
                        crash_id=crash.id,
                        name=f.name,
                        role=f.role,
                        digest=f.digest,
                        size=f.size,
                        created_at=t,
                    )
                )
            self._count_in(s, bucket.id, crash, +1)
            self._set_kb(s, bucket.id, list(new.kb), actor="ingest")
            files = s.scalars(select(m.CrashFile).where(m.CrashFile.crash_id == crash.id)).all()
            return _crash(crash, files), True

    def _count_in(self, s: Session, bucket_id: str, c: m.Crash, sign: int) -> None:
        """Add (+1) or remove (-1) one crash from a bucket's counters and aggregates."""
        seen = c.crash_time if c.crash_time is not None else c.received_at
        vals: dict[str, Any] = {
            "count": m.Bucket.count + sign,
            "dumps": m.Bucket.dumps + (sign if c.has_vmcore else 0),
        }
        if sign > 0:
            vals["first_seen"] = (
                func.min(m.Bucket.first_seen, seen)
                if self.dialect == "sqlite"
                else func.least(m.Bucket.first_seen, seen)
            )
            vals["last_seen"] = (
                func.max(m.Bucket.last_seen, seen)
                if self.dialect == "sqlite"
                else func.greatest(m.Bucket.last_seen, seen)
            )
        s.execute(update(m.Bucket).where(m.Bucket.id == bucket_id).values(**vals))
        _upsert_inc(s, m.BucketDay, {"bucket_id": bucket_id, "day": day_of(seen)}, sign)
        _upsert_inc(s, m.BucketHost, {"bucket_id": bucket_id, "host": c.host}, sign)
        if c.release:
            _upsert_inc(s, m.BucketKernel, {"bucket_id": bucket_id, "release": c.release}, sign)
        if c.hardware:
            _upsert_inc(s, m.BucketHardware, {"bucket_id": bucket_id, "hardware": c.hardware[:512]}, sign)
        if sign < 0:
            for model in (m.BucketDay, m.BucketHost, m.BucketKernel, m.BucketHardware):
                s.execute(delete(model).where(model.bucket_id == bucket_id, model.count <= 0))

    def get_crash(self, crash_id: str) -> CrashRecord | None:
        with self._read() as s:
            c = s.get(m.Crash, crash_id)
            if c is None:
                return None
            files = s.scalars(
                select(m.CrashFile).where(m.CrashFile.crash_id == c.id).order_by(m.CrashFile.name)
            ).all()
            return _crash(c, files)

    def crash_by_identity(self, identity: str) -> CrashRecord | None:
        with self._read() as s:
            c = s.scalar(select(m.Crash).where(m.Crash.identity == identity))
            return None if c is None else _crash(c)

    def list_crashes(
        self,
        *,
        host: str | None = None,
        kind: str | None = None,
        bucket: str | None = None,
        since: float | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[CrashRecord]:
        q = select(m.Crash)
        if host:
            q = q.where(m.Crash.host == host)
        if kind:
            q = q.where(m.Crash.kind == kind)
        if bucket:
            q = q.where(m.Crash.bucket_id == bucket)
        if since is not None:
            q = q.where(m.Crash.received_at >= since)
        q = q.order_by(m.Crash.received_at.desc(), m.Crash.id.desc()).limit(limit).offset(offset)
        with self._read() as s:
            rows = s.scalars(q).all()
            files: dict[str, list[m.CrashFile]] = defaultdict(list)
            if rows:
                for f in s.scalars(select(m.CrashFile).where(m.CrashFile.crash_id.in_([r.id for r in rows]))):
                    files[f.crash_id].append(f)
            return [_crash(r, files[r.id]) for r in rows]

    def attach_dump(
        self,
        crash_id: str,
        file: FileRecord,
        facts: dict[str, Any] | None,
        extra_files: Iterable[FileRecord] = (),
    ) -> CrashRecord:
        t = now()
        with self._write() as s:
            c = s.get(m.Crash, crash_id)
            if c is None:
                raise StoreError(f"no crash {crash_id!r}")
            if not c.has_vmcore:
                if s.get(m.CrashFile, (crash_id, file.name)) is None:
                    s.add(
                        m.CrashFile(
                            crash_id=crash_id,
                            name=file.name,
                            role=file.role,
                            digest=file.digest,
                            size=file.size,
                            created_at=t,
                        )
                    )
                c.has_vmcore = True
                c.dump_facts = facts
                s.execute(update(m.Bucket).where(m.Bucket.id == c.bucket_id).values(dumps=m.Bucket.dumps + 1))
            for f in extra_files:
                if s.get(m.CrashFile, (crash_id, f.name)) is None:
                    s.add(
                        m.CrashFile(
                            crash_id=crash_id,
                            name=f.name,
                            role=f.role,
                            digest=f.digest,
                            size=f.size,
                            created_at=t,
                        )
                    )
            s.flush()
            files = s.scalars(select(m.CrashFile).where(m.CrashFile.crash_id == crash_id)).all()
            return _crash(c, files)

    def set_crash_analysis(self, crash_id: str, analysis: dict[str, Any]) -> None:
        with self._write() as s:
            s.execute(update(m.Crash).where(m.Crash.id == crash_id).values(analysis=analysis))

    def referenced_digests(self) -> set[str]:
        with self._read() as s:
            return set(s.scalars(select(m.CrashFile.digest).distinct()))

    def _move(self, s: Session, crashes: list[m.Crash], target: str) -> None:
        for c in crashes:
            self._count_in(s, c.bucket_id, c, -1)
            c.bucket_id = target
            s.flush()
            self._count_in(s, target, c, +1)

    def _recompute_seen(self, s: Session, bucket_id: str) -> None:
        seen = func.coalesce(m.Crash.crash_time, m.Crash.received_at)
        lo, hi = s.execute(select(func.min(seen), func.max(seen)).where(m.Crash.bucket_id == bucket_id)).one()
        if lo is not None:
            s.execute(update(m.Bucket).where(m.Bucket.id == bucket_id).values(first_seen=lo, last_seen=hi))

    def merge_buckets(self, source: str, target: str, actor: str) -> BucketRecord:
        if source == target:
            raise StoreError("cannot merge a bucket into itself")
        with self._write() as s:
            src, dst = s.get(m.Bucket, source), s.get(m.Bucket, target)
            if src is None or dst is None:
                raise StoreError(f"no bucket {source if src is None else target!r}")
            if dst.merged_into:
                raise StoreError(f"bucket {target!r} is itself merged into {dst.merged_into!r}")
            crashes = list(s.scalars(select(m.Crash).where(m.Crash.bucket_id == source)))
            self._move(s, crashes, target)
            src.merged_into = target
            s.execute(update(m.Bucket).where(m.Bucket.merged_into == source).values(merged_into=target))
            self._recompute_seen(s, target)
            detail = {"source": source, "target": target, "crashes": len(crashes)}
            for bid in (source, target):
                s.add(m.BucketEventRow(bucket_id=bid, at=now(), action="merge", actor=actor, detail=detail))
        rec = self.get_bucket(target)
        assert rec is not None
        return rec

    def split_bucket(
        self, bucket_id: str, crash_ids: list[str], actor: str, title: str | None = None
    ) -> BucketRecord:
        if not crash_ids:
            raise StoreError("a split needs at least one crash id")
        with self._write() as s:
            b = s.get(m.Bucket, bucket_id)
            if b is None:
                raise StoreError(f"no bucket {bucket_id!r}")
            crashes = list(s.scalars(select(m.Crash).where(m.Crash.id.in_(crash_ids))))
            wrong = sorted(set(crash_ids) - {c.id for c in crashes if c.bucket_id == bucket_id})
            if wrong:
                raise StoreError(f"crashes not in bucket {bucket_id}: {', '.join(wrong)}")
            if len(crashes) == b.count:
                raise StoreError("a split must leave at least one crash in the bucket")
            t = now()
            nb = m.Bucket(
                id=new_id("s"),
                algorithm=b.algorithm,
                key=b.key,
                primary=False,
                kind=b.kind,
                title=title or b.title,
                frames=list(b.frames or []),
                count=0,
                dumps=0,
                first_seen=t,
                last_seen=0.0,
                kb=list(b.kb or []),
                created_at=t,
                status=b.status,
                owner=b.owner,
                advice_deadline=b.advice_deadline,
                advice=b.advice,
                kb_status=b.kb_status,
            )
            s.add(nb)
            s.flush()
            self._move(s, crashes, nb.id)
            self._recompute_seen(s, nb.id)
            self._recompute_seen(s, bucket_id)
            detail = {"source": bucket_id, "new": nb.id, "crashes": sorted(crash_ids)}
            for bid in (bucket_id, nb.id):
                s.add(m.BucketEventRow(bucket_id=bid, at=t, action="split", actor=actor, detail=detail))
            new_bid = nb.id
        rec = self.get_bucket(new_bid)
        assert rec is not None
        return rec
