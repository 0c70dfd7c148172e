"""The crashes repository on SQL: a crash stored and counted in its bucket in one transaction,
crash lists, and aggregates over crashes, each one SQL statement.

``crashes_per_day_by_release`` feeds the dashboard's chart ({release: {day: count}}); through the
crash list it would mean loading every crash of 30 days with its report.  ``latest_crashes`` gives
the newest crash of many buckets at once: the KB's "would match N buckets" preview and its
re-application look at every bucket's latest crash, one query each before.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Integer, cast, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crashhub.classify import Subject, subject_of
from crashhub.errors import StoreError
from crashhub.model import CrashReport, JsonObject, LogReport
from crashhub.store import _models as m
from crashhub.store import _sql_channels as channels
from crashhub.store._base import CrashRecord, FileRecord, KernelDumps, NewCrash, now
from crashhub.store._bucket_page import crash_order, like_part
from crashhub.store._channels import ChannelRecord, CrashChannels
from crashhub.store._counting import count_in, set_kb
from crashhub.store._crashes import Crashes
from crashhub.store._routing import by_key, route, set_alias
from crashhub.store._sql import Db, SqlRepository, _crash, bucket_id_for, new_id
from crashhub.store._workflow import kb_status


def _subject(crash_id: str, new: NewCrash) -> Subject:
    """What split rules look at in a crash being stored."""
    report = CrashReport.from_dict(new.report) if new.report else None
    return subject_of(crash_id, title=new.title, host=new.host, release=new.release,
                      hardware=new.hardware, report=report)


def _add_log_reports(s: Session, crash_id: str, reports: Iterable[LogReport]) -> None:
    """Every report of the crash's log, in log order, beside the crash row (migration 0014)."""
    for i, r in enumerate(reports):
        s.add(m.CrashLogReport(crash_id=crash_id, position=i, primary=r.primary, report=r.report.to_dict()))


def _crash_filters(
    q: Any, *, host: str | None, kind: str | None, bucket: str | None, since: float | None, kernel: str | None
) -> Any:
    """The crash list's filters; host and kernel match whole values (ix_crashes_host,
    ix_crashes_release_host), so 10.20.0.1 is never 10.20.0.10."""
    if host:
        q = q.where(m.Crash.host == host)
    if kind:
        q = q.where(m.Crash.kind == kind)
    if bucket:
        q = q.where(m.Crash.bucket_id == bucket)
    if since is not None:
        q = q.where(m.Crash.received_at >= since)
    if kernel:
        q = q.where(m.Crash.release == kernel)
    return q


class SqlCrashes(SqlRepository, Crashes):
    def __init__(self, db: Db, *, first_advice_hours: float = 4.0) -> None:
        super().__init__(db)
        # A new bucket's first advice is due this long after its first crash (setting
        # ``first_advice_hours``).
        self.first_advice_hours = first_advice_hours

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

            crash_id = new_id("c")
            bucket = self._place(s, new, crash_id)
            has_dump = any(f.role == "vmcore" for f in new.files)
            crash = m.Crash(
                id=crash_id,
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
            _add_log_reports(s, crash.id, new.log_reports)
            channels.add_row(s, crash.id, new.channel or channels.kdump_row(new, t))
            count_in(s, bucket.id, crash, +1)
            set_kb(s, bucket.id, list(new.kb), actor="ingest", sticky=True)
            files = s.scalars(select(m.CrashFile).where(m.CrashFile.crash_id == crash.id)).all()
            return _crash(crash, files), True

    def _place(self, s: Session, new: NewCrash, crash_id: str) -> m.Bucket:
        """The bucket a crash of this signature goes to: its key's (a new one for a new key), after
        that bucket's split rules."""
        t = now()
        bid = bucket_id_for(new.signature_algorithm, new.signature_key)
        seen = new.crash_time if new.crash_time is not None else t
        default = by_key(s, new.signature_algorithm, new.signature_key, bid)
        if default is None:
            default = self._new_bucket(s, new, bid, seen, t)
        return route(s, default, lambda: _subject(crash_id, new))

    def add_channel(
        self, crash_id: str, channel: ChannelRecord, files: Iterable[FileRecord], relog: NewCrash | None
    ) -> tuple[CrashRecord, bool]:
        t = now()
        with self._write() as s:
            c = s.get(m.Crash, crash_id)
            if c is None:
                raise StoreError(f"no crash {crash_id!r}")
            added = channels.add_row(s, crash_id, channel)
            if added:
                files = list(files)
                channels.add_files(s, crash_id, files, t)
                if relog is not None:
                    channels.take_over(s, c, relog, self._place)
            s.flush()
            rows = s.scalars(select(m.CrashFile).where(m.CrashFile.crash_id == crash_id)).all()
            return _crash(c, rows), added

    def crash_channels(self, crash_id: str) -> tuple[ChannelRecord, ...]:
        with self._read() as s:
            return channels.rows_of(s, crash_id)

    def channel_coverage(self, since: float) -> list[CrashChannels]:
        with self._read() as s:
            return channels.coverage_rows(s, since)

    def _new_bucket(self, s: Session, new: NewCrash, bid: str, seen: float, t: float) -> m.Bucket:
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
        set_alias(s, new.signature_algorithm, new.signature_key, bid, at=t, origin="ingest")
        s.flush()
        return bucket

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
        kernel: str | None = None,
        sort: str = "time",
        descending: bool = True,
    ) -> list[CrashRecord]:
        # The page's ids first, then their rows: sorting a big bucket by host must not carry every
        # crash's report (kilobytes of JSON) through the sort.
        q = _crash_filters(select(m.Crash.id), host=host, kind=kind, bucket=bucket, since=since,
                           kernel=kernel)
        q = q.order_by(*crash_order(sort, descending)).limit(limit).offset(offset)
        with self._read() as s:
            ids = list(s.scalars(q))
            if not ids:
                return []
            by_id = {r.id: r for r in s.scalars(select(m.Crash).where(m.Crash.id.in_(ids)))}
            files: dict[str, list[m.CrashFile]] = defaultdict(list)
            for f in s.scalars(select(m.CrashFile).where(m.CrashFile.crash_id.in_(ids))):
                files[f.crash_id].append(f)
            return [_crash(by_id[i], files[i]) for i in ids if i in by_id]

    def count_crashes(
        self,
        *,
        host: str | None = None,
        kind: str | None = None,
        bucket: str | None = None,
        since: float | None = None,
        kernel: str | None = None,
    ) -> int:
        q = _crash_filters(select(func.count()).select_from(m.Crash), host=host, kind=kind, bucket=bucket,
                           since=since, kernel=kernel)
        with self._read() as s:
            return int(s.scalar(q) or 0)

    def crash_hosts(self, search: str, *, limit: int = 20) -> list[tuple[str, int]]:
        part = like_part(search)
        n = func.count().label("n")
        q = (
            select(m.Crash.host, n)
            .where(func.lower(m.Crash.host).contains(part, autoescape=True))
            .group_by(m.Crash.host)
            .order_by(n.desc(), m.Crash.host)
            .limit(limit)
        )
        with self._read() as s:
            return [(h, int(c)) for h, c in s.connection().execute(q)]

    def crash_neighbours(self, crash_id: str) -> tuple[str | None, str | None]:
        with self._read() as s:
            c = s.execute(
                select(m.Crash.id, m.Crash.bucket_id, m.Crash.received_at).where(m.Crash.id == crash_id)
            ).first()
            if c is None:
                return None, None
            # Along ix_crashes_bucket (bucket, received): the next time each way, then the id among
            # the crashes received then (ids break ties at one time): index lookups, no sort.
            same = m.Crash.bucket_id == c.bucket_id
            t, i = m.Crash.received_at, m.Crash.id

            def at(when: float | None, cond: Any, pick: Any) -> str | None:
                return None if when is None else s.scalar(select(pick(i)).where(same, t == when, cond))

            older = at(c.received_at, i < c.id, func.max) or at(
                s.scalar(select(func.max(t)).where(same, t < c.received_at)), True, func.max)
            newer = at(c.received_at, i > c.id, func.min) or at(
                s.scalar(select(func.min(t)).where(same, t > c.received_at)), True, func.min)
            return older, newer

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
                # The dump's own crash time (VMCOREINFO CRASHTIME) outranks a directory name's or
                # the upload's: an agent sends the log first and the dump after it.
                t_dump = (facts or {}).get("crash_time")
                if t_dump and c.crash_time_source != "dump":
                    c.crash_time, c.crash_time_source = float(t_dump), "dump"
                s.execute(update(m.Bucket).where(m.Bucket.id == c.bucket_id).values(dumps=m.Bucket.dumps + 1))
                # A dump is kdump's: a crash first seen through netconsole or pstore has it now.
                channels.add_row(s, crash_id, ChannelRecord("kdump", t, c.crash_time, c.source))
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

    def log_reports(self, crash_id: str) -> tuple[LogReport, ...]:
        q = select(m.CrashLogReport).where(m.CrashLogReport.crash_id == crash_id)
        with self._read() as s:
            rows = s.scalars(q.order_by(m.CrashLogReport.position)).all()
            return tuple(LogReport(CrashReport.from_dict(r.report), primary=r.primary) for r in rows)

    def set_crash_analysis(self, crash_id: str, analysis: dict[str, Any]) -> None:
        with self._write() as s:
            s.execute(update(m.Crash).where(m.Crash.id == crash_id).values(analysis=analysis))

    def latest_crash_of_bucket(self, bucket_id: str) -> CrashRecord | None:
        with self._read() as s:
            c = s.scalar(
                select(m.Crash)
                .where(m.Crash.bucket_id == bucket_id)
                .order_by(m.Crash.received_at.desc(), m.Crash.id.desc())
                .limit(1)
            )
            return None if c is None else _crash(c)

    def crashes_per_day_by_release(self, since: float) -> dict[str, dict[str, int]]:
        """Crashes received since ``since``, by kernel release (``?`` when unknown) and UTC day of
        the crash (its crash time, else when it was received)."""
        t = func.coalesce(m.Crash.crash_time, m.Crash.received_at)
        # Whole days since the epoch: SQLite's CAST truncates (times are positive, so it floors);
        # PostgreSQL's CAST rounds, so it gets FLOOR first.
        day = cast(func.floor(t / 86400) if self.dialect == "postgresql" else t / 86400, Integer)
        q = (
            select(m.Crash.release, day, func.count())
            .where(m.Crash.received_at >= since)
            .group_by(m.Crash.release, day)
        )
        out: dict[str, dict[str, int]] = {}
        with self._read() as s:
            for rel, d, n in s.connection().execute(q):
                key = datetime.fromtimestamp(int(d) * 86400, UTC).strftime("%Y-%m-%d")
                per = out.setdefault(rel or "?", {})
                per[key] = per.get(key, 0) + int(n)
        return out

    def kernel_dumps(self) -> dict[str, KernelDumps]:
        """Per release, the crashes whose dump is kept: their build-ids, and those no analysis has
        read with debuginfo (none yet, failed, or done without a vmlinux)."""
        with_debuginfo = m.Crash.analysis[("result", "debuginfo", "ok")].as_boolean()
        q = (
            select(m.Crash.release, m.Crash.id, m.Crash.dump_facts["build_id"].as_string(),
                   m.Crash.analysis["status"].as_string(), with_debuginfo)
            .where(m.Crash.has_vmcore.is_(True), m.Crash.dump_evicted.is_(None))
            .order_by(m.Crash.received_at.desc(), m.Crash.id.desc())
        )
        builds: dict[str, set[str]] = defaultdict(set)
        dumps: dict[str, int] = defaultdict(int)
        waiting: dict[str, list[str]] = defaultdict(list)
        with self._read() as s:
            for rel, cid, bid, status, ok in s.execute(q):
                key = rel or "?"
                dumps[key] += 1
                if bid:
                    builds[key].add(str(bid).lower())
                if status != "done" or not ok:
                    waiting[key].append(cid)
        return {r: KernelDumps(r, tuple(sorted(builds[r])), n, tuple(waiting[r])) for r, n in dumps.items()}

    def crash_releases(self) -> list[str]:
        """Every kernel release with a crash, sorted (the dashboard's kernel filter)."""
        with self._read() as s:
            return sorted(r for (r,) in s.connection().execute(select(m.Crash.release).distinct()) if r)

    def latest_crashes(self, bucket_ids: Iterable[str] | None = None) -> dict[str, CrashRecord]:
        """The newest crash (by received time, then id) of each bucket, every unmerged bucket when
        ``bucket_ids`` is None; one query with a window function (records without their files)."""
        rank = (
            func.row_number()
            .over(partition_by=m.Crash.bucket_id, order_by=(m.Crash.received_at.desc(), m.Crash.id.desc()))
            .label("rank")
        )
        inner = select(m.Crash.id, rank)
        if bucket_ids is not None:
            ids = list(bucket_ids)
            if not ids:
                return {}
            inner = inner.where(m.Crash.bucket_id.in_(ids))
        else:
            live = select(m.Bucket.id).where(m.Bucket.merged_into.is_(None))
            inner = inner.where(m.Crash.bucket_id.in_(live))
        sub = inner.subquery()
        q = select(m.Crash).join(sub, sub.c.id == m.Crash.id).where(sub.c.rank == 1)
        with self._read() as s:
            return {c.bucket_id: _crash(c) for c in s.scalars(q)}

    def bucket_releases(self, bucket_ids: Iterable[str] | None = None) -> dict[str, list[str]]:
        q = select(m.BucketKernel.bucket_id, m.BucketKernel.release).where(m.BucketKernel.count > 0)
        if bucket_ids is not None:
            ids = list(bucket_ids)
            if not ids:
                return {}
            q = q.where(m.BucketKernel.bucket_id.in_(ids))
        else:
            live = select(m.Bucket.id).where(m.Bucket.merged_into.is_(None))
            q = q.where(m.BucketKernel.bucket_id.in_(live))
        out: dict[str, list[str]] = {}
        with self._read() as s:
            for bid, release in s.execute(q.order_by(m.BucketKernel.bucket_id, m.BucketKernel.release)):
                out.setdefault(bid, []).append(release)
        return out

    def refresh_bucket_kb(self, matches: dict[str, list[JsonObject]], *, actor: str = "kb") -> list[str]:
        """Set many buckets' KB matches at once (a KB edit's re-match): one read of the stored
        matches, then one transaction writing only the rows whose matches changed; their ids.
        A bucket a specific entry now answers while nobody has (``new``) goes through
        :func:`set_kb` (its workflow event); the others in one bulk UPDATE by primary key."""
        ids = sorted(matches)
        bulk: list[dict[str, Any]] = []
        answered: list[str] = []
        with self._read() as s:
            for k in range(0, len(ids), 500):
                q = select(m.Bucket.id, m.Bucket.kb, m.Bucket.status).where(m.Bucket.id.in_(ids[k : k + 500]))
                for bid, kb, status in s.execute(q):
                    new = matches[bid]
                    if (kb or []) == new:
                        continue
                    if kb_status(new) == "known" and (status or "new") == "new":
                        answered.append(bid)
                    else:
                        bulk.append({"id": bid, "kb": new, "kb_status": kb_status(new)})
        if bulk or answered:
            with self._write() as s:
                if bulk:
                    s.execute(update(m.Bucket), bulk)
                for bid in answered:
                    set_kb(s, bid, matches[bid], actor=actor)
        return sorted([b["id"] for b in bulk] + answered)

    def bucket_matches(self) -> dict[str, tuple[str, list[JsonObject]]]:
        """``{bucket id: (kind, stored KB matches)}`` of every unmerged bucket (one read)."""
        q = select(m.Bucket.id, m.Bucket.kind, m.Bucket.kb).where(m.Bucket.merged_into.is_(None))
        with self._read() as s:
            return {bid: (kind, list(kb or [])) for bid, kind, kb in s.execute(q)}
