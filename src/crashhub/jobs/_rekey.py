"""The re-key job: regroup every stored crash under the current signature algorithm.

A hub that starts with live buckets keyed by another algorithm than ``crashhub.classify.ALGORITHM``
queues one ``rekey`` job (``submit_if_needed``; the job's key makes it one per cluster and
algorithm); ``crashhub buckets rekey`` runs the same by hand.  The job holds the cluster lease
``rekey`` while it works, so two nodes never re-key at once.

Each crash's new key is computed from its stored kernel log (triage runs again: the algorithm id
names the whole recipe, triage's part included), or from its stored report when the log is gone.
The plan (``crashhub.classify._rekey``) is applied by the store in one transaction.  Crashes ingested
meanwhile under the new algorithm may have made buckets of their own: the next round, which finds
every crash keyed already and costs no triage, joins them; rounds stop when a plan is empty.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING, Any

from crashhub import triage
from crashhub.classify import ALGORITHM, CrashKey, Plan, plan, signature, subject_of
from crashhub.errors import CrashhubError, StoreError
from crashhub.model import CrashReport
from crashhub.store import RekeyCrash, RekeyOutcome, bucket_id_for, new_id, node_name

if TYPE_CHECKING:
    from crashhub.jobs._base import Queue
    from crashhub.store import BlobStore, Store

log = logging.getLogger("crashhub.jobs._rekey")

KIND = "rekey"
LEASE = "rekey"
LEASE_TTL = 900.0  # renewed every page of crashes
PAGE = 500
ROUNDS = 3
# The key ingest gives a log with no crash report in it (crashhub.ingest._arrival.NO_REPORT_KIND).
NO_REPORT_KEY = "unrecognised"


@dataclass(frozen=True, slots=True)
class Rekeyed:
    """A crash with its key under the current algorithm, and the report that gave it."""

    key: str
    report: CrashReport | None
    title: str = ""
    frames: tuple[str, ...] = ()


def new_key(crash: RekeyCrash, read_log: Callable[[str], bytes] | None) -> Rekeyed:
    """The crash's key under ``ALGORITHM``: from its log triaged again, else its stored report."""
    report: CrashReport | None = None
    if crash.log_digest and read_log is not None:
        try:
            reports = triage.parse(read_log(crash.log_digest))
            report = reports[0] if reports else None
        except CrashhubError as e:
            log.warning("crash %s: log %s unreadable (%s); its stored report decides", crash.id,
                        crash.log_digest, e)
            report = CrashReport.from_dict(crash.report) if crash.report else None
    elif crash.report:
        report = CrashReport.from_dict(crash.report)
    if report is None:
        return Rekeyed(NO_REPORT_KEY, None)
    sig = signature(report)
    return Rekeyed(sig.key, report, sig.title, sig.frames)


def _reader(blobs: BlobStore | None) -> Callable[[str], bytes] | None:
    if blobs is None:
        return None

    def read(digest: str) -> bytes:
        with blobs.open(digest) as f:
            return f.read()

    return read


@dataclass
class Rekey:
    """One re-key of a store: plan rounds, applied or (``dry_run``) only planned."""

    store: Store
    blobs: BlobStore | None
    actor: str = "rekey"
    node: str = ""
    dry_run: bool = False

    def __post_init__(self) -> None:
        self.node = self.node or node_name()

    def run(self) -> list[RekeyOutcome]:
        if not self.store.cluster.try_lease(LEASE, self.node, LEASE_TTL):
            holder = self.store.cluster.lease_holder(LEASE)
            raise StoreError(f"another node ({holder}) is re-keying the buckets; try again when it is done")
        try:
            out = []
            for _ in range(ROUNDS):
                p, keys = self.plan()
                if p.empty:
                    break
                run = new_id("k")
                if self.dry_run:
                    out.append(_outcome(run, p, keys))
                    break
                out.append(self.store.grouping.apply_rekey(p, keys, run=run, actor=self.actor))
                log.info("re-key %s: %s", run, out[-1].to_dict())
            return out
        finally:
            self.store.cluster.release_lease(LEASE, self.node)

    def plan(self) -> tuple[Plan, dict[str, str]]:
        """The plan of one round, and every crash's key under ``ALGORITHM``."""
        state = self.store.grouping.rekey_state()
        splits = any(r.action == "split" for r in state.rules)  # subjects need frames only then
        crashes: list[CrashKey] = []
        after, read = "", _reader(self.blobs)
        while page := self.store.grouping.rekey_crashes(after=after, limit=PAGE):
            crashes.extend(_crash_key(c, read, splits) for c in page)
            after = page[-1].id
            self.store.cluster.renew_lease(LEASE, self.node, LEASE_TTL)
        p = plan(ALGORITHM, crashes, state.buckets, state.rules, aliases=state.aliases,
                 new_bucket_id=partial(bucket_id_for, ALGORITHM), new_rule_id=partial(new_id, "r"))
        return p, {c.id: c.new_key for c in crashes}


def _crash_key(c: RekeyCrash, read: Callable[[str], bytes] | None, frames: bool) -> CrashKey:
    if c.algorithm == ALGORITHM:
        # Keyed by this algorithm already: its key stands (the golden keys test guarantees it).
        got = Rekeyed(c.key, CrashReport.from_dict(c.report) if c.report and frames else None)
    else:
        got = new_key(c, read)
    subject = subject_of(c.id, title=c.title, host=c.host, release=c.release, hardware=c.hardware,
                         report=got.report if frames else None)
    kind = got.report.kind if got.report else ""
    return CrashKey(c.id, c.bucket_id, c.algorithm, c.key, got.key, subject, title=got.title,
                    frames=got.frames, kind=kind, seen=c.seen)


def _outcome(run: str, p: Plan, keys: dict[str, str]) -> RekeyOutcome:
    """What applying ``p`` would do (a dry run)."""
    return RekeyOutcome(run, p.algorithm, crashes=len(keys), moved=len(p.moves),
                        new_buckets=sum(s.new for s in p.survivors), retired=len(p.retired),
                        rules_carried=len(p.new_rules), flows=len(p.flows))


def stale_algorithms(store: Store) -> dict[str, int]:
    """Live buckets keyed by algorithms other than the current one."""
    return {a: n for a, n in store.grouping.algorithms().items() if a != ALGORITHM}


def submit_if_needed(store: Store, queue: Queue) -> str | None:
    """Queue the re-key when live buckets carry another algorithm (a hub's start): the job's key
    makes it one job per cluster and algorithm, whichever node starts first."""
    stale = stale_algorithms(store)
    if not stale:
        return None
    log.info("buckets keyed by %s, the algorithm is %s: re-keying in the background", stale, ALGORITHM)
    return queue.submit(KIND, {"algorithm": ALGORITHM}, key=f"{KIND}:{ALGORITHM}")


def rekey_job(store: Store, blobs: BlobStore, payload: dict[str, Any]) -> dict[str, Any]:
    """The ``rekey`` job kind: re-key to the current algorithm (a job queued for an older one is done)."""
    wanted = payload.get("algorithm", ALGORITHM)
    if wanted != ALGORITHM:
        return {"status": "skipped", "reason": f"queued for {wanted}, this hub keys with {ALGORITHM}"}
    rounds = Rekey(store, blobs).run()
    return {"status": "done", "rounds": [r.to_dict() for r in rounds]}


def total(rounds: list[RekeyOutcome]) -> RekeyOutcome:
    """The rounds of one re-key summed (run: the first round's)."""
    if not rounds:
        return RekeyOutcome("", ALGORITHM)
    first = rounds[0]
    return replace(
        first,
        rekeyed=sum(r.rekeyed for r in rounds), moved=sum(r.moved for r in rounds),
        new_buckets=sum(r.new_buckets for r in rounds), retired=sum(r.retired for r in rounds),
        rules_carried=sum(r.rules_carried for r in rounds), flows=sum(r.flows for r in rounds),
    )
