"""Where a crash goes, inside a transaction: the merge rule of its key, else the bucket its key
names (``bucket_keys``), through merges; then the split rules of that bucket.

Shared by ingest (``add_crash``), merges, splits and rule deletion, so a rule means the same to
each.  Rules are ``crashhub.classify._rules.GroupingRule``; rows convert here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from crashhub.classify import Condition, GroupingRule, Subject, split_rule, subject_of
from crashhub.model import CrashReport
from crashhub.store import _models as m

MAX_HOPS = 16  # merged_into chains longer than this are a loop someone made by hand


def rule_of(row: m.BucketRule) -> GroupingRule:
    return GroupingRule(
        id=row.id,
        action="merge" if row.action == "merge" else "split",
        target=row.target,
        algorithm=row.algorithm,
        key=row.key,
        source=row.source,
        when=tuple(Condition.from_dict(c) for c in row.when or ()),
        created_at=row.created_at,
        created_by=row.created_by,
        note=row.note or "",
        parent=row.parent,
        version=row.version,
    )


def row_of(rule: GroupingRule) -> m.BucketRule:
    return m.BucketRule(
        id=rule.id, action=rule.action, target=rule.target, algorithm=rule.algorithm, key=rule.key,
        source=rule.source, when=[c.to_dict() for c in rule.when], created_at=rule.created_at,
        created_by=rule.created_by, note=rule.note, parent=rule.parent, version=rule.version,
    )


def live_rules(s: Session) -> list[GroupingRule]:
    q = select(m.BucketRule).where(m.BucketRule.retired_at.is_(None)).order_by(m.BucketRule.created_at)
    return [rule_of(r) for r in s.scalars(q)]


def resolve(s: Session, bucket_id: str | None) -> m.Bucket | None:
    """The live bucket ``bucket_id`` leads to through merges (None: no such bucket)."""
    b = s.get(m.Bucket, bucket_id) if bucket_id else None
    hops = 0
    while b is not None and b.merged_into and hops < MAX_HOPS:
        b = s.get(m.Bucket, b.merged_into)
        hops += 1
    return b


def merge_rule(s: Session, algorithm: str, key: str) -> GroupingRule | None:
    row = s.scalar(
        select(m.BucketRule)
        .where(m.BucketRule.action == "merge", m.BucketRule.algorithm == algorithm, m.BucketRule.key == key,
               m.BucketRule.retired_at.is_(None))
        .order_by(m.BucketRule.created_at.desc(), m.BucketRule.id.desc())
        .limit(1)
    )
    return None if row is None else rule_of(row)


def split_rules(s: Session, source: str) -> list[GroupingRule]:
    q = select(m.BucketRule).where(
        m.BucketRule.action == "split", m.BucketRule.source == source, m.BucketRule.retired_at.is_(None)
    )
    return [rule_of(r) for r in s.scalars(q)]


def by_key(s: Session, algorithm: str, key: str, legacy_id: str) -> m.Bucket | None:
    """The live bucket a key sends crashes to, before split rules: its merge rule's, else its alias's
    (``legacy_id``: the bucket a key made before aliases were kept)."""
    rule = merge_rule(s, algorithm, key)
    if rule is not None and (b := resolve(s, rule.target)) is not None:
        return b
    alias = s.get(m.BucketKey, (algorithm, key))
    found = resolve(s, alias.bucket_id) if alias is not None else None
    return found if found is not None else resolve(s, legacy_id)


def route(s: Session, default: m.Bucket, subject: Callable[[], Subject]) -> m.Bucket:
    """The bucket a crash whose key sends it to ``default`` ends in, after ``default``'s split rules
    (``subject`` is made only when there are some)."""
    rules = split_rules(s, default.id)
    if not rules:
        return default
    rule = split_rule(rules, subject())
    target = resolve(s, rule.target) if rule is not None else None
    return target if target is not None else default


def set_alias(s: Session, algorithm: str, key: str, bucket_id: str, *, at: float, origin: str) -> None:
    row = s.get(m.BucketKey, (algorithm, key))
    if row is None:
        s.add(m.BucketKey(algorithm=algorithm, key=key, bucket_id=bucket_id, created_at=at, origin=origin))
    elif row.bucket_id != bucket_id:
        row.bucket_id, row.origin = bucket_id, origin


def retire_rules(s: Session, ids: Iterable[str], *, at: float, by: str) -> None:
    for rid in ids:
        row = s.get(m.BucketRule, rid)
        if row is not None and row.retired_at is None:
            row.retired_at, row.retired_by = at, by


def crash_subject(c: m.Crash) -> Subject:
    """What split rules look at in a stored crash."""
    report = CrashReport.from_dict(c.report) if c.report else None
    return subject_of(c.id, title=c.title, host=c.host, release=c.release, hardware=c.hardware, report=report)
