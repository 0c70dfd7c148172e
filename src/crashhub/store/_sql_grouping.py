"""Versioned grouping on SQL: aliases (``bucket_keys``), rules (``bucket_rules``), the re-key
ledger (``bucket_rekeys``) and the application of a re-key plan in one transaction.

A re-key plan moves many crashes at once, so its buckets are counted again from their crashes
(``_counting.recount``) rather than crash by crash.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from crashhub.classify import BucketInfo, GroupingRule, Plan
from crashhub.errors import StoreError
from crashhub.store import _models as m
from crashhub.store._base import now
from crashhub.store._counting import recount
from crashhub.store._grouping import Grouping
from crashhub.store._grouping_records import BucketAlias, RekeyCrash, RekeyEntry, RekeyOutcome, RekeyState
from crashhub.store._routing import (
    MAX_HOPS,
    crash_subject,
    live_rules,
    resolve,
    retire_rules,
    row_of,
    rule_of,
    set_alias,
)
from crashhub.store._sql import SqlRepository
from crashhub.store._workflow import kb_status

CHUNK = 500
LOG_ROLES = ("log", "log_from_dump")


def _chunks(items: list[str]) -> Iterable[list[str]]:
    for i in range(0, len(items), CHUNK):
        yield items[i : i + CHUNK]


def _event(s: Session, bucket: str, action: str, *, actor: str, detail: dict[str, Any], at: float) -> None:
    s.add(m.BucketEventRow(bucket_id=bucket, at=at, action=action, actor=actor, detail=detail))


def inherit(heir: m.Bucket, old: m.Bucket) -> dict[str, Any]:
    """Give ``heir`` what it lacks of ``old``'s workflow state; what it took, for the history.

    The heir keeps its own answer: an owner, advice or a status past ``new`` it already has wins.
    KB matches are joined (the next KB re-application recomputes them anyway).
    """
    took: dict[str, Any] = {}
    for name in ("owner", "advice"):
        if not getattr(heir, name) and getattr(old, name):
            setattr(heir, name, getattr(old, name))
            took[name] = True
    if (heir.status or "new") == "new" and old.status and old.status != "new":
        took["status"] = [heir.status, old.status]
        heir.status = old.status
    have = {str(x.get("id")) for x in heir.kb or []}
    extra = [x for x in old.kb or [] if str(x.get("id")) not in have]
    if extra:
        heir.kb = [*(heir.kb or []), *extra]
        heir.kb_status = kb_status(heir.kb)
        took["kb"] = [x.get("id") for x in extra]
    return took


class SqlGrouping(SqlRepository, Grouping):
    def resolve(self, ref: str) -> str | None:
        with self._read() as s:
            b = resolve(s, ref)
            if b is None:
                alias = s.scalar(select(m.BucketKey).where(m.BucketKey.key == ref).order_by(
                    m.BucketKey.created_at.desc()).limit(1))
                b = resolve(s, alias.bucket_id) if alias is not None else None
            return None if b is None else b.id

    def aliases(self, bucket_id: str) -> list[BucketAlias]:
        with self._read() as s:
            ids, frontier = {bucket_id}, [bucket_id]
            for _ in range(MAX_HOPS):  # the buckets merged (or retired) into this one, transitively
                q = select(m.Bucket.id).where(m.Bucket.merged_into.in_(frontier))
                frontier = [b for b in s.scalars(q) if b not in ids]
                if not frontier:
                    break
                ids.update(frontier)
            rows = s.scalars(select(m.BucketKey).where(m.BucketKey.bucket_id.in_(sorted(ids)))
                             .order_by(m.BucketKey.created_at, m.BucketKey.algorithm, m.BucketKey.key))
            return [BucketAlias(r.algorithm, r.key, r.bucket_id, r.created_at, r.origin) for r in rows]

    def rules(self, *, bucket: str | None = None, include_retired: bool = False) -> list[GroupingRule]:
        q = select(m.BucketRule).order_by(m.BucketRule.created_at, m.BucketRule.id)
        if not include_retired:
            q = q.where(m.BucketRule.retired_at.is_(None))
        if bucket is not None:
            q = q.where(or_(m.BucketRule.source == bucket, m.BucketRule.target == bucket))
        with self._read() as s:
            return [rule_of(r) for r in s.scalars(q)]

    def delete_rule(self, rule_id: str, actor: str) -> GroupingRule:
        t = now()
        with self._write() as s:
            row = s.get(m.BucketRule, rule_id)
            if row is None or row.retired_at is not None:
                raise StoreError(f"no live rule {rule_id!r}")
            rule = rule_of(row)
            retire_rules(s, [rule_id], at=t, by=actor)
            s.flush()
            home, there, crashes = (_unmerge if rule.action == "merge" else _unsplit)(s, rule)
            if home is None or there is None:
                return rule
            for c in crashes:
                c.bucket_id = home.id
            s.flush()
            recount(s, [home.id, there.id])
            left = s.scalar(select(func.count()).select_from(m.Crash).where(m.Crash.bucket_id == there.id))
            if rule.action == "split" and not left:
                there.merged_into = home.id  # an emptied split bucket: an alias, its URL leads on
            detail = {"rule": rule.id, "action": rule.action, "from": there.id, "to": home.id,
                      "crashes": len(crashes)}
            for bid in {home.id, there.id}:
                _event(s, bid, "rule-delete", actor=actor, detail=detail, at=t)
        return rule

    def ledger(
        self, *, bucket: str | None = None, run: str | None = None, limit: int = 1000
    ) -> list[RekeyEntry]:
        q = select(m.BucketRekey).order_by(m.BucketRekey.id.desc()).limit(max(0, int(limit)))
        if bucket is not None:
            q = q.where(or_(m.BucketRekey.old_bucket == bucket, m.BucketRekey.new_bucket == bucket))
        if run is not None:
            q = q.where(m.BucketRekey.run == run)
        with self._read() as s:
            return [
                RekeyEntry(r.run, r.at, r.from_algorithm, r.to_algorithm, r.old_key, r.new_key, r.old_bucket,
                           r.new_bucket, r.crashes, r.change, r.rule)
                for r in s.scalars(q)
            ]

    def algorithms(self) -> dict[str, int]:
        q = (select(m.Bucket.algorithm, func.count())
             .where(m.Bucket.merged_into.is_(None), m.Bucket.count > 0).group_by(m.Bucket.algorithm))
        with self._read() as s:
            return {str(a): int(n) for a, n in s.execute(q)}

    def rekey_crashes(self, *, after: str = "", limit: int = 1000) -> list[RekeyCrash]:
        q = select(m.Crash).where(m.Crash.id > after).order_by(m.Crash.id).limit(max(1, int(limit)))
        with self._read() as s:
            rows = list(s.scalars(q))
            logs: dict[str, str] = {}
            if rows:
                files = select(m.CrashFile).where(m.CrashFile.crash_id.in_([c.id for c in rows]),
                                                  m.CrashFile.role.in_(LOG_ROLES))
                for f in sorted(s.scalars(files), key=lambda f: LOG_ROLES.index(f.role), reverse=True):
                    logs[f.crash_id] = f.digest  # the sent log wins over the one read from the dump
            return [
                RekeyCrash(c.id, c.bucket_id, c.signature_algorithm, c.signature_key, c.title, c.host,
                           c.release, c.hardware, c.report,
                           c.crash_time if c.crash_time is not None else c.received_at, logs.get(c.id))
                for c in rows
            ]

    def rekey_state(self) -> RekeyState:
        with self._read() as s:
            cols = (m.Bucket.id, m.Bucket.primary, m.Bucket.first_seen, m.Bucket.merged_into)
            buckets = {b: BucketInfo(b, bool(p), float(f), mi) for b, p, f, mi in s.execute(select(*cols))}
            aliases = {(a, k): b for a, k, b in s.execute(
                select(m.BucketKey.algorithm, m.BucketKey.key, m.BucketKey.bucket_id))}
            return RekeyState(buckets, tuple(live_rules(s)), aliases)

    def apply_rekey(self, plan: Plan, new_keys: Mapping[str, str], *, run: str, actor: str) -> RekeyOutcome:
        t = now()
        with self._write() as s:
            made = _new_buckets(s, plan, run, actor, t)
            rekeyed = _set_keys(s, plan.algorithm, new_keys)
            for target, ids in _by_value(plan.moves).items():
                for part in _chunks(ids):
                    s.execute(update(m.Crash).where(m.Crash.id.in_(part)).values(bucket_id=target))
            _rekey_buckets(s, plan, run, actor, t)
            for old, into in plan.retired.items():
                _retire(s, old, into, run=run, actor=actor, t=t)
            for key, bucket in plan.keys.items():
                set_alias(s, plan.algorithm, key, bucket, at=t, origin="rekey")
            for rule in plan.new_rules:
                s.add(row_of(rule))
            retire_rules(s, plan.retired_rules, at=t, by=f"rekey {run}")
            s.flush()
            touched = {f.old_bucket for f in plan.flows} | {f.new_bucket for f in plan.flows}
            recount(s, touched | set(plan.retired) | {sv.bucket for sv in plan.survivors if sv.new})
            for f in plan.flows:
                s.add(m.BucketRekey(
                    run=run, at=t, from_algorithm=f.old_algorithm, to_algorithm=plan.algorithm,
                    old_key=f.old_key, new_key=f.new_key, old_bucket=f.old_bucket, new_bucket=f.new_bucket,
                    crashes=f.crashes, change=f.change, rule=f.rule,
                ))
        return RekeyOutcome(
            run, plan.algorithm, crashes=len(new_keys), rekeyed=rekeyed, moved=len(plan.moves),
            new_buckets=made, retired=len(plan.retired), rules_carried=len(plan.new_rules),
            flows=len(plan.flows),
        )


def _by_value(d: Mapping[str, str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = defaultdict(list)
    for k, v in d.items():
        out[v].append(k)
    return out


def _new_buckets(s: Session, plan: Plan, run: str, actor: str, t: float) -> int:
    made = 0
    for sv in plan.survivors:
        if not sv.new or s.get(m.Bucket, sv.bucket) is not None:
            continue  # made meanwhile by an ingest under the new algorithm
        heir = s.get(m.Bucket, sv.heir) if sv.heir else None
        s.add(m.Bucket(
            id=sv.bucket, algorithm=plan.algorithm, key=sv.key, primary=True,
            kind=sv.kind or (heir.kind if heir else "unknown"),
            title=sv.title or (heir.title if heir else ""),
            frames=list(sv.frames), count=0, dumps=0, first_seen=t, last_seen=t,
            kb=list(heir.kb or []) if heir else [], created_at=t,
            status=heir.status if heir else "new", owner=heir.owner if heir else None,
            advice_deadline=heir.advice_deadline if heir else None, advice=heir.advice if heir else None,
            kb_status=heir.kb_status if heir else None,
        ))
        _event(s, sv.bucket, "rekey", actor=actor, detail={"run": run, "from": sv.heir, "key": sv.key}, at=t)
        made += 1
    s.flush()
    return made


def _set_keys(s: Session, algorithm: str, new_keys: Mapping[str, str]) -> int:
    """Give crashes their keys under ``algorithm``; how many changed."""
    n = 0
    for key, ids in _by_value(new_keys).items():
        for part in _chunks(ids):
            res = s.execute(
                update(m.Crash)
                .where(m.Crash.id.in_(part),
                       or_(m.Crash.signature_algorithm != algorithm, m.Crash.signature_key != key))
                .values(signature_algorithm=algorithm, signature_key=key)
            )
            n += int(getattr(res, "rowcount", 0) or 0)
    return n


def _rekey_buckets(s: Session, plan: Plan, run: str, actor: str, t: float) -> None:
    survivors = {sv.bucket: sv for sv in plan.survivors}
    for bid, key in plan.bucket_keys.items():
        b = s.get(m.Bucket, bid)
        if b is None:
            continue
        old = (b.algorithm, b.key)
        b.algorithm, b.key = plan.algorithm, key
        sv = survivors.get(bid)
        if sv is not None and b.primary:
            # The title a new algorithm gives is the point of it; a split's own title is a user's.
            b.title, b.frames = sv.title or b.title, list(sv.frames) or b.frames
            b.kind = sv.kind or b.kind
        if old != (b.algorithm, b.key):
            change = {"run": run, "algorithm": [old[0], b.algorithm], "key": [old[1], b.key]}
            _event(s, bid, "rekey", actor=actor, detail=change, at=t)


def _retire(s: Session, old_id: str, into: str, *, run: str, actor: str, t: float) -> None:
    old, heir = s.get(m.Bucket, old_id), resolve(s, into)
    if old is None or heir is None or heir.id == old_id:
        return
    old.merged_into = heir.id
    s.execute(update(m.Bucket).where(m.Bucket.merged_into == old_id).values(merged_into=heir.id))
    took = inherit(heir, old)
    detail = {"run": run, "retired": old_id, "into": heir.id, "took": took}
    for bid in (old_id, heir.id):
        _event(s, bid, "rekey", actor=actor, detail=detail, at=t)


def _unmerge(s: Session, rule: GroupingRule) -> tuple[m.Bucket | None, m.Bucket | None, list[m.Crash]]:
    """A merge rule ended: its key's own bucket comes back to life and takes the key's crashes back."""
    assert rule.algorithm is not None and rule.key is not None
    there = resolve(s, rule.target)
    alias = s.get(m.BucketKey, (rule.algorithm, rule.key))
    home = s.get(m.Bucket, alias.bucket_id) if alias is not None else None
    if home is not None and there is not None and home.merged_into and resolve(s, home.id) is there:
        home.merged_into = None
    home = resolve(s, home.id) if home is not None else None
    if home is None or there is None or home is there:
        return None, None, []
    crashes = list(s.scalars(select(m.Crash).where(
        m.Crash.bucket_id == there.id, m.Crash.signature_algorithm == rule.algorithm,
        m.Crash.signature_key == rule.key)))
    return home, there, crashes


def _unsplit(s: Session, rule: GroupingRule) -> tuple[m.Bucket | None, m.Bucket | None, list[m.Crash]]:
    """A split rule ended: the crashes it took (and no other live split rule takes) go back."""
    home, there = resolve(s, rule.source), resolve(s, rule.target)
    if home is None or there is None or home is there:
        return None, None, []
    others = [r for r in live_rules(s) if r.action == "split" and resolve(s, r.target) is there]
    crashes = []
    for c in s.scalars(select(m.Crash).where(m.Crash.bucket_id == there.id)):
        subject = crash_subject(c)
        if rule.takes(subject) and not any(r.takes(subject) for r in others):
            crashes.append(c)
    return home, there, crashes
