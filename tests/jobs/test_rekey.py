"""The re-key job on a hub holding the kept lab crashes: a new algorithm id re-keys every bucket
(1:1 here, so no URL changes), users' merges and splits hold, later crashes follow, and a hub start
queues the job once."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from dataclasses import replace
from functools import partial
from pathlib import Path

import pytest
from tests.classify.test_signature import _perturb
from tests.labdata import LOGS

from crashhub import config
from crashhub.classify import ALGORITHM, Condition
from crashhub.ingest._arrival import NO_REPORT_KIND, Arrival, Pipeline
from crashhub.jobs import LocalQueue
from crashhub.jobs import _rekey as rekey
from crashhub.knowledge import KnowledgeBase
from crashhub.store import Hub, open_store

# The module, not the function of the same name the package exports.
sigmod = importlib.import_module("crashhub.classify._signature")
NEW = "sig:2099-01"
CASES = ("6.1-null-1", "6.1-null-2", "6.12-null-1", "6.1-sysrq-1", "6.12-sysrq-1", "6.1-warn-1", "6.1-hung-1")


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    h = open_store(config.load(tmp_path / "data", env={}))
    yield h
    h.close()


@pytest.fixture
def pipeline(hub: Hub) -> Pipeline:
    p = Pipeline(hub, KnowledgeBase(hub.settings.kb_path))
    for name in CASES:
        log = (Path(LOGS) / f"{name}.vmcore-dmesg.txt").read_bytes()
        p.ingest(Arrival(log=log, host="web1", source="cli"))
    return p


def bump(monkeypatch: pytest.MonkeyPatch) -> None:
    """What one more line of RECIPES does: the same recipe under a new id, so every key changes."""
    recipe = sigmod.Recipe(NEW, sigmod.TOP_FRAMES, "test: a triage change")
    monkeypatch.setattr(rekey, "ALGORITHM", NEW)
    monkeypatch.setattr(rekey, "signature", partial(sigmod._signature, recipe))


def _crash_of(hub: Hub, case: str) -> str:
    release = "6.12" if case.startswith("6.12") else "6.1"
    kind = case.split("-")[1]
    for c in hub.store.crashes.list_crashes(limit=100):
        if (c.release or "").startswith(release + ".") and kind in (c.report or {}).get("title", "").lower():
            return c.id
    raise AssertionError(case)


def test_a_new_algorithm_rekeys_every_bucket_and_users_choices_hold(
    hub: Hub, pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = hub.store
    buckets = {b.id: b for b in store.buckets.list_buckets()}
    null = store.crashes.get_crash(_crash_of(hub, "6.1-null-1"))
    sysrq = store.crashes.get_crash(_crash_of(hub, "6.1-sysrq-1"))
    assert null is not None and sysrq is not None
    # A user's choices: the 6.12 null crashes in a bucket of their own, sysrq merged into warn, an owner.
    split = store.buckets.split_bucket(null.bucket_id, [], "ana", when=[Condition("release", "6.12.*")])
    warn = next(b for b in buckets.values() if b.kind == "warning")
    store.buckets.merge_buckets(sysrq.bucket_id, warn.id, "ana")
    store.buckets.set_bucket_workflow(null.bucket_id, owner="ana", status="investigating", actor="ana")
    before = {b.id: b.count for b in store.buckets.list_buckets()}

    bump(monkeypatch)
    assert rekey.stale_algorithms(store) == {ALGORITHM: len(before)}
    rounds = rekey.Rekey(store, hub.blobs).run()
    assert len(rounds) == 1 and rounds[0].rekeyed == len(CASES) and rounds[0].moved == 0
    assert rekey.stale_algorithms(store) == {}
    after = {b.id: b for b in store.buckets.list_buckets()}
    assert {b: x.count for b, x in after.items()} == before  # 1:1: same buckets, same ids, same crashes
    assert all(b.algorithm == NEW for b in after.values())
    assert {e.change for e in store.grouping.ledger()} == {"rename"}
    kept = after[null.bucket_id]
    assert (kept.owner, kept.status) == ("ana", "investigating")
    # The old key and the old id still lead to the buckets that took them.
    assert store.grouping.resolve(null.signature_key) == null.bucket_id
    assert store.grouping.resolve(sysrq.bucket_id) == warn.id
    # The merge rule moved on to sysrq's new key; the split rule stayed with its bucket.
    rules = store.grouping.rules()
    assert {(r.action, r.algorithm) for r in rules} == {("merge", NEW), ("split", None)}
    # Later crashes (keyed by the new algorithm at ingest) follow the users' choices.
    monkeypatch.setattr("crashhub.classify.signature", rekey.signature)  # what ingest calls
    later = _later(pipeline, "6.12-null-1")
    assert later.crash.signature_algorithm == NEW and later.crash.bucket_id == split.id
    assert _later(pipeline, "6.1-sysrq-1").crash.bucket_id == warn.id
    assert rekey.Rekey(store, hub.blobs).run() == []  # nothing left to do


def _later(pipeline: Pipeline, case: str):  # type: ignore[no-untyped-def]
    text = (Path(LOGS) / f"{case}.vmcore-dmesg.txt").read_text()
    return pipeline.ingest(Arrival(log=_perturb(text, 7).encode(), host="web9", source="cli"))


def test_the_stored_report_decides_when_the_log_is_gone(hub: Hub, pipeline: Pipeline,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    c = hub.store.crashes.get_crash(_crash_of(hub, "6.1-warn-1"))
    assert c is not None
    log = next(f for f in c.files if f.role == "log")
    hub.blobs.delete(log.digest)
    bump(monkeypatch)
    rows = {r.id: r for r in hub.store.grouping.rekey_crashes()}
    got = rekey.new_key(rows[c.id], rekey._reader(hub.blobs))
    assert got.key == rekey.signature(got.report).key  # type: ignore[arg-type]
    assert got.report is not None and got.report.title == (c.report or {})["title"]


def test_a_log_without_a_report_keeps_the_no_report_key() -> None:
    assert rekey.NO_REPORT_KEY == NO_REPORT_KIND  # the key ingest gives such a log


def test_a_start_queues_one_rekey_per_cluster(hub: Hub, pipeline: Pipeline,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    queue = LocalQueue(hub.store, workers=0)
    queue.register(rekey.KIND, lambda p: rekey.rekey_job(hub.store, hub.blobs, p))
    assert rekey.submit_if_needed(hub.store, queue) is None  # every bucket keyed by the current id
    bump(monkeypatch)
    first = rekey.submit_if_needed(hub.store, queue)
    assert first is not None and rekey.submit_if_needed(hub.store, queue) == first  # another node: same job
    assert queue.drain(30)
    (job,) = hub.store.jobs.list_jobs()
    assert job.state == "done" and job.result and job.result["status"] == "done"
    assert rekey.stale_algorithms(hub.store) == {}


def test_one_node_rekeys_at_a_time(hub: Hub, pipeline: Pipeline) -> None:
    assert hub.store.cluster.try_lease(rekey.LEASE, "other-node", 60)
    with pytest.raises(Exception, match="other-node"):
        rekey.Rekey(hub.store, hub.blobs).run()


def test_a_coarser_algorithm_merges_buckets_and_keeps_their_state(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """An algorithm that keys by kind alone: the lab's GPF and use-after-free (both general protection
    faults) become one bucket; the larger keeps its id, the other becomes its alias and hands over the
    owner it lacked; the ledger says merge; a second re-key has nothing to do."""
    h = open_store(config.load(tmp_path / "data", env={}))
    try:
        p = Pipeline(h, KnowledgeBase(h.settings.kb_path))
        for name in ("6.1-gpf-1", "6.12-gpf-1", "6.1-uaf-1", "6.1-null-1"):
            log = (Path(LOGS) / f"{name}.vmcore-dmesg.txt").read_bytes()
            p.ingest(Arrival(log=log, host="h", source="cli"))
        by_title = {b.title: b for b in h.store.buckets.list_buckets()}
        gpf = next(b for t, b in by_title.items() if "crashmod_gpf" in t)
        uaf = next(b for t, b in by_title.items() if "crashmod_uaf" in t)
        h.store.buckets.set_bucket_workflow(uaf.id, owner="ana", actor="ana")

        def by_kind(report):  # type: ignore[no-untyped-def]
            return replace(sigmod._signature(sigmod.RECIPES[-1], report), algorithm=NEW, key=report.kind)

        monkeypatch.setattr(rekey, "ALGORITHM", NEW)
        monkeypatch.setattr(rekey, "signature", by_kind)
        (out,) = rekey.Rekey(h.store, h.blobs).run()
        assert (out.moved, out.retired, out.new_buckets) == (1, 1, 0)
        kept = h.store.buckets.get_bucket(gpf.id)
        assert kept is not None and (kept.count, kept.key, kept.owner) == (3, "gpf", "ana")
        assert h.store.grouping.resolve(uaf.id) == gpf.id == h.store.grouping.resolve(uaf.key)
        changes = {(e.old_bucket, e.change, e.crashes) for e in h.store.grouping.ledger()}
        assert (gpf.id, "merge", 2) in changes and (uaf.id, "merge", 1) in changes
        assert rekey.Rekey(h.store, h.blobs).run() == []
    finally:
        h.close()
