"""A readiness report as the hub's store keeps it (``store.readiness``), and back."""

from __future__ import annotations

from crashhub.readiness._model import ReadinessReport
from crashhub.store import ReadinessRecord


def record_of(report: ReadinessReport) -> ReadinessRecord:
    """The store's row of a report: keyed by release, package digest and capture setup."""
    return ReadinessRecord(release=report.release, package_digest=report.package_digest,
                           core_collector=report.core_collector, crashkernel=report.crashkernel,
                           checked_at=report.checked_at, report=report.to_dict())


def report_of(rec: ReadinessRecord) -> ReadinessReport:
    return ReadinessReport.from_dict(rec.report)
