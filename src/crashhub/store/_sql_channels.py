"""A crash's channels on SQL: the row each channel leaves, a better log taking the crash over (its
triage, bucket and counters moved in the same transaction), and the rows coverage is derived from.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from crashhub.store import _models as m
from crashhub.store._base import FileRecord, NewCrash
from crashhub.store._channels import ChannelRecord, CrashChannels, bounded_notes
from crashhub.store._counting import count_in, recompute_seen, set_kb

LOG_ROLES = ("log", "log_from_dump")
# A channel's log that is not (or no longer) the crash's best: kept, listed, never triaged again.
CHANNEL_LOG = "channel_log"
# Which crash time outranks which: the dump's CRASHTIME, then a pstore record's own time, then a
# kdump directory's name (often local time), then when a netconsole stream was cut.
TIME_RANK = {"dump": 4, "pstore": 3, "dir-name": 2, "received": 1}
Place = Callable[[Session, NewCrash, str], m.Bucket]


def kdump_row(new: NewCrash, arrived: float) -> ChannelRecord:
    """The row of a crash that came the way crashes always came (kdump): its log is the crash's."""
    log = next((f for f in new.files if f.role in LOG_ROLES), None)
    return ChannelRecord(
        "kdump", arrived, new.crash_time, new.source,
        log.name if log else None, log.digest if log else None, log.size if log else 0,
    )


def add_row(s: Session, crash_id: str, ch: ChannelRecord) -> bool:
    """The channel's row (False, nothing written, when the crash has that channel already)."""
    if s.get(m.CrashChannel, (crash_id, ch.channel)) is not None:
        return False
    s.add(m.CrashChannel(
        crash_id=crash_id, channel=ch.channel, arrived_at=ch.arrived_at, crash_time=ch.crash_time,
        source=ch.source[:16], log_name=ch.log_name, log_digest=ch.log_digest, log_size=ch.log_size,
        notes=list(bounded_notes(ch.notes)),
    ))
    return True


def _record(r: m.CrashChannel) -> ChannelRecord:
    return ChannelRecord(r.channel, r.arrived_at, r.crash_time, r.source, r.log_name, r.log_digest,
                         r.log_size, tuple(r.notes or ()))


def rows_of(s: Session, crash_id: str) -> tuple[ChannelRecord, ...]:
    q = select(m.CrashChannel).where(m.CrashChannel.crash_id == crash_id)
    rows = s.scalars(q.order_by(m.CrashChannel.arrived_at, m.CrashChannel.channel)).all()
    if rows:
        return tuple(_record(r) for r in rows)
    c = s.get(m.Crash, crash_id)
    # A crash with no row (written by a node still on the old code during an upgrade) came by kdump.
    return () if c is None else (ChannelRecord("kdump", c.received_at, c.crash_time, c.source),)


def add_files(s: Session, crash_id: str, files: Iterable[FileRecord], t: float) -> None:
    have = set(s.scalars(select(m.CrashFile.name).where(m.CrashFile.crash_id == crash_id)))
    for f in files:
        if f.name not in have and f.role != "vmcore":
            s.add(m.CrashFile(crash_id=crash_id, name=f.name, role=f.role, digest=f.digest, size=f.size,
                              created_at=t))
            have.add(f.name)


def take_over(s: Session, c: m.Crash, new: NewCrash, place: Place) -> None:
    """The crash as ``new`` (triage of a better log) says it is: its logs before it become channel
    logs, its reports are the new log's, and it is counted out of its bucket and into the one the
    new signature places it in (the same bucket, counted again, when the key did not change)."""
    keep = {f.name for f in new.files}
    for f in s.scalars(select(m.CrashFile).where(m.CrashFile.crash_id == c.id)):
        if f.role in LOG_ROLES and f.name not in keep:
            f.role = CHANNEL_LOG
    old_bucket = c.bucket_id
    count_in(s, old_bucket, c, -1)
    taken = s.scalar(select(m.Crash.id).where(m.Crash.identity == new.identity, m.Crash.id != c.id))
    if taken is None:  # a crash of the same text stored apart (another time) keeps its identity
        c.identity = new.identity
    c.release, c.kind, c.title, c.hardware = new.release, new.kind, new.title, new.hardware
    c.signature_algorithm, c.signature_key = new.signature_algorithm, new.signature_key
    c.report, c.reports, c.versions, c.kb = new.report, new.reports, dict(new.versions), list(new.kb)
    if new.crash_time is not None and TIME_RANK.get(new.crash_time_source or "", 0) > TIME_RANK.get(
        c.crash_time_source or "", 0
    ):
        c.crash_time, c.crash_time_source = new.crash_time, new.crash_time_source
    bucket = place(s, new, c.id)
    c.bucket_id = bucket.id
    s.flush()
    count_in(s, bucket.id, c, +1)
    set_kb(s, bucket.id, list(new.kb), actor="ingest", sticky=True)
    if bucket.id != old_bucket:
        recompute_seen(s, old_bucket)
    s.execute(delete(m.CrashLogReport).where(m.CrashLogReport.crash_id == c.id))
    for i, r in enumerate(new.log_reports):
        s.add(m.CrashLogReport(crash_id=c.id, position=i, primary=r.primary, report=r.report.to_dict()))


def coverage_rows(s: Session, since: float) -> list[CrashChannels]:
    """Every crash received since ``since`` with its channels (one read; a crash with no row counts
    as kdump)."""
    q = (
        select(m.Crash.id, m.Crash.host, m.Crash.release, m.Crash.received_at, m.CrashChannel.channel)
        .outerjoin(m.CrashChannel, m.CrashChannel.crash_id == m.Crash.id)
        .where(m.Crash.received_at >= since)
    )
    cols: dict[str, tuple[str, str | None, float]] = {}
    chans: dict[str, list[str]] = defaultdict(list)
    for cid, host, release, received, channel in s.execute(q):
        cols[cid] = (host, release, received)
        if channel is not None:
            chans[cid].append(channel)
    return [
        CrashChannels(cid, host, release, received, tuple(sorted(chans.get(cid) or ["kdump"])))
        for cid, (host, release, received) in cols.items()
    ]
