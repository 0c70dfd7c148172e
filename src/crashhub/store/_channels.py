"""The channels a crash came through (kdump, netconsole, pstore) and the fleet's coverage by them.

One crash seen through several channels is one crash record with a row per channel (migration
0015): when it arrived, the log blob it brought, what the channel noticed (netconsole gaps).  What
follows from the rows is derived when read: whether the crash's source is unverified (no channel
that an authenticated sender brings), and the coverage tables (crashes by channel per host and per
kernel, and the crashes whose dump never came).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from crashhub.model import JsonObject
from crashhub.store._base import from_iso, iso

TYPE_CHECKING = False
if TYPE_CHECKING:
    from crashhub.store._store import Store

# Rank of a channel's log, best last: the kdump log (vmcore-dmesg, or read out of the dump) holds the
# whole ring buffer as the capture kernel found it; a pstore record only its tail (a ramoops record is
# kmsg_bytes, 10 KiB by default); a netconsole stream what arrived over UDP (packets may be lost).
CHANNEL_RANK: dict[str, int] = {"netconsole": 1, "pstore": 2, "kdump": 3}
CHANNEL_ORDER: tuple[str, ...] = ("kdump", "pstore", "netconsole")
# Channels an authenticated sender brings: an upload with a token, the spool or an admin's CLI
# (kdump), the agent's pstore record.  A netconsole datagram proves only that some text arrived.
AUTHENTICATED = frozenset({"kdump", "pstore"})
MAX_NOTES = 20
MAX_NOTE_CHARS = 300


@dataclass(frozen=True, slots=True)
class ChannelRecord:
    """One channel of a crash: what it brought and when."""

    channel: str  # "kdump" | "netconsole" | "pstore"
    arrived_at: float
    crash_time: float | None = None  # the crash's time as this channel tells it
    source: str = "cli"  # the Arrival's source: "http" | "spool" | "cli" | "netconsole" | ...
    log_name: str | None = None
    log_digest: str | None = None  # its log in the blob store (None: a row from before 0015)
    log_size: int = 0
    notes: tuple[str, ...] = ()  # what the channel noticed (netconsole gaps), bounded

    def to_dict(self) -> JsonObject:
        return {
            "channel": self.channel,
            "arrived_at": iso(self.arrived_at),
            "crash_time": iso(self.crash_time),
            "source": self.source,
            "log": None
            if self.log_digest is None
            else {"name": self.log_name, "sha256": self.log_digest, "size": self.log_size},
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, d: JsonObject) -> ChannelRecord:
        log = d.get("log") or {}
        return cls(
            channel=str(d["channel"]), arrived_at=from_iso(d.get("arrived_at")) or 0.0,
            crash_time=from_iso(d.get("crash_time")), source=str(d["source"]),
            log_name=str(log["name"]) if log else None, log_digest=str(log["sha256"]) if log else None,
            log_size=int(log.get("size") or 0), notes=tuple(str(n) for n in d.get("notes") or ()),
        )


def bounded_notes(notes: Iterable[str]) -> tuple[str, ...]:
    """A channel's notes as stored: at most MAX_NOTES, each cut to MAX_NOTE_CHARS."""
    return tuple(n[:MAX_NOTE_CHARS] for n in list(notes)[:MAX_NOTES])


def best_rank(channels: Iterable[str]) -> int:
    """The rank of the best log among these channels (0 for none)."""
    return max((CHANNEL_RANK.get(c, 0) for c in channels), default=0)


def unverified(channels: Iterable[str]) -> bool:
    """A crash no authenticated channel brought (netconsole alone): its host and text are a claim."""
    have = set(channels)
    return bool(have) and not (have & AUTHENTICATED)


def ordered(channels: Iterable[str]) -> list[str]:
    return sorted(set(channels), key=lambda c: (CHANNEL_ORDER.index(c) if c in CHANNEL_ORDER else 9, c))


@dataclass(frozen=True, slots=True)
class CrashChannels:
    """A crash's few columns with the channels it came through (``Crashes.channel_coverage``)."""

    crash_id: str
    host: str
    release: str | None
    received_at: float
    channels: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CoverageRow:
    """Crashes of one host or one kernel, by channel."""

    name: str
    crashes: int
    by_channel: dict[str, int]
    dump_missing: int  # crashes with no kdump channel, older than the grace period: kdump failed
    waiting: int  # crashes with no kdump channel yet, inside the grace period
    unverified: int
    kdump: JsonObject | None = None  # a host's kdump check as its agent reported it (hosts only)
    missing: tuple[str, ...] = ()  # ids of the crashes whose dump never came (newest first, ≤ 20)

    def to_dict(self) -> JsonObject:
        return {
            "name": self.name, "crashes": self.crashes, "by_channel": dict(self.by_channel),
            "dump_missing": self.dump_missing, "waiting": self.waiting, "unverified": self.unverified,
            "missing": list(self.missing), "kdump": self.kdump,
        }

    @classmethod
    def from_dict(cls, d: JsonObject) -> CoverageRow:
        return cls(
            name=str(d["name"]), crashes=int(d["crashes"]),
            by_channel={str(k): int(v) for k, v in (d.get("by_channel") or {}).items()},
            dump_missing=int(d.get("dump_missing") or 0), waiting=int(d.get("waiting") or 0),
            unverified=int(d.get("unverified") or 0), kdump=d.get("kdump"),
            missing=tuple(str(x) for x in d.get("missing") or ()),
        )


@dataclass(frozen=True, slots=True)
class Coverage:
    since: float
    grace_hours: float
    total: CoverageRow
    hosts: tuple[CoverageRow, ...] = ()
    kernels: tuple[CoverageRow, ...] = ()
    channels: tuple[str, ...] = field(default=CHANNEL_ORDER)

    def to_dict(self) -> JsonObject:
        return {
            "since": iso(self.since), "grace_hours": self.grace_hours, "channels": list(self.channels),
            "total": self.total.to_dict(),
            "hosts": [r.to_dict() for r in self.hosts],
            "kernels": [r.to_dict() for r in self.kernels],
        }

    @classmethod
    def from_dict(cls, d: JsonObject) -> Coverage:
        return cls(
            since=from_iso(d.get("since")) or 0.0, grace_hours=float(d["grace_hours"]),
            total=CoverageRow.from_dict(d["total"]),
            hosts=tuple(CoverageRow.from_dict(r) for r in d.get("hosts") or ()),
            kernels=tuple(CoverageRow.from_dict(r) for r in d.get("kernels") or ()),
            channels=tuple(str(c) for c in d["channels"]),
        )


MAX_MISSING_IDS = 20


class _Tally:
    def __init__(self) -> None:
        self.crashes = self.dump_missing = self.waiting = self.unverified = 0
        self.by_channel: dict[str, int] = dict.fromkeys(CHANNEL_ORDER, 0)
        self.missing: list[tuple[float, str]] = []

    def add(self, c: CrashChannels, cutoff: float) -> None:
        self.crashes += 1
        for ch in set(c.channels):
            self.by_channel[ch] = self.by_channel.get(ch, 0) + 1
        if "kdump" not in c.channels:
            if c.received_at <= cutoff:
                self.dump_missing += 1
                self.missing.append((c.received_at, c.crash_id))
            else:
                self.waiting += 1
        self.unverified += unverified(c.channels)

    def row(self, name: str, kdump: JsonObject | None = None) -> CoverageRow:
        ids = tuple(i for _, i in sorted(self.missing, reverse=True)[:MAX_MISSING_IDS])
        return CoverageRow(name, self.crashes, dict(self.by_channel), self.dump_missing, self.waiting,
                           self.unverified, kdump, ids)


def coverage(
    rows: Sequence[CrashChannels],
    *,
    since: float,
    now: float,
    grace_hours: float,
    host_kdump: Mapping[str, JsonObject | None] | None = None,
) -> Coverage:
    """Crashes by channel per host and per kernel.  A crash with no kdump channel is "waiting" for its
    dump during ``grace_hours`` after it arrived (an agent sends the dump after the reboot), then
    "dump missing": kdump failed for it.  Hosts with most missing dumps first."""
    cutoff = now - grace_hours * 3600
    total, hosts, kernels = _Tally(), dict[str, _Tally](), dict[str, _Tally]()
    for c in rows:
        total.add(c, cutoff)
        hosts.setdefault(c.host, _Tally()).add(c, cutoff)
        kernels.setdefault(c.release or "?", _Tally()).add(c, cutoff)
    kd = host_kdump or {}

    def order(r: CoverageRow) -> tuple[int, int, str]:
        return (-r.dump_missing, -r.crashes, r.name)

    return Coverage(
        since=since, grace_hours=grace_hours, total=total.row("all"),
        hosts=tuple(sorted((t.row(h, kd.get(h)) for h, t in hosts.items()), key=order)),
        kernels=tuple(sorted((t.row(k) for k, t in kernels.items()), key=order)),
    )


def fleet_coverage(store: Store, *, now: float, days: int, grace_hours: float) -> Coverage:
    """The fleet's coverage over the last ``days``: the crashes' channels (one read) with each
    host's kdump check as its agent last reported it."""
    since = now - days * 86400
    rows = store.crashes.channel_coverage(since)
    names = {r.host for r in rows}
    kdump = {h.name: h.kdump for h in store.hosts.list_hosts() if h.name in names}
    return coverage(rows, since=since, now=now, grace_hours=grace_hours, host_kdump=kdump)
