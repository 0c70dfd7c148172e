"""The readiness repository's contract (store.readiness: kernel check reports), on SQLite and
PostgreSQL alike; and a kernel check's package blobs survive gc while its job waits."""

from __future__ import annotations

import hashlib

import pytest
from tests.readiness_data import report_61, report_612

from crashhub.readiness import ReadinessReport
from crashhub.store import ReadinessRecord, Store


def _rec(r: ReadinessReport, **change: object) -> ReadinessRecord:
    d = {"release": r.release, "package_digest": r.package_digest, "core_collector": r.core_collector,
         "crashkernel": r.crashkernel, "checked_at": r.checked_at, "report": r.to_dict()}
    d.update(change)
    return ReadinessRecord.from_dict(d)


def test_save_latest_and_list(store: Store) -> None:
    r61, r612 = report_61(), report_612()
    assert store.readiness.latest(r61.release) is None and store.readiness.latest_per_release() == []
    store.readiness.save(_rec(r61))
    store.readiness.save(_rec(r612))
    got = store.readiness.latest(r612.release)
    assert got is not None and ReadinessReport.from_dict(got.report) == r612
    assert not ReadinessReport.from_dict(got.report).ready
    # The same package and setup checked again: the row is replaced, not added.
    again = _rec(r612, checked_at=r612.checked_at + 60)
    store.readiness.save(again)
    assert [x.checked_at for x in store.readiness.list(release=r612.release)] == [r612.checked_at + 60]
    # Another setup of the same package (dump level 23): a row of its own, and the newest is the answer.
    d23 = _rec(r612, core_collector="makedumpfile -l --message-level 7 -d 23",
               checked_at=r612.checked_at + 120)
    store.readiness.save(d23)
    assert len(store.readiness.list(release=r612.release)) == 2
    latest = store.readiness.latest(r612.release)
    assert latest is not None and latest.core_collector.endswith("-d 23")
    per = store.readiness.latest_per_release()
    assert [(x.release, x.checked_at) for x in per] == sorted(
        [(r61.release, r61.checked_at), (r612.release, r612.checked_at + 120)])
    everything = store.readiness.list()
    assert [x.checked_at for x in everything] == sorted((x.checked_at for x in everything), reverse=True)
    assert len(store.readiness.list(limit=1)) == 1


def test_a_key_too_long_or_a_bad_digest_is_refused(store: Store) -> None:
    r = report_61()
    with pytest.raises(ValueError, match="core_collector"):
        store.readiness.save(_rec(r, core_collector="x" * 600))
    with pytest.raises(ValueError, match="package_digest"):
        store.readiness.save(_rec(r, package_digest="abc"))
    assert store.readiness.list() == []


def test_record_round_trip() -> None:
    rec = _rec(report_612())
    assert ReadinessRecord.from_dict(rec.to_dict()) == rec


def test_a_pending_jobs_blobs_are_referenced(store: Store) -> None:
    digest = hashlib.sha256(b"linux-image.deb").hexdigest()
    jid, _ = store.jobs.enqueue_job("kernel-check", {"blobs": [digest]})
    assert digest in store.retention.referenced_digests()
    job = store.jobs.claim_job("w", 60)
    assert job is not None and digest in store.retention.referenced_digests()
    assert store.jobs.get_job(jid) is not None and store.jobs.get_job("nope") is None
    store.jobs.finish_job(jid, ok=True, result={})
    assert digest not in store.retention.referenced_digests()
