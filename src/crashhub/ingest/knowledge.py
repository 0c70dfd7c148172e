"""The hub's knowledge base: the YAML directory ``<data>/kb`` (plus the package's starter KB) kept in memory.

The entries themselves are the kb helper's (:mod:`crashhub.kb`); this module adds what the hub needs:
a thread-safe cache that reloads when a file changes, writes through the API (YAML written to a temp
name and renamed, so the directory stays git-friendly and never holds half a file), and re-applying
every entry to every bucket (matches are stored per bucket and per crash).
"""

# ruff: noqa: PLC0415 - imports inside functions are deliberate: each command and stage loads
# only what it uses (the host agent installs without the hub's web and database stack).

from __future__ import annotations

import logging
import os
import re
import threading
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crashhub.errors import KbError

_TEXT_ID = re.compile(r"""^id:[ \t]*["']?([a-z0-9][a-z0-9._-]{0,79})["']?[ \t]*$""", re.M)


def _named(e: KbError, entry_id: object) -> KbError:
    """A written entry's error naming the entry (not a file that does not exist yet, nor the KB
    directory's path): "entry 'ext4-mb': field 'match.title': bad regex ...", on one line."""
    if not isinstance(entry_id, str) or not _TEXT_ID.fullmatch(f"id: {entry_id}"):
        return e
    return KbError(e.message, f"entry {entry_id!r}", e.line, e.field)

log = logging.getLogger("crashhub.kb")

if TYPE_CHECKING:
    from crashhub.kb import KbEntry
    from crashhub.model import CrashReport
    from crashhub.store import Store


def match_dict(m: Any) -> dict[str, Any]:
    """A KbMatch as the API shows it (``id`` is the entry id, per the API contract)."""
    d: dict[str, Any] = m.to_dict()
    d["id"] = d.get("entry_id")
    return d


class KnowledgeBase:
    def __init__(self, directory: Path, *, starter: bool = True) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.starter = starter
        self._lock = threading.RLock()
        self._stamp: tuple[tuple[str, int, int], ...] | None = None
        self._entries: list[KbEntry] = []
        self._starter_entries: list[KbEntry] | None = None
        self.errors: list[KbError] = []

    def _dir_stamp(self) -> tuple[tuple[str, int, int], ...]:
        out = []
        for p in sorted(self.directory.glob("*.y*ml")):
            try:
                st = p.stat()
            except FileNotFoundError:
                continue
            out.append((p.name, st.st_size, st.st_mtime_ns))
        return tuple(out)

    def entries(self) -> list[KbEntry]:
        """Local entries first (they override a starter entry of the same id), then the starter KB."""
        from crashhub.kb import check_paths, load_starter

        with self._lock:
            stamp = self._dir_stamp()
            if stamp != self._stamp:
                # A file broken by hand must not stop ingest: its entry is left out and the error kept
                # (``errors``, logged once per change) while every good entry still applies.
                self._entries, self.errors = check_paths([self.directory])
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
    ) -> list[dict[str, Any]]:
        if report is None:
            return []
        from crashhub.kb import match

        return [match_dict(m) for m in match(self.entries(), report, release=release, hardware=hardware)]

    def _path(self, entry_id: str) -> Path:
        p = self.directory / f"{entry_id}.yaml"
        if p.resolve().parent != self.directory.resolve():
            raise KbError("bad entry id", str(p), None, "id")
        return p

    def put(self, entry: KbEntry) -> KbEntry:
        """Write an entry's YAML file (validated again by parsing what was written)."""
        from crashhub.kb import dump_entry, parse_entry

        path = self._path(entry.id)
        text = dump_entry(entry)
        parse_entry(text, str(path))  # never write a file the loader would refuse
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

    def delete(self, entry_id: str) -> bool:
        path = self._path(entry_id)
        with self._lock:
            try:
                path.unlink()
            except FileNotFoundError:
                return False
            self._stamp = None
        return True

    def reapply(self, store: Store) -> int:
        """Match every bucket's latest crash again; returns how many buckets' matches changed."""
        from crashhub.ingest.reports import report_from_dict

        changed = 0
        for bid, c in sorted(store.crashes.latest_crashes().items()):
            if c.report is None:
                continue
            matches = self.match(report_from_dict(c.report), release=c.release, hardware=c.hardware)
            b = store.buckets.get_bucket(bid)
            if b is not None and b.kb != matches:
                store.buckets.set_bucket_kb(bid, matches)
                changed += 1
        return changed
