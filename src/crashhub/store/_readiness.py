"""Kernel readiness reports (``crashhub kernel check``): what each check of a kernel found.

One row per kernel package and capture setup: the release, the digest of the package's bytes, the
collector line and the ``crashkernel=`` size.  Checking the same package with the same setup again
replaces the row (the newer run is the answer); another package of the release, or another setup,
is a row of its own.  The report itself is kept as the JSON the runner made
(``crashhub.readiness.ReadinessReport.to_dict``): this repository stores it and does not judge it,
so whether a kernel is ready is derived from the report when read.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from crashhub.model import JsonObject
from crashhub.store import _models as m
from crashhub.store._sql import SqlRepository

# Bounds of the key's columns (the API and the CLI refuse longer values before they get here).
MAX_RELEASE = 255
MAX_COLLECTOR = 512
MAX_CRASHKERNEL = 128


@dataclass(frozen=True, slots=True)
class ReadinessRecord:
    """One stored check: its key, when it ran, and the report's JSON."""

    release: str
    package_digest: str
    core_collector: str
    crashkernel: str
    checked_at: float
    report: JsonObject

    def to_dict(self) -> JsonObject:
        return {"release": self.release, "package_digest": self.package_digest,
                "core_collector": self.core_collector, "crashkernel": self.crashkernel,
                "checked_at": self.checked_at, "report": self.report}

    @classmethod
    def from_dict(cls, d: JsonObject) -> ReadinessRecord:
        return cls(release=str(d["release"]), package_digest=str(d["package_digest"]),
                   core_collector=str(d["core_collector"]), crashkernel=str(d["crashkernel"]),
                   checked_at=float(d["checked_at"]), report=dict(d["report"]))


class Readiness(abc.ABC):
    """Readiness reports, one transaction per method."""

    @abc.abstractmethod
    def save(self, rec: ReadinessRecord) -> None:
        """Store a check; one of the same release, package and setup is replaced."""

    @abc.abstractmethod
    def latest(self, release: str) -> ReadinessRecord | None:
        """The newest check of a release (whatever its package or setup)."""

    @abc.abstractmethod
    def latest_per_release(self) -> list[ReadinessRecord]:
        """The newest check of every release checked, by release."""

    @abc.abstractmethod
    def releases(self) -> set[str]:
        """Every release with a report (cheap: no report is read)."""

    @abc.abstractmethod
    def list(self, *, release: str | None = None, limit: int = 100) -> list[ReadinessRecord]:
        """Checks, newest first (of one release with ``release``)."""


def _record(r: m.ReadinessRow) -> ReadinessRecord:
    return ReadinessRecord(release=r.release, package_digest=r.package_digest,
                           core_collector=r.core_collector, crashkernel=r.crashkernel,
                           checked_at=r.checked_at, report=dict(r.report))


def _check_key(rec: ReadinessRecord) -> None:
    for name, value, cap in (("release", rec.release, MAX_RELEASE), ("core_collector", rec.core_collector,
                             MAX_COLLECTOR), ("crashkernel", rec.crashkernel, MAX_CRASHKERNEL)):
        if not value or len(value) > cap:
            raise ValueError(f"readiness {name}: empty or longer than {cap} characters")
    if len(rec.package_digest) != 64:
        raise ValueError("readiness package_digest: not a sha256 hex digest")


class SqlReadiness(SqlRepository, Readiness):
    def save(self, rec: ReadinessRecord) -> None:
        _check_key(rec)
        r = m.ReadinessRow
        key = ((r.release == rec.release) & (r.package_digest == rec.package_digest)
               & (r.core_collector == rec.core_collector) & (r.crashkernel == rec.crashkernel))
        # Two nodes saving the same key at once: the loser finds the winner's row and updates it.
        for attempt in range(2):
            try:
                with self._write() as s:
                    row = s.scalar(select(m.ReadinessRow).where(key))
                    if row is None:
                        s.add(m.ReadinessRow(release=rec.release, package_digest=rec.package_digest,
                                             core_collector=rec.core_collector, crashkernel=rec.crashkernel,
                                             checked_at=rec.checked_at, report=rec.report))
                    else:
                        row.checked_at, row.report = rec.checked_at, rec.report
                return
            except IntegrityError:
                if attempt:
                    raise

    def latest(self, release: str) -> ReadinessRecord | None:
        with self._read() as s:
            row = s.scalar(select(m.ReadinessRow).where(m.ReadinessRow.release == release)
                           .order_by(m.ReadinessRow.checked_at.desc(), m.ReadinessRow.id.desc()).limit(1))
            return None if row is None else _record(row)

    def latest_per_release(self) -> list[ReadinessRecord]:
        with self._read() as s:
            newest = (select(m.ReadinessRow.release, func.max(m.ReadinessRow.checked_at).label("at"))
                      .group_by(m.ReadinessRow.release).subquery())
            r = m.ReadinessRow
            on = (r.release == newest.c.release) & (r.checked_at == newest.c.at)
            rows = s.scalars(select(r).join(newest, on).order_by(r.release, r.id.desc()))
            out: dict[str, ReadinessRecord] = {}
            for row in rows:  # two checks of one release in the same second: the later row
                out.setdefault(row.release, _record(row))
            return list(out.values())

    def releases(self) -> set[str]:
        with self._read() as s:
            return set(s.scalars(select(m.ReadinessRow.release).distinct()))

    def list(self, *, release: str | None = None, limit: int = 100) -> list[ReadinessRecord]:
        q = select(m.ReadinessRow)
        if release is not None:
            q = q.where(m.ReadinessRow.release == release)
        with self._read() as s:
            rows = s.scalars(q.order_by(m.ReadinessRow.checked_at.desc(), m.ReadinessRow.id.desc())
                             .limit(max(1, min(limit, 10_000))))
            return [_record(r) for r in rows]
