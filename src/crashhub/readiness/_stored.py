"""A readiness report as the hub's store keeps it (``store.readiness``), and back.

The store is imported when a report is stored, not with the package: the runner and the lab import
``crashhub.readiness`` without the hub's database stack.
"""

# ruff: noqa: PLC0415 - see above

from __future__ import annotations

from typing import TYPE_CHECKING

from crashhub.readiness._model import ReadinessReport

if TYPE_CHECKING:
    from crashhub.store import ReadinessRecord


def record_of(report: ReadinessReport) -> ReadinessRecord:
    """The store's row of a report: keyed by release, package digest and capture setup."""
    from crashhub.store import ReadinessRecord

    return ReadinessRecord(release=report.release, package_digest=report.package_digest,
                           core_collector=report.core_collector, crashkernel=report.crashkernel,
                           checked_at=report.checked_at, report=report.to_dict())


def report_of(rec: ReadinessRecord) -> ReadinessReport:
    return ReadinessReport.from_dict(rec.report)
