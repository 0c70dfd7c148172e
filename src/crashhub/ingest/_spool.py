"""The spool watcher: crash directories written by kdump's ssh/nfs targets, ingested once they are whole.

A directory is left alone while any name in it ends in ``-incomplete`` (kdump renames
``vmcore-incomplete``/``dump-incomplete``/``vmcore-dmesg-incomplete.txt`` only after the data is
synced) and until no file in it has changed size or mtime for ``spool_settle`` seconds (a collector
that writes under the final name, e.g. a plain ``cp``).  Nothing is opened before that, so a dump
still being written is never read.  Directories are never modified: the spool belongs to kdump.

Each ready directory becomes a spool item keyed by its path and the fingerprint of its files; the
item is claimed in the store with a lease before ingest and marked done after, so a restart (or a
second watcher on a shared spool) ingests it once; ingest is idempotent on top of that.
"""

# ruff: noqa: PLC0415 - imports inside functions are deliberate: each command and stage loads
# only what it uses (the host agent installs without the hub's web and database stack).

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import secrets
import stat
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from crashhub.errors import CrashhubError, InputError, LogError
from crashhub.ingest._arrival import Arrival, Outcome, Pipeline
from crashhub.ingest._layouts import CrashDir, scan
from crashhub.kernel import is_incomplete

if TYPE_CHECKING:
    from crashhub.store import Store

log = logging.getLogger("crashhub.spool")

Fingerprint = tuple[tuple[str, int, int], ...]


def _read_bounded(path: Path, limit: int) -> bytes:
    # O_NOFOLLOW: a file swapped for a link after the directory was scanned is not followed.
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as e:
        raise LogError(f"cannot be read ({e.strerror})", path) from None
    with os.fdopen(fd, "rb") as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise LogError(f"larger than {limit} bytes", path)
    return data


def arrival_from_dir(cd: CrashDir, *, source: str, max_log_bytes: int, strict_dump: bool = False) -> Arrival:
    if cd.incomplete:
        raise InputError(f"still being written ({', '.join(cd.incomplete)})", cd.path)
    if cd.log is None and cd.dump is None:
        raise InputError("no kernel log and no dump found in the directory", cd.path)
    return Arrival(
        log=_read_bounded(cd.log, max_log_bytes) if cd.log else None,
        log_name=cd.log.name if cd.log else "vmcore-dmesg.txt",
        dump=cd.dump,
        dump_is_temp=False,
        kexec_log=_read_bounded(cd.kexec_log, max_log_bytes) if cd.kexec_log else None,
        dir_host=cd.name_host,
        dir_host_kind=cd.name_host_kind,
        dir_time=cd.name_time,
        crash_dir=cd.path.name,
        source=source,
        strict_dump=strict_dump,
        notes=list(cd.notes),
    )


def ingest_path(pipeline: Pipeline, path: Path, *, source: str = "cli", host: str | None = None) -> Outcome:
    """A crash directory or a single log (or dump) file."""
    s = pipeline.settings
    if path.is_dir():
        a = arrival_from_dir(
            scan(path, max_files=s.spool_max_files),
            source=source,
            max_log_bytes=s.max_log_bytes,
            strict_dump=True,
        )
    elif path.is_file():
        from crashhub.ingest._layouts import dump_format

        if dump_format(path)[0] is not None:
            a = Arrival(dump=path, source=source, crash_dir=None)
        else:
            a = Arrival(log=_read_bounded(path, s.max_log_bytes), log_name=path.name, source=source)
    else:
        raise InputError("no such file or directory", path)
    a.host = host
    return pipeline.ingest(a)


@dataclass
class _Seen:
    fingerprint: Fingerprint
    since: float  # when this fingerprint was first observed


class _Renewer:
    """Keeps a spool claim's lease alive while its item is ingested (a reassembly can outlast it).

    Without it a second watcher on a shared spool (issue 9) would take an expired lease over and ingest
    the item again while the first is still at work.
    """

    def __init__(self, store: Store, key: str, owner: str, lease: float) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(store, key, owner, lease), name="crashhub-spool-lease", daemon=True
        )
        self._thread.start()

    def _run(self, store: Store, key: str, owner: str, lease: float) -> None:
        while not self._stop.wait(max(0.5, lease / 3)):
            try:
                if not store.uploads.renew_spool_item(key, owner, lease):
                    log.warning("spool item %s: lease lost to another watcher", key)
                    return
            except CrashhubError as e:  # the database is away; the next renewal tries again
                log.warning("spool item %s: lease renewal failed: %s", key, e)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5.0)


class SpoolWatcher:
    def __init__(
        self,
        root: Path,
        pipeline: Pipeline,
        *,
        settle: float,
        interval: float,
        lease: float,
        max_files: int = 64,
        on_done: Callable[[Path, Outcome | None, str | None], None] | None = None,
    ) -> None:
        self.root = Path(root)
        self.pipeline = pipeline
        self.settle = settle
        self.interval = interval
        self.lease = lease
        self.max_files = max_files
        self.on_done = on_done
        self.owner = f"spool-{os.getpid()}-{secrets.token_hex(3)}"
        self._seen: dict[Path, _Seen] = {}
        self._done: set[str] = set()
        self._retry_at: dict[str, float] = {}
        self._refused: set[Path] = set()
        self.retry_delay = 30.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.root.mkdir(parents=True, exist_ok=True)

    def fingerprint(self, d: Path) -> Fingerprint:
        out = []
        for e in sorted(d.iterdir(), key=lambda p: p.name)[: self.max_files]:
            try:
                st = e.lstat()
            except FileNotFoundError:
                continue
            out.append((e.name, st.st_size, st.st_mtime_ns))
        return tuple(out)

    def item_key(self, d: Path, fp: Fingerprint) -> str:
        h = hashlib.sha256(repr(fp).encode()).hexdigest()[:16]
        return f"{d.resolve()}|{h}"

    def ready(self, now: float | None = None) -> list[tuple[Path, str]]:
        """Directories that are whole (no ``-incomplete`` name, unchanged for ``settle`` seconds)."""
        t = time.time() if now is None else now
        out = []
        present = set()
        for d in sorted(self.root.iterdir()):
            if d.name.startswith("."):
                continue
            try:
                st = d.lstat()  # never is_dir(): it follows a link out of the spool
            except OSError:
                continue
            if stat.S_ISLNK(st.st_mode):
                self.refuse(d, "a symbolic link; the spool takes only the directories it holds")
                continue
            if not stat.S_ISDIR(st.st_mode):
                continue
            present.add(d)
            try:
                fp = self.fingerprint(d)
            except OSError:
                continue
            if not fp or any(is_incomplete(name) for name, _, _ in fp):
                self._seen.pop(d, None)
                continue
            seen = self._seen.get(d)
            if seen is None or seen.fingerprint != fp:
                self._seen[d] = _Seen(fp, t)
                seen = self._seen[d]
            newest = max(mt for _, _, mt in fp) / 1e9
            # Unchanged across scans for `settle` seconds, or (first sight after a restart) untouched for
            # that long according to the files' own mtimes.
            if t - seen.since < self.settle and t - newest < self.settle:
                continue
            key = self.item_key(d, fp)
            if key in self._done:
                continue
            out.append((d, key))
        for gone in set(self._seen) - present:
            del self._seen[gone]
        return out

    def refuse(self, p: Path, why: str) -> None:
        """Logs (once) and records as a failed spool item an entry the watcher will not take."""
        if p in self._refused:
            return
        self._refused.add(p)
        log.warning("spool %s: refused: %s", p, why)
        key = f"{p.absolute()}|refused"
        store = self.pipeline.hub.store
        with contextlib.suppress(CrashhubError):
            if store.uploads.spool_item_state(key) is None and store.uploads.claim_spool_item(
                key, self.owner, self.lease
            ):
                store.uploads.finish_spool_item(key, crash_id=None, error=f"refused: {why}")

    def _still_ours(self, d: Path, cd: CrashDir) -> str | None:
        """Why a scanned directory may no longer be read (swapped for a link since), or None."""
        for p in (d, cd.log, cd.dump, cd.kexec_log, *cd.split_parts):
            if p is not None and p.is_symlink():
                return f"{p.name} became a symbolic link"
        return None

    def process(self, d: Path, key: str) -> Outcome | None:
        store = self.pipeline.hub.store
        if self._retry_at.get(key, 0.0) > time.time():
            return None
        state = store.uploads.spool_item_state(key)
        if state in ("done", "failed"):
            self._done.add(key)
            return None
        if not store.uploads.claim_spool_item(key, self.owner, self.lease):
            return None
        log.info("spool: picked up %s", d)
        outcome: Outcome | None = None
        error: str | None = None
        renewer = _Renewer(store, key, self.owner, self.lease)
        try:
            cd = scan(d, max_files=self.max_files)
            if cd.incomplete:  # renamed back or a new part started between the scan and now
                store.uploads.finish_spool_item(key, crash_id=None, error=None)
                return None
            swapped = self._still_ours(d, cd)
            if swapped is not None:
                raise InputError(f"refused: {swapped}", d)
            for note in cd.notes:
                if note.endswith("a symbolic link, not read"):
                    log.warning("spool %s: refused %s", d, note)
            a = arrival_from_dir(cd, source="spool", max_log_bytes=self.pipeline.settings.max_log_bytes)
            outcome = self.pipeline.ingest(a)
        except InputError as e:
            # Bad input stays bad: recorded as failed, with the reason, and not retried.
            error = str(e)
            log.warning("spool %s: %s", d, e)
        except Exception as e:
            # A database hiccup or a bug: give the claim back and try again later.
            log.warning("spool %s: %s: %s (retrying in %.0f s)", d, type(e).__name__, e, self.retry_delay)
            self._retry_at[key] = time.time() + self.retry_delay
            with contextlib.suppress(CrashhubError):
                store.uploads.release_spool_item(key)
            return None
        finally:
            renewer.stop()
        store.uploads.finish_spool_item(key, crash_id=outcome.crash.id if outcome else None, error=error)
        self._done.add(key)
        if self.on_done is not None:
            self.on_done(d, outcome, error)
        return outcome

    def scan_once(self, now: float | None = None) -> list[Outcome]:
        done = []
        for d, key in self.ready(now):
            if self._stop.is_set():
                break
            o = self.process(d, key)
            if o is not None:
                done.append(o)
        return done

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                self.scan_once()
            except Exception:  # a broken scan must not stop the watcher; the next one retries
                log.exception("spool scan failed")
            self._stop.wait(self.interval)

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="crashhub-spool", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
