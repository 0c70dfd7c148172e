"""What happens when a crash arrives, whatever the way in (HTTP, spool, CLI, demo).

dump facts (and the log from the dump where no log came) → triage → signature → knowledge base →
blobs → one store transaction (crash + bucket counters) → analysis job for the first dumps of a bucket.
Everything that can refuse the input runs *before* anything is written, so a refused crash leaves
nothing behind but temp files, which the blob store's gc removes.
"""

# ruff: noqa: PLC0415 - imports inside functions are deliberate: each command and stage loads
# only what it uses (the host agent installs without the hub's web and database stack).

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from crashhub.errors import (
    DumpError,
    DumpMismatchError,
    DumpTooLargeError,
    InputError,
    LogError,
    StoreError,
)
from crashhub.ingest._channels import Evidence, evidence_of, find_crash, stamped_lines
from crashhub.ingest._matching import NO_HOSTNAME, Known, different, disagreement, same_host
from crashhub.ingest._reports import IDENTITY_VERSION, identity, in_log_order
from crashhub.model import JsonObject
from crashhub.store import (
    CHANNEL_RANK,
    Blob,
    BucketRecord,
    ChannelRecord,
    CrashRecord,
    FileRecord,
    LocalBlobStore,
    NewCrash,
    best_rank,
    bounded_notes,
)

if TYPE_CHECKING:
    from crashhub.config import Settings
    from crashhub.jobs import Queue
    from crashhub.knowledge import KnowledgeBase
    from crashhub.model import CrashReport, Signature
    from crashhub.store import Hub

log = logging.getLogger("crashhub.ingest")
Observer = Callable[[str, dict[str, Any]], None]

NO_REPORT_KIND = "unrecognised"
NO_REPORT_TITLE = "no crash report found in the log"
# A wrapped dump may always unwrap to this much, whatever max_unwrap_ratio says: small test and
# partial dumps of zero-filled memory compress far better than the ratio.
UNWRAP_RATIO_FLOOR = 64 << 20

# The way a crash's text reached the hub: kdump (a dump and/or its vmcore-dmesg, by upload, spool or
# CLI), netconsole (cut out of a host's UDP stream by the hub) or pstore (a record the agent read from
# /sys/fs/pstore on the next boot).  One crash seen through several channels is one crash record.
Channel = Literal["kdump", "netconsole", "pstore"]
CHANNELS: tuple[Channel, ...] = ("kdump", "netconsole", "pstore")


@dataclass
class Arrival:
    log: bytes | None = None
    log_name: str = "vmcore-dmesg.txt"
    dump: Path | None = None  # a complete local file
    dump_is_temp: bool = False  # it lives in the blob store's temp area: ingest may move or delete it
    kexec_log: bytes | None = None
    host: str | None = None  # the sender's host: a host token's own, or what an admin named
    host_source: str = "agent"  # "token" when ``host`` is the uploading host token's bound host
    dir_host: str | None = None
    dir_host_kind: str | None = None  # "ip" | "name"
    dir_time: float | None = None
    crash_dir: str | None = None
    source: str = "cli"
    channel: Channel = "kdump"
    # When the crash happened as its channel tells it: a pstore record's time (the agent sends it),
    # when the netconsole receiver heard the crash (default: now); kdump's come from the dump or
    # the directory name.
    crash_time: float | None = None
    strict_dump: bool = True  # an unreadable dump refuses the crash (HTTP) or is only noted (spool)
    notes: list[str] = field(default_factory=list)  # what the layout scan noticed


@dataclass
class Outcome:
    crash: CrashRecord
    created: bool
    bucket: BucketRecord
    kb: list[JsonObject]
    wants_vmcore: bool
    notes: list[str] = field(default_factory=list)


@dataclass
class _Dump:
    file: FileRecord
    facts: JsonObject | None
    log: bytes | None
    notes: list[str]
    fresh: tuple[str, int] | None = None  # the blob, if this ingest created it (see Pipeline._fresh)


def _algorithm() -> str:
    from crashhub import classify

    return str(getattr(classify, "ALGORITHM", "unknown"))


class Pipeline:
    def __init__(
        self, hub: Hub, kb: KnowledgeBase, queue: Queue | None = None, observer: Observer | None = None
    ) -> None:
        self.hub = hub
        self.settings: Settings = hub.settings
        self.kb = kb
        self.queue = queue
        self.observer = observer
        # Called with every Outcome after a successful ingest (the hub's alert engine listens here).
        self.listeners: list[Callable[[Outcome], None]] = []

    def add_listener(self, fn: Callable[[Outcome], None]) -> None:
        self.listeners.append(fn)

    def _emit(self, event: str, **data: Any) -> None:
        if self.observer is not None:
            with contextlib.suppress(Exception):  # metrics never break ingest
                self.observer(event, data)

    # ------------------------------------------------------------------ dumps
    def _unwrap_bound(self, wrapped: int) -> tuple[int, str]:
        """How many bytes a wrapped dump of ``wrapped`` bytes may expand to, and the setting that says so."""
        cap = self.settings.max_dump_bytes
        ratio = self.settings.max_unwrap_ratio
        if ratio > 0 and max(ratio * wrapped, UNWRAP_RATIO_FLOOR) < cap:
            limit = max(ratio * wrapped, UNWRAP_RATIO_FLOOR)
            return limit, f"max_unwrap_ratio ({ratio} x {wrapped} bytes = {limit} bytes)"
        return cap, f"max_dump_bytes ({cap})"

    def _prepare_dump(
        self, path: Path, *, is_temp: bool, want_log: bool, known: Known | None = None
    ) -> _Dump:
        """Check, unwrap/reassemble and store a dump; a DumpError leaves nothing stored.

        With ``known``, the dump must be that crash's (ingest/_matching.py): a disagreement is a
        DumpMismatchError before anything is stored."""
        from crashhub import dump as dumpmod
        from crashhub.dump import unwrap, wrapper_of

        blobs = self.hub.blobs
        made: list[Path] = []
        cap = self.settings.max_dump_bytes
        try:
            size = path.stat().st_size
            if size > cap:
                raise DumpTooLargeError(
                    f"dump of {size} bytes is larger than max_dump_bytes ({cap})", path.name
                )
            with open(path, "rb") as f:
                wrapper = wrapper_of(f.read(8))
            work = path
            notes: list[str] = []
            if wrapper is not None:
                # Unwrapped once, bounded while it streams (a bomb stops at the bound, not at a full
                # disk) and sparse; every later reader of this ingest reads the unwrapped file.
                work = blobs.temp_path("vmcore")
                made.append(work)
                limit, bound = self._unwrap_bound(size)
                flat = unwrap(str(path), wrapper, str(work), limit, bound)
                flat_note = ", reassembled from the flattened format" if flat else ""
                notes.append(f"{wrapper}-compressed{flat_note}")
            else:
                flat = dumpmod.detect(path).startswith("flat-")
                if flat:
                    # Reassembled once here (as makedumpfile -R would) so every later reader gets a
                    # seekable file.
                    work = blobs.temp_path("vmcore")
                    made.append(work)
                    dumpmod.reassemble(path, work)
                    notes.append("reassembled from the flattened format")
            if flat:
                # Gaps are left sparse, so a record at a huge offset costs no disk but would be hashed
                # and read as zeros forever: bound the rebuilt size like an upload.
                rebuilt = work.stat().st_size
                if rebuilt > cap:
                    raise DumpTooLargeError(
                        f"the flattened dump rebuilds to {rebuilt} bytes, more than max_dump_bytes ({cap})",
                        str(path),  # scrubbed of the hub's temp paths for clients (web.app.PathScrubber)
                    )
            facts = dumpmod.facts(work)
            if wrapper is not None and not flat:
                # The wrapped file is what is kept (smaller): the facts describe it.
                facts = dataclasses.replace(
                    facts, path=str(path), format=f"{facts.format}+{wrapper}", wrapper=wrapper, file_size=size
                )
            log_bytes = None
            if want_log or (known is not None and known.log is not None):
                try:
                    log_bytes = dumpmod.dmesg(work)
                except DumpError as e:
                    notes.append(f"no kernel log in the dump: {e}")
            if known is not None:
                why = disagreement(known, facts.to_dict(), log_bytes)
                if why is not None:
                    raise DumpMismatchError(f"not this crash's dump: {why}", str(path))
            keep = work if flat else path
            if keep is not path or is_temp:
                blob = blobs.adopt(keep)
                if keep in made:
                    made.remove(keep)
                if is_temp and keep is not path:
                    path.unlink(missing_ok=True)
            else:
                blob = blobs.put_file(path, max_bytes=cap)
            return _Dump(
                file=FileRecord(name="vmcore", role="vmcore", digest=blob.digest, size=blob.size),
                facts=facts.to_dict(),
                log=log_bytes,
                notes=notes,
                fresh=self._fresh(blob),
            )
        finally:
            for p in made:
                p.unlink(missing_ok=True)

    def _fresh(self, blob: Blob) -> tuple[str, int] | None:
        """A blob this ingest created, with its mtime: removed again if no crash comes to point at it."""
        if not blob.created or not isinstance(self.hub.blobs, LocalBlobStore):
            return None
        try:
            return blob.digest, self.hub.blobs.local_path(blob.digest).stat().st_mtime_ns
        except (OSError, StoreError):
            return None

    def _discard(self, fresh: list[tuple[str, int]], keep: set[str]) -> None:
        """Remove blobs this ingest stored that no crash points at (a refused or duplicate dump).

        Only blobs this ingest created and that nothing touched since (another upload of the same
        bytes refreshes the mtime): those are left to the gc and its grace period."""
        todo = [(d, t) for d, t in fresh if d not in keep]
        if not todo:
            return
        try:
            refs = self.hub.store.retention.referenced_digests()
            for digest, mtime in todo:
                p = self.hub.blobs.local_path(digest)
                if digest not in refs and p.stat().st_mtime_ns == mtime:
                    self.hub.blobs.delete(digest)
        except Exception:  # the gc removes what this could not
            log.warning("could not remove the unused blobs of a refused crash", exc_info=True)

    # ------------------------------------------------------------------ the pipeline
    def ingest(self, a: Arrival) -> Outcome:
        t0 = time.monotonic()
        notes: list[str] = list(a.notes)
        d: _Dump | None = None
        # Blobs this ingest stores: the ones no crash points at in the end are removed at once.
        fresh: list[tuple[str, int]] = []
        keep: set[str] = set()
        try:
            if a.log is not None and len(a.log) > self.settings.max_log_bytes:
                raise LogError(
                    f"log of {len(a.log)} bytes is larger than max_log_bytes ({self.settings.max_log_bytes})",
                    a.log_name,
                )
            dump = a.dump
            if dump is not None and a.log is not None and self._has_dump_already(a, a.log):
                # The same crash is stored with its dump: do not copy (and reassemble) GBs to find that out.
                notes.append("the crash is already stored with a dump; this copy of the dump was not kept")
                if a.dump_is_temp:
                    dump.unlink(missing_ok=True)
                dump = None
            if dump is not None:
                try:
                    d = self._prepare_dump(
                        dump, is_temp=a.dump_is_temp, want_log=a.log is None, known=_known(a)
                    )
                    notes += d.notes
                    if d.fresh is not None:
                        fresh.append(d.fresh)
                except DumpError as e:
                    if a.strict_dump:
                        raise
                    notes.append(f"dump {dump.name} not kept: {e}")
            log_bytes, log_name, log_role = a.log, a.log_name, "log"
            if log_bytes is None and d is not None and d.log is not None:
                log_bytes, log_name, log_role = d.log, "dmesg-from-dump.txt", "log_from_dump"
            if log_bytes is None:
                raise LogError(
                    "no kernel log: send a log file or a dump the log can be read from",
                    a.crash_dir or a.log_name,
                )
            out = self._store(
                a, d, log_bytes=log_bytes, log_name=log_name, log_role=log_role, notes=notes, fresh=fresh
            )
            keep = {f.digest for f in out.crash.files}
        except Exception as e:
            self._emit("error", stage="ingest", error=type(e).__name__)
            raise
        finally:
            self._discard(fresh, keep)
        secs = time.monotonic() - t0
        self._emit("ingested", source=a.source, created=out.created, seconds=secs)
        c = out.crash
        # The demo's few hundred made-up crashes at start are not news: they would bury the login line.
        log.log(logging.DEBUG if a.source == "demo" else logging.INFO,
                "ingest (%s): crash %s%s host %s bucket %s%s in %.2f s: %s", a.source, c.id,
                "" if out.created else " (already stored)", c.host, out.bucket.id,
                " (new)" if out.bucket.count == 1 and out.created else "", secs, c.title)
        for fn in self.listeners:
            try:
                fn(out)
            except Exception:  # a listener (alerts) never fails an ingest that is already stored
                log.exception("ingest listener %r failed", fn)
        return out

    def _has_dump_already(self, a: Arrival, log_bytes: bytes) -> bool:
        # Only the sender's own crash counts: a copy of another host's log says nothing of this dump.
        if a.host is None:
            return False
        text = _text(log_bytes, a.log_name)
        report, _, _ = self._triage(text, a.log_name)
        key = identity(text, report, report.release if report else None)
        old = self.hub.store.crashes.crash_by_identity(key)
        return old is not None and old.has_vmcore and same_host(old.host, a.host)

    def _triage(self, text: str, name: str) -> tuple[CrashReport | None, list[CrashReport], Signature]:
        from crashhub import classify, triage
        from crashhub.model import Signature

        t = time.monotonic()
        reports = triage.parse(text)
        self._emit("triage", seconds=time.monotonic() - t)
        if not reports:
            return None, [], Signature(algorithm=_algorithm(), key=NO_REPORT_KIND, title=NO_REPORT_TITLE)
        primary = reports[0]
        return primary, reports, classify.signature(primary)

    def _store(
        self,
        a: Arrival,
        d: _Dump | None,
        *,
        log_bytes: bytes,
        log_name: str,
        log_role: str,
        notes: list[str],
        fresh: list[tuple[str, int]],
    ) -> Outcome:
        from crashhub import kb as kbmod

        text = _text(log_bytes, log_name)
        report, found, sig = self._triage(text, log_name)
        facts = d.facts if d is not None else None
        release = (report.release if report else None) or (facts or {}).get("release")
        hardware = report.hardware if report else None

        # The sender's host first: a host token speaks for its own host only, and a dump that named
        # another host was refused before this (ingest/_matching.py).
        if a.host:
            host, host_source = a.host, a.host_source
        elif facts and facts.get("hostname") and facts["hostname"] not in NO_HOSTNAME:
            host, host_source = str(facts["hostname"]), "utsname"
        elif a.dir_host:
            host, host_source = a.dir_host, "dir-ip" if a.dir_host_kind == "ip" else "dir-name"
        else:
            host, host_source = "unknown", "unknown"
        if facts and facts.get("crash_time"):
            crash_time, time_source = float(facts["crash_time"]), "dump"
        elif a.dir_time is not None:
            crash_time, time_source = a.dir_time, "dir-name"
        elif a.channel == "pstore" and a.crash_time is not None:
            crash_time, time_source = a.crash_time, "pstore"
        elif a.channel != "kdump":
            # A netconsole crash is heard as it is printed (the receiver says when); a pstore record
            # without its time was written at the crash, before this boot: it has its arrival only.
            crash_time, time_source = a.crash_time or time.time(), "received"
        else:
            crash_time, time_source = None, None

        ident = identity(text, report, release)
        stamped, every = stamped_lines(text, report)
        ev = Evidence(host, release, ident, sig.key, crash_time, time_source, stamped, every)
        crashes = self.hub.store.crashes

        def has(c: CrashRecord, channel: str) -> bool:
            return channel in {ch.channel for ch in crashes.crash_channels(c.id)}

        # A kdump log joins a crash that has no kdump yet; one that has is the same log sent again
        # (an agent's retry, the spool's copy), which the identity below finds as it always did.
        target = find_crash(crashes, ev, self._evidence_of, now=time.time(),
                            skip=lambda c: a.channel == "kdump" and has(c, "kdump"))
        joined = target is not None and (a.channel != "kdump" or not has(target, "kdump"))
        old = None if joined else crashes.crash_by_identity(ident)
        if old is not None and (
            different(old, host, host_source, crash_time, time_source)
            or ((target is None or old.id != target.id) and not has(old, a.channel))
        ):
            # Same log text from another host, or both sides know a different crash time, or a
            # crash of the same text this channel's evidence is not (another crash an hour later):
            # a different crash.  Never merged across hosts: the same text from two hosts is one
            # crash each.
            ident = f"{ident}:{host}:{int(crash_time or 0)}"
        matches = self.kb.match(report, release=release, hardware=hardware)

        log_file = self._put_bytes(log_bytes, log_name, log_role, fresh)
        files = [log_file]
        if a.kexec_log is not None:
            files.append(self._put_bytes(a.kexec_log, "kexec-dmesg.log", "kexec_log", fresh))
        if d is not None:
            files.append(d.file)
        new = NewCrash(
            identity=ident,
            host=host,
            host_source=host_source,
            release=release,
            kind=report.kind if report else NO_REPORT_KIND,
            title=report.title if report else NO_REPORT_TITLE,
            signature_algorithm=sig.algorithm,
            signature_key=sig.key,
            signature_title=sig.title,
            signature_frames=tuple(sig.frames),
            crash_time=crash_time,
            crash_time_source=time_source,
            hardware=hardware,
            report=report.to_dict() if report else None,
            reports=len(found),
            log_reports=in_log_order(found),
            source=a.source,
            crash_dir=a.crash_dir,
            dump_facts=facts,
            versions={
                "identity": IDENTITY_VERSION,
                "signature": sig.algorithm,
                "kb": kbmod.MATCH_ALGORITHM,
            },
            files=files,
            kb=matches,
            channel=ChannelRecord(
                a.channel, time.time(), crash_time, a.source, log_file.name, log_file.digest,
                log_file.size, bounded_notes(a.notes),
            ),
        )
        if joined:
            assert target is not None
            return self._join(target, new, d, notes)
        crash, created = self.hub.store.crashes.add_crash(new)
        raced = not created and new.identity == ident
        if raced and different(crash, host, host_source, crash_time, time_source):
            # Two uploads of the same log text from different hosts raced past the lookup above (both
            # saw no crash, one stored it first): the loser is still another host's crash, as it would
            # have been had it come a moment later.
            new.identity = f"{ident}:{host}:{int(crash_time or 0)}"
            crash, created = self.hub.store.crashes.add_crash(new)
        if not created and d is not None and not crash.has_vmcore:
            crash = self.hub.store.crashes.attach_dump(crash.id, d.file, facts)
        bucket = self.hub.store.buckets.get_bucket(crash.bucket_id)
        assert bucket is not None
        if crash.has_vmcore:
            self.maybe_analyze(crash, bucket)
        wants = (not crash.has_vmcore) and bucket.dumps < self.settings.wants_vmcore_below
        kb_out = crash.kb if not created else matches
        return Outcome(
            crash=crash, created=created, bucket=bucket, kb=kb_out, wants_vmcore=wants, notes=notes
        )

    def _join(self, target: CrashRecord, new: NewCrash, d: _Dump | None, notes: list[str]) -> Outcome:
        """One more channel of a stored crash: its log kept beside the crash's, or, when it is the
        better log (kdump > pstore > netconsole), the crash's log and triage from now on."""
        assert new.channel is not None
        crashes = self.hub.store.crashes
        have = [ch.channel for ch in crashes.crash_channels(target.id)]
        better = CHANNEL_RANK[new.channel.channel] > best_rank(have)
        names = {f.name for f in target.files}
        log, *rest = new.files
        if log.name in names:  # two channels' logs under one name: the later one is named by its channel
            log = dataclasses.replace(log, name=f"{new.channel.channel}-{log.name}")
        if not better:
            log = dataclasses.replace(log, role="channel_log")
        new.files = [log, *(f for f in rest if f.role != "vmcore")]
        new.channel = dataclasses.replace(new.channel, log_name=log.name)
        crash, added = crashes.add_channel(target.id, new.channel, new.files, new if better else None)
        if d is not None and not crash.has_vmcore:
            crash = crashes.attach_dump(crash.id, d.file, d.facts)
        notes.append(
            f"the {new.channel.channel} log of crash {crash.id} (seen through {', '.join(have)})"
            + ("; its log now" if added and better else "" if added else "; already stored")
        )
        bucket = self.hub.store.buckets.get_bucket(crash.bucket_id)
        assert bucket is not None
        if crash.has_vmcore:
            self.maybe_analyze(crash, bucket)
        wants = (not crash.has_vmcore) and bucket.dumps < self.settings.wants_vmcore_below
        return Outcome(
            crash=crash, created=False, bucket=bucket, kb=crash.kb, wants_vmcore=wants, notes=notes
        )

    def _evidence_of(self, crash: CrashRecord) -> Evidence | None:
        return evidence_of(self.hub.blobs, crash, self.settings.max_log_bytes)

    def _put_bytes(self, data: bytes, name: str, role: str, fresh: list[tuple[str, int]]) -> FileRecord:
        b = self.hub.blobs.put_bytes(data)
        if (new := self._fresh(b)) is not None:
            fresh.append(new)
        return FileRecord(name=name, role=role, digest=b.digest, size=b.size)

    def maybe_analyze(self, crash: CrashRecord, bucket: BucketRecord) -> None:
        n = self.settings.analyze_first
        if self.queue is None or n <= 0 or bucket.dumps > n:
            return
        self.queue.submit("analyze", {"crash_id": crash.id}, key=f"analyze:{crash.id}")

    # ------------------------------------------------------------------ a dump for an existing crash
    def add_dump(self, crash_id: str, path: Path, *, is_temp: bool) -> CrashRecord:
        """Attach an uploaded dump (resumable upload finished) to its crash: verified before it is kept."""
        crash = self.hub.store.crashes.get_crash(crash_id)
        if crash is None:
            raise InputError(f"no crash {crash_id!r}")
        d = self._prepare_dump(path, is_temp=is_temp, want_log=False, known=self._known_crash(crash))
        fresh = [d.fresh] if d.fresh is not None else []
        keep: set[str] = set()
        try:
            crash = self.hub.store.crashes.attach_dump(crash_id, d.file, d.facts, [])
            keep = {f.digest for f in crash.files}
        finally:
            self._discard(fresh, keep)
        log.info("ingest: dump %s (%d bytes) for crash %s host %s", d.file.digest[:12], d.file.size,
                 crash.id, crash.host)
        bucket = self.hub.store.buckets.get_bucket(crash.bucket_id)
        if bucket is not None:
            self.maybe_analyze(crash, bucket)
        return crash


    def _known_crash(self, crash: CrashRecord) -> Known:
        """What a stored crash says of itself, for the dump sent to it (its log read back)."""
        log_file = next((f for f in crash.files if f.role == "log"), None)
        text = None
        if log_file is not None:
            with contextlib.suppress(OSError):
                raw = self.hub.blobs.local_path(log_file.digest).read_bytes()
                text = raw.decode("utf-8", "replace")
        return Known(
            host=crash.host,
            release=crash.release,
            build_id=(crash.dump_facts or {}).get("build_id"),
            crash_time=crash.crash_time,
            time_source=crash.crash_time_source,
            log=text,
        )


def _known(a: Arrival) -> Known:
    """What an arrival says of its crash, for the dump that came with it."""
    text = _text(a.log, a.log_name) if a.log is not None else None
    release = None
    if text is not None:
        from crashhub import triage

        reports = triage.parse(text)
        release = reports[0].release if reports else None
    return Known(
        host=a.host,
        release=release,
        crash_time=a.dir_time,
        time_source="dir-name" if a.dir_time is not None else None,
        log=text,
    )


def _text(data: bytes, name: str) -> str:
    if b"\0" in data[:65536]:
        raise LogError("binary data, not a kernel log", name)
    return data.decode("utf-8", "replace")
