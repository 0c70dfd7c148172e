"""The knowledge base's entries in the database: what every node matches with.

Each entry is kept as its YAML text (what ``crashhub kb export`` writes and a reviewer reads), with
a revision number that is unique across the table: every put or delete takes the next one, and a
deleted entry keeps its row, so ``revision()`` -- one ``max()`` -- tells a node whether its parsed
copy is still current.  Parsing and validation stay in :mod:`crashhub.kb`; this repository stores
text and does not judge it.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from crashhub.store import _models as m

T = TypeVar("T")
_KB_LOCK = 0x6B62  # "kb": the advisory lock key of KB writes

if TYPE_CHECKING:
    from crashhub.store._sql import Db


@dataclass(frozen=True, slots=True)
class KbRecord:
    """One stored entry: ``text`` is its YAML."""

    id: str
    text: str
    revision: int
    updated_at: float
    updated_by: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "text": self.text, "revision": self.revision,
                "updated_at": self.updated_at, "updated_by": self.updated_by}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> KbRecord:
        by = d.get("updated_by")
        return cls(id=str(d["id"]), text=str(d["text"]), revision=int(d["revision"]),
                   updated_at=float(d["updated_at"]), updated_by=None if by is None else str(by))


class Kb(abc.ABC):
    """Knowledge-base entries shared by every node."""

    @abc.abstractmethod
    def revision(self) -> int:
        """The revision of the last write (0 for a KB never written): cheap, for cache checks."""

    @abc.abstractmethod
    def list(self) -> list[KbRecord]:
        """The live entries, by id."""

    @abc.abstractmethod
    def get(self, entry_id: str) -> KbRecord | None: ...

    @abc.abstractmethod
    def put(
        self, entry_id: str, text: str, *, by: str | None = None, replace: bool = True
    ) -> KbRecord | None:
        """Store an entry's text under the next revision; with ``replace=False`` a live entry of
        that id is left alone (an import that must not overwrite edits) and None is returned."""

    @abc.abstractmethod
    def delete(self, entry_id: str, *, by: str | None = None) -> bool:
        """Delete a live entry; False when there was none."""


def _record(r: m.KbRow) -> KbRecord:
    return KbRecord(id=r.id, text=r.text, revision=r.revision, updated_at=r.updated_at,
                    updated_by=r.updated_by)


class SqlKb(Kb):
    def __init__(self, db: Db) -> None:
        self._db = db

    def revision(self) -> int:
        with self._db.read() as s:
            return int(s.scalar(select(func.max(m.KbRow.revision))) or 0)

    def list(self) -> list[KbRecord]:
        with self._db.read() as s:
            rows = s.scalars(select(m.KbRow).where(m.KbRow.deleted.is_(False)).order_by(m.KbRow.id))
            return [_record(r) for r in rows]

    def get(self, entry_id: str) -> KbRecord | None:
        with self._db.read() as s:
            r = s.get(m.KbRow, entry_id)
            return None if r is None or r.deleted else _record(r)

    def put(
        self, entry_id: str, text: str, *, by: str | None = None, replace: bool = True
    ) -> KbRecord | None:
        def write(s: Session, rev: int) -> KbRecord | None:
            r = s.get(m.KbRow, entry_id)
            if r is not None and not r.deleted and not replace:
                return None
            if r is None:
                r = m.KbRow(id=entry_id)
                s.add(r)
            r.text, r.revision, r.deleted, r.updated_at, r.updated_by = text, rev, False, _now(), by
            s.flush()
            return _record(r)

        return self._next(write)

    def delete(self, entry_id: str, *, by: str | None = None) -> bool:
        def write(s: Session, rev: int) -> bool:
            r = s.get(m.KbRow, entry_id)
            if r is None or r.deleted:
                return False
            r.revision, r.deleted, r.updated_at, r.updated_by = rev, True, _now(), by
            return True

        return self._next(write)

    def _next(self, write: Callable[[Session, int], T]) -> T:
        """Run ``write(session, revision)`` with the next revision.  KB writes are rare, so they
        queue: SQLite's write transaction already holds the database lock, and on PostgreSQL a
        transaction-scoped advisory lock keeps two writers from reading the same maximum."""
        with self._db.write() as s:
            if self._db.dialect == "postgresql":
                s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _KB_LOCK})
            rev = int(s.scalar(select(func.max(m.KbRow.revision))) or 0) + 1
            return write(s, rev)


def _now() -> float:
    from crashhub.store._base import now  # noqa: PLC0415 - base imports this module's ABC

    return now()
