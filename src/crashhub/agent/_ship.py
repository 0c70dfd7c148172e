"""Bring a host's crashes home: the agent's run loop.

For each ready crash directory not yet ``done`` in the state file:

1. ``POST /api/v1/crashes`` with the log (and kexec log) first: cheap, and enough for the hub
   to bucket the crash and decide whether it wants the dump (``wants_vmcore``).
2. If the hub wants the dump (or ``send_vmcore = "always"``), upload it in chunks with
   ``Content-Range``; after any interruption ask ``GET .../vmcore/upload`` for the hub's offset
   and go on from there.  A 409 carries the hub's offset too.
3. Only when the hub answered ``complete: true`` for the whole file, and only under
   ``local_dumps = "delete-uploaded"``, delete the local dump (the log stays).

A dump the kernel kept in pstore (``/sys/fs/pstore``, read on each run, so at boot too) goes the same
way as a log: ``POST`` with ``channel=pstore``; once the hub has the crash (asked again right before)
its records are removed, which frees the backend for the next crash (``agent/_pstore.py``).

Every hub call is retried with exponential back-off while the hub is unreachable or failing
(:class:`HubUnavailable`); state is saved after every step, so a killed agent loses nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from crashhub.agent import _pstore as pstore
from crashhub.agent import _scan as scan_mod
from crashhub.agent import _state as state_mod
from crashhub.agent._check import check
from crashhub.agent._client import HubClient, read_chunks
from crashhub.agent._config import AgentConfig
from crashhub.agent._hostinfo import host_info
from crashhub.agent._scan import CrashDir
from crashhub.agent._state import Entry, State
from crashhub.errors import HubRejected, HubUnavailable, UploadConflict
from crashhub.model import HostInfo, HostReport, JsonObject, UploadState

log = logging.getLogger("crashhub.agent")
T = TypeVar("T")
_MAX_CONFLICTS = 8


@dataclass(slots=True)
class RunSummary:
    found: int = 0
    not_ready: int = 0
    sent_logs: int = 0
    sent_dumps: int = 0
    resumed: int = 0
    deleted: int = 0
    errors: list[str] = field(default_factory=list)
    hub_down: bool = False
    host_reported: bool = False
    pstore_found: int = 0  # dumps in pstore
    pstore_sent: int = 0
    pstore_removed: int = 0  # records erased after the hub confirmed their crash
    pstore_unreadable: int = 0  # records left in pstore: compression not readable here, no header...

    @property
    def exit_code(self) -> int:
        # 75 = EX_TEMPFAIL: systemd/cron will simply try again.
        if self.hub_down:
            return 75
        return 1 if self.errors else 0


class Backoff:
    """Retry ``fn`` while it raises :class:`HubUnavailable`, sleeping 2, 4, 8, ... seconds, or longer
    when the hub asked for it (``Retry-After`` on a 429/503), never longer than ``maximum``."""

    def __init__(self, attempts: int, initial: float, maximum: float,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.attempts, self.initial, self.maximum, self.sleep = attempts, initial, maximum, sleep
        self.slept: list[float] = []

    def call(self, what: str, fn: Callable[[], T]) -> T:
        delay = self.initial
        for attempt in range(1, self.attempts + 1):
            try:
                return fn()
            except HubUnavailable as e:
                if attempt == self.attempts:
                    raise
                wait = delay
                if e.retry_after is not None:
                    # Sooner than the hub said would only be refused again (and use up an attempt).
                    wait = min(max(delay, e.retry_after), self.maximum)
                log.warning("%s: hub unavailable (%s); retry %d/%d in %.0fs", what, e, attempt,
                            self.attempts - 1, wait)
                self.sleep(wait)
                self.slept.append(wait)
                delay = min(delay * 2, self.maximum)
        raise AssertionError("unreachable")


class Agent:
    def __init__(self, cfg: AgentConfig, client: HubClient, *, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.time,
                 kdump_report: Callable[[], JsonObject] | None = None,
                 host_info: Callable[[], HostInfo] | None = None) -> None:
        self.cfg = cfg
        self.client = client
        self.clock = clock
        self.backoff = Backoff(cfg.retry_attempts, cfg.retry_initial, cfg.retry_max, sleep)
        self._kdump_report = kdump_report
        self._host_info = host_info

    # ------------------------------------------------------------------ host report

    def report_host(self) -> None:
        info = self._host_info() if self._host_info else host_info(self.cfg.kdump_root)
        kdump = self._kdump_report() if self._kdump_report else check(self.cfg.kdump_root).to_json()
        report = HostReport.of(self.cfg.host, info, kdump)

        def once() -> None:
            try:
                self.client.report_host(report)
            except HubUnavailable as e:
                if e.status != 429:
                    raise
                # Too many reports from this host for now (host_report_rate_limit): not worth a wait,
                # the next run reports again, and the crashes must still go out in this one.
                raise HubRejected(str(e), e.status, e.body) from None

        self.backoff.call("host report", once)

    # ------------------------------------------------------------------ one run

    def run_once(self) -> RunSummary:
        summary = RunSummary()
        st = state_mod.load(self.cfg.state_file)
        try:
            if self.cfg.report_host:
                try:
                    self.report_host()
                    summary.host_reported = True
                except HubRejected as e:
                    if e.status in (401, 403):
                        raise
                    # A refused report must not keep crashes from being shipped.
                    summary.errors.append(f"host report: {e}")
                    log.error("host report refused: %s", e)
            crashes = scan_mod.scan(self.cfg.crash_dirs)
            ps = pstore.scan(self.cfg.pstore_dir)
            self._forget_gone(st, {c.key for c in crashes} | {p.key for p in ps.crashes})
            for crash in crashes:
                summary.found += 1
                entry = st.crashes.get(crash.key)
                if entry is not None and entry.done:
                    continue
                if not crash.ready(self.clock(), self.cfg.settle_seconds):
                    summary.not_ready += 1
                    log.info("%s: not ready (%s)", crash.path,
                             ", ".join(crash.incomplete) or "files still changing or empty")
                    continue
                self._ship(crash, st, summary)
            self._ship_pstore(ps, st, summary)
        except HubUnavailable as e:
            summary.hub_down = True
            summary.errors.append(f"hub unavailable: {e}")
            log.error("hub unavailable, giving up for this run: %s", e)
        except HubRejected as e:
            if e.status in (401, 403):
                summary.errors.append(f"hub refused the token: {e}")
                log.error("hub refused the token: %s", e)
            else:
                raise
        return summary

    def _forget_gone(self, st: State, present: set[str]) -> None:
        """Drop finished entries whose directory is gone (pruned by kdump-tools or an admin)."""
        gone = [k for k, e in st.crashes.items() if e.done and k not in present and not Path(k).exists()]
        for k in gone:
            del st.crashes[k]
        if gone:
            st.save()

    def _ship(self, crash: CrashDir, st: State, summary: RunSummary) -> None:
        entry = st.entry(crash.key)
        entry.attempts += 1
        try:
            if entry.crash_id is None:
                self._send_log(crash, entry, summary)
                st.save()
            if (crash.vmcore is not None and not entry.has_vmcore and entry.vmcore_refused is None
                    and self._want_dump(entry)):
                self._send_dump(crash, entry, st, summary)
            self._maybe_delete(crash, entry, summary)
            entry.done = self._finished(crash, entry)
            entry.last_error = None
        except HubRejected as e:
            if e.status in (401, 403):
                raise
            if e.status == 409 and str(e.body.get("error", "")).startswith("DumpMismatchError"):
                # The hub holds that the dump is not this crash's (another crash's, another host's):
                # the crash is done without it; sending the same bytes every run would change nothing.
                entry.vmcore_refused = str(e.body["error"])[:500]
                entry.done = self._finished(crash, entry)
            # Bad request for this crash only (too large, unreadable log...): note it, go on.
            _failed(entry, summary, str(crash.path), str(e))
        except HubUnavailable as e:
            entry.last_error = str(e)
            raise
        except OSError as e:
            _failed(entry, summary, str(crash.path), f"{e.filename}: {e.strerror}")
        finally:
            st.save()

    # ------------------------------------------------------------------ pstore

    def _ship_pstore(self, ps: pstore.Scan, st: State, summary: RunSummary) -> None:
        summary.pstore_unreadable = len(ps.unreadable)
        for u in ps.unreadable:
            log.warning("%s: left in pstore: %s", u.path, u.why)
        for crash in ps.crashes:
            summary.pstore_found += 1
            entry = st.crashes.get(crash.key)
            if entry is not None and entry.done:
                continue
            self._ship_one_pstore(crash, st, summary)

    def _ship_one_pstore(self, crash: pstore.PstoreCrash, st: State, summary: RunSummary) -> None:
        entry = st.entry(crash.key)
        entry.attempts += 1
        where = f"pstore {crash.key}"
        try:
            if entry.crash_id is None:
                for d in crash.dumps:
                    if d.missing_parts:
                        log.warning("%s: %s#%d part(s) %s missing (the backend ran out of space?); "
                                    "sending the rest", where, d.first.reason, d.first.count,
                                    ",".join(map(str, d.missing_parts)))
                text = pstore.save(crash, Path(self.cfg.state_file).parent / "pstore")
                ans = self.backoff.call(f"{where}: log", lambda: self.client.post_crash(
                    log=text, host=self.cfg.host, channel="pstore", crash_time=crash.time))
                entry.crash_id, entry.wants_vmcore, entry.sent_at = ans.id, False, self.clock()
                summary.pstore_sent += 1
                st.save()
                log.info("%s: sent as crash %s (%s)", where, ans.id, "new" if ans.created else "known")
            cid = entry.crash_id
            # The hub is the judge of what it holds: asked once more right before the records go.
            self.backoff.call(f"{where}: confirm", lambda: self.client.upload_status(cid))
            summary.pstore_removed += pstore.remove(crash)
            entry.records_removed = entry.done = True
            entry.last_error = None
            log.info("%s: records removed from pstore (hub holds crash %s)", where, cid)
        except HubRejected as e:
            if e.status in (401, 403):
                raise
            _failed(entry, summary, where, str(e))
        except HubUnavailable as e:
            entry.last_error = str(e)
            raise
        except OSError as e:
            _failed(entry, summary, where, f"{e.filename}: {e.strerror}")
        finally:
            st.save()

    def _want_dump(self, entry: Entry) -> bool:
        mode = self.cfg.send_vmcore
        return mode == "always" or (mode == "auto" and bool(entry.wants_vmcore))

    def _finished(self, crash: CrashDir, entry: Entry) -> bool:
        if entry.crash_id is None:
            return False
        if crash.vmcore is None or entry.has_vmcore or entry.vmcore_refused is not None:
            return True
        # The hub declined the dump: the crash is done, the dump stays where it is.
        return not self._want_dump(entry)

    def _send_log(self, crash: CrashDir, entry: Entry, summary: RunSummary) -> None:
        # Without a log (dmesg extraction failed in the capture kernel) the dump goes in the POST:
        # the hub reads the log out of it.
        with_dump = crash.log is None
        ans = self.backoff.call(f"{crash.path}: log", lambda: self.client.post_crash(
            log=crash.log, vmcore=crash.vmcore if with_dump else None, kexec_log=crash.kexec_log,
            host=self.cfg.host, crash_dir=crash.path.name))
        entry.crash_id = ans.id
        entry.wants_vmcore = ans.wants_vmcore
        entry.has_vmcore = ans.has_vmcore
        entry.sent_at = self.clock()
        if crash.vmcore is not None:
            entry.vmcore = crash.vmcore.name
        summary.sent_logs += 1
        log.info("%s: sent as crash %s (%s; wants_vmcore=%s)", crash.path, ans.id,
                 "new" if ans.created else "known", entry.wants_vmcore)

    def _send_dump(self, crash: CrashDir, entry: Entry, st: State, summary: RunSummary) -> None:
        assert crash.vmcore is not None and entry.crash_id is not None
        cid = entry.crash_id
        path = crash.vmcore
        size = path.stat().st_size
        entry.vmcore, entry.vmcore_size = path.name, size
        status = self.backoff.call(f"{path}: upload status", lambda: self.client.upload_status(cid))
        if status.complete and status.size == size:
            entry.has_vmcore = True
            return
        offset = min(status.offset, size)
        if offset:
            summary.resumed += 1
            log.info("%s: resuming upload at %d of %d bytes", path, offset, size)
        conflicts = 0
        while True:
            try:
                resp = UploadState(offset)
                for start, data in read_chunks(path, offset, size, self.cfg.chunk_size):
                    resp = self.backoff.call(f"{path}: chunk at {start}",
                                             _put(self.client, cid, data, start, size))
                    offset = min(resp.offset, size)
                    if offset != start + len(data):
                        break  # the hub holds something else: re-ask below
                    st.save()
                if resp.complete:
                    break
                status = self.backoff.call(f"{path}: upload status", lambda: self.client.upload_status(cid))
                if status.complete:
                    resp = status
                    break
                offset = min(status.offset, size)
            except UploadConflict as e:
                conflicts += 1
                if conflicts > _MAX_CONFLICTS or e.offset is None:
                    raise
                offset = min(max(e.offset, 0), size)
                continue
            except HubUnavailable:
                raise
            conflicts += 1
            if conflicts > _MAX_CONFLICTS:
                raise HubRejected(f"{path}: upload did not complete after {_MAX_CONFLICTS} rounds "
                                  f"(hub offset {offset} of {size})")
        entry.has_vmcore = resp.complete
        summary.sent_dumps += 1
        log.info("%s: dump uploaded (%d bytes), hub confirmed", path, size)

    def _maybe_delete(self, crash: CrashDir, entry: Entry, summary: RunSummary) -> None:
        if self.cfg.local_dumps != "delete-uploaded" or crash.vmcore is None or entry.vmcore_deleted:
            return
        if not entry.has_vmcore or entry.crash_id is None:
            return  # never delete a dump the hub has not confirmed
        cid = entry.crash_id
        # Ask once more right before deleting: the hub is the only judge of what it holds.
        status = self.backoff.call(f"{crash.vmcore}: confirm", lambda: self.client.upload_status(cid))
        size = crash.vmcore.stat().st_size
        if not (status.complete and status.size == size):
            entry.has_vmcore = False
            log.warning("%s: hub does not confirm the dump (%s); keeping it", crash.vmcore, status)
            return
        crash.vmcore.unlink()
        entry.vmcore_deleted = True
        summary.deleted += 1
        log.info("%s: deleted (hub holds all %d bytes)", crash.vmcore, size)

    # ------------------------------------------------------------------ loop

    def run_forever(self, stop: Callable[[], bool] = lambda: False) -> None:
        while not stop():
            s = self.run_once()
            log.info("run: %s", s)
            self.backoff.sleep(self.cfg.interval)


def _put(client: HubClient, cid: str, data: bytes, start: int, size: int) -> Callable[[], UploadState]:
    return lambda: client.put_chunk(cid, data, start, size)


def describe(crash: CrashDir) -> str:
    parts = [p.name for p in (crash.log, crash.vmcore, crash.kexec_log) if isinstance(p, Path)]
    return f"{crash.path} [{crash.layout}] " + ", ".join(parts)


def _failed(entry: Entry, summary: RunSummary, where: str, why: str) -> None:
    """A crash not shipped this run, for a reason retrying later may mend or not: noted on its state
    entry, in the run's summary and in the log; the run goes on with the next crash."""
    entry.last_error = why
    summary.errors.append(f"{where}: {why}")
    log.error("%s: %s", where, why)
