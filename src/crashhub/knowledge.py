"""The hub's knowledge base: the entries in the store (``store.kb``) plus the package's starter KB.

The entries themselves are the kb helper's (:mod:`crashhub.kb`); this module adds what the hub needs:
a thread-safe cache that reloads when the store's KB revision moves (so every node sees an edit at
once), writes through the API, the import and export of YAML directories (``crashhub kb import`` /
``export``: entries reviewable in git, and a pre-0012 ``<data>/kb`` imported by the first start),
and re-applying every entry to every bucket (a bucket's stored matches are a cache of its
current :meth:`KnowledgeBase.bucket_view`; what a page shows is computed when read).  Without
a store (a hub-less pipeline) the entries are a YAML directory's, as before.
"""

# ruff: noqa: PLC0415 - imports inside functions are deliberate: each command and stage loads
# only what it uses (the host agent installs without the hub's web and database stack).

from __future__ import annotations

import logging
import os
import re
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crashhub.errors import KbError
from crashhub.model import JsonObject

_TEXT_ID = re.compile(r"""^id:[ \t]*["']?([a-z0-9][a-z0-9._-]{0,79})["']?[ \t]*$""", re.M)


def _named(e: KbError, entry_id: object) -> KbError:
    """A written entry's error naming the entry (not a file that does not exist yet, nor the KB
    directory's path): "entry 'ext4-mb': field 'match.title': bad regex ...", on one line."""
    if not isinstance(entry_id, str) or not _TEXT_ID.fullmatch(f"id: {entry_id}"):
        return e
    return KbError(e.message, f"entry {entry_id!r}", e.line, e.field)

log = logging.getLogger("crashhub.kb")

if TYPE_CHECKING:
    from crashhub.kb import KbEntry, KbView
    from crashhub.model import CrashReport
    from crashhub.store import BucketRecord, CrashRecord, Kb, Store


def match_dict(m: Any) -> JsonObject:
    """A KbMatch as the API shows it (``id`` is the entry id, per the API contract)."""
    from crashhub.kb import match_json

    return match_json(m)


class KnowledgeBase:
    """The entries a hub matches with.  With a ``store`` (every hub command) they are the store's
    (``store.kb``), read again whenever its revision moves, so an edit made on one node matches on
    every node at once; ``directory`` is then only imported, once, by the first start that finds it.
    Without a store, the YAML files of ``directory`` themselves (a hub-less pipeline, tests)."""

    def __init__(self, directory: Path, *, starter: bool = True, store: Store | None = None) -> None:
        self.directory = Path(directory)
        self.repo: Kb | None = None if store is None else store.kb
        if store is None:
            self.directory.mkdir(parents=True, exist_ok=True)
        else:
            import_once(store, self.directory)
        self.starter = starter
        self._lock = threading.RLock()
        self._stamp: object = None
        self._entries: list[KbEntry] = []
        self._starter_entries: list[KbEntry] | None = None
        self.errors: list[KbError] = []
        # Entries written or deleted through this object since its last reapply, and the store's
        # revision after the last of them: what lets a re-match after one edit touch one entry.
        self._edited: set[str] = set()
        self._edited_rev: int | None = None

    def _note_edit(self, entry_id: str) -> None:
        with self._lock:
            self._edited.add(entry_id)
            self._edited_rev = self.repo.revision() if self.repo is not None else None

    def _dir_stamp(self) -> tuple[tuple[str, int, int], ...]:
        out = []
        for p in sorted(self.directory.glob("*.y*ml")):
            try:
                st = p.stat()
            except FileNotFoundError:
                continue
            out.append((p.name, st.st_size, st.st_mtime_ns))
        return tuple(out)

    def _load(self) -> tuple[object, list[KbEntry], list[KbError]]:
        """The source's stamp (the store's revision, or the files' sizes and times) and its entries."""
        from crashhub.kb import check_paths, parse_entry

        if self.repo is None:
            stamp = self._dir_stamp()
            if stamp == self._stamp:
                return stamp, self._entries, self.errors
            return stamp, *check_paths([self.directory])
        rev = self.repo.revision()
        if rev == self._stamp:
            return rev, self._entries, self.errors
        entries, errors = [], []
        for rec in self.repo.list():
            try:
                entries.append(replace(parse_entry(rec.text, f"kb:{rec.id}"), path=f"kb:{rec.id}"))
            except KbError as e:  # an entry this version cannot read: left out, like a broken file
                errors.append(e)
        return rev, entries, errors

    def entries(self) -> list[KbEntry]:
        """Local entries first (they override a starter entry of the same id), then the starter KB."""
        from crashhub.kb import load_starter

        with self._lock:
            stamp, entries, errors = self._load()
            if stamp != self._stamp:
                # A broken entry must not stop ingest: it is left out and the error kept
                # (``errors``, logged once per change) while every good entry still applies.
                self._entries, self.errors = entries, errors
                for e in self.errors:
                    log.warning("knowledge base: %s", e)
                self._stamp = stamp
            if self.starter and self._starter_entries is None:
                self._starter_entries = load_starter()
            local = list(self._entries)
            ids = {e.id for e in local}
            return local + [e for e in (self._starter_entries or []) if e.id not in ids]

    def get(self, entry_id: str) -> KbEntry | None:
        return next((e for e in self.entries() if e.id == entry_id), None)

    def match(
        self, report: CrashReport | None, *, release: str | None, hardware: str | None
    ) -> list[JsonObject]:
        if report is None:
            return []
        from crashhub.kb import match

        return [match_dict(m) for m in match(self.entries(), report, release=release, hardware=hardware)]

    def _path(self, entry_id: str) -> Path:
        p = self.directory / f"{entry_id}.yaml"
        if p.resolve().parent != self.directory.resolve():
            raise KbError("bad entry id", str(p), None, "id")
        return p

    def put(self, entry: KbEntry, *, by: str | None = None) -> KbEntry:
        """Store an entry (validated again by parsing what is stored): in the store, or as the
        directory's YAML file (written to a temp name and renamed, never half a file)."""
        from crashhub.kb import dump_entry, parse_entry

        text = dump_entry(entry)
        if self.repo is not None:
            parse_entry(text, f"kb:{entry.id}")  # never store an entry the loader would refuse
            self.repo.put(entry.id, text, by=by)
            self._note_edit(entry.id)
            return replace(entry, path=f"kb:{entry.id}")
        path = self._path(entry.id)
        parse_entry(text, str(path))
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        with self._lock:
            with open(tmp, "w", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
            self._stamp = None
        return replace(entry, path=str(path))

    def put_text(self, text: str, *, expect_id: str | None = None) -> KbEntry:
        from crashhub.kb import parse_entry

        m = _TEXT_ID.search(text[:4096])
        try:
            entry = parse_entry(text, "<upload>")
        except KbError as e:
            raise _named(e, m[1] if m else expect_id) from None
        if expect_id is not None and entry.id != expect_id:
            raise KbError(
                f"the entry's id {entry.id!r} differs from the URL's {expect_id!r}", "<upload>", None, "id"
            )
        return self.put(entry)

    def put_data(self, data: Any, *, expect_id: str | None = None) -> KbEntry:
        from crashhub.kb import KbEntry as Entry

        try:
            entry = Entry.from_dict(data, "<request>")
        except KbError as e:
            raise _named(e, data.get("id") if isinstance(data, dict) else expect_id) from None
        if expect_id is not None and entry.id != expect_id:
            raise KbError(
                f"the entry's id {entry.id!r} differs from the URL's {expect_id!r}", "<request>", None, "id"
            )
        return self.put(entry)

    def delete(self, entry_id: str, *, by: str | None = None) -> bool:
        if self.repo is not None:
            gone = self.repo.delete(entry_id, by=by)
            if gone:
                self._note_edit(entry_id)
            return gone
        path = self._path(entry_id)
        with self._lock:
            try:
                path.unlink()
            except FileNotFoundError:
                return False
            self._stamp = None
        return True

    def view(self, report: JsonObject | None, *, release: str | None, hardware: str | None,
             releases: list[str] | None = None) -> KbView:
        """The KB's answer now for a stored report (``crashhub.kb.kb_view`` over these entries)."""
        from crashhub.kb import kb_view
        from crashhub.model import CrashReport

        rep = CrashReport.from_dict(report) if report else None
        return kb_view(self.entries(), rep, release=release, hardware=hardware, releases=releases or ())

    def crash_view(self, store: Store, c: CrashRecord) -> KbView:
        """What every consumer shows for a crash: its report against the KB of now, with the
        kernels of its whole bucket (so the crash says "Regressed" when its bucket does)."""
        releases = store.crashes.bucket_releases([c.bucket_id]).get(c.bucket_id, [])
        return self.view(c.report, release=c.release, hardware=c.hardware, releases=releases)

    def bucket_view(self, store: Store, b: BucketRecord) -> KbView:
        """A bucket's answer: its newest crash against the KB of now, with every kernel it ran."""
        from crashhub.kb import KbView

        c = store.crashes.latest_crashes([b.id]).get(b.id)
        if c is None:
            return KbView("new")
        # Every kernel, not the record's top ones: the regressed one may be a rare kernel.
        releases = store.crashes.bucket_releases([b.id]).get(b.id, [])
        return self.view(c.report, release=c.release, hardware=c.hardware, releases=releases)

    def reapply(self, store: Store, *, full: bool = False) -> int:
        """Match the buckets again after KB edits; returns how many buckets' matches changed.

        The stored matches are a cache of :meth:`bucket_view` (the newest crash, with every kernel
        the bucket ran, so a regression any crash showed is kept).  After edits made through this
        object alone, only the edited entries are matched again, and only on the buckets they can
        concern (of the kinds they name, or holding them already); otherwise (``full``, a start,
        an import, an edit on another node) every entry on every bucket.
        """
        with self._lock:
            edited, rev = set(self._edited), self._edited_rev
            self._edited.clear()
        if full or not edited or self.repo is None or self.repo.revision() != rev:
            return self._reapply(store, None)
        return self._reapply(store, edited)

    def _reapply(self, store: Store, only: set[str] | None) -> int:
        from crashhub.kb import kb_view, match_json
        from crashhub.model import CrashReport

        entries = self.entries()
        stored = store.crashes.bucket_matches()
        kept: dict[str, list[JsonObject]]
        if only is None:
            todo, kept = sorted(stored), {bid: [] for bid in stored}
        else:
            entries = [e for e in entries if e.id in only]
            kinds = None if any(not e.rule.kinds for e in entries) else {
                k for e in entries for k in e.rule.kinds}
            todo = sorted(bid for bid, (kind, kb) in stored.items()
                          if kinds is None or kind in kinds or any(_entry_id(x) in only for x in kb))
            kept = {bid: [x for x in stored[bid][1] if _entry_id(x) not in only] for bid in todo}
        fresh: dict[str, list[JsonObject]] = {}
        for k in range(0, len(todo), 500):
            part = todo[k : k + 500]
            kernels = store.crashes.bucket_releases(part)
            for bid, c in store.crashes.latest_crashes(part).items():
                if c.report is None:
                    continue
                v = kb_view(entries, CrashReport.from_dict(c.report), release=c.release, hardware=c.hardware,
                            releases=kernels.get(bid, ()))
                fresh[bid] = sorted(kept[bid] + [match_json(m) for m in v.matches], key=_rank)
        return len(store.crashes.refresh_bucket_kb(fresh, actor="kb"))


def _entry_id(m: JsonObject) -> str:
    return str(m.get("id") or m.get("entry_id"))


def _rank(m: JsonObject) -> tuple[bool, int, str]:
    """The matcher's order (specific first, then score, then id) for stored matches."""
    return bool(m.get("generic")), -int(m.get("score") or 0), _entry_id(m)


IMPORTED = "kb-imported:"  # + the directory: the store's record that a start imported it


def import_dir(repo: Kb, directory: Path, *, replace_existing: bool = True,
               by: str | None = None) -> tuple[list[str], list[KbError]]:
    """The YAML entries of ``directory`` into the store: (ids stored, files refused).
    ``replace_existing=False`` leaves an entry the store already has alone."""
    from crashhub.kb import check_paths, dump_entry

    entries, errors = check_paths([directory])
    done = []
    for e in entries:
        if repo.put(e.id, dump_entry(e), by=by, replace=replace_existing) is not None:
            done.append(e.id)
    return done, errors


def export_dir(repo: Kb, directory: Path) -> list[Path]:
    """Every entry of the store as ``<id>.yaml`` in ``directory`` (for review in git); the paths."""
    directory.mkdir(parents=True, exist_ok=True)
    out = []
    for rec in repo.list():
        path = directory / f"{rec.id}.yaml"
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(rec.text, "utf-8")
        os.replace(tmp, path)
        out.append(path)
    return out


def import_once(store: Store, directory: Path) -> None:
    """A hub from before the KB moved into the store keeps its entries: the first start that finds
    ``<data>/kb`` imports it (one node: the claim is the store's), never over an entry the store has."""
    if not any(directory.glob("*.y*ml")):
        return
    if not store.cluster.claim_key(f"{IMPORTED}{directory.resolve()}", time.time()):
        return
    done, errors = import_dir(store.kb, directory, replace_existing=False, by=f"import:{directory}")
    log.info("knowledge base: %d entries imported from %s into the store", len(done), directory)
    for e in errors:
        log.warning("knowledge base: not imported: %s", e)
