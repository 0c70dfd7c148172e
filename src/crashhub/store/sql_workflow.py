"""The response workflow on the SQL store: status, owner, advice; KB matches with their status.

Every hand-made change is a bucket event (action ``workflow``) holding what changed from what to
what, so a bucket's history shows who did it.  A KB entry that starts to match a bucket nobody has
answered yet (``new``) makes it ``known_issue``, recorded the same way with the actor ``kb``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from crashhub.errors import InputError, StoreError
from crashhub.store import models as m
from crashhub.store.base import BucketRecord, day_of, now
from crashhub.store.sql_base import SqlBase
from crashhub.store.workflow import kb_status, normalize_status

MAX_OWNER = 255
MAX_ADVICE = 64 * 1024


class WorkflowOps(SqlBase):
    def _set_kb(self, s: Session, bucket_id: str, matches: list[dict[str, Any]], *, actor: str) -> None:
        b = s.get(m.Bucket, bucket_id)
        if b is None:
            return
        b.kb = matches
        ks = kb_status(matches)
        b.kb_status = ks
        if ks == "known" and (b.status or "new") == "new":
            entry = next((x.get("id") for x in matches if not x.get("generic")), None)
            s.add(
                m.BucketEventRow(
                    bucket_id=b.id,
                    at=now(),
                    action="workflow",
                    actor=actor,
                    detail={"status": [b.status, "known_issue"], "kb_entry": entry},
                )
            )
            b.status = "known_issue"

    def set_bucket_kb(self, bucket_id: str, matches: list[dict[str, Any]]) -> None:
        with self._write() as s:
            self._set_kb(s, bucket_id, matches, actor="kb")

    def set_bucket_workflow(
        self,
        bucket_id: str,
        *,
        status: str | None = None,
        owner: str | None = None,
        advice: str | None = None,
        actor: str,
    ) -> BucketRecord:
        """Change status, owner and/or advice (None: unchanged; an empty owner or advice clears it)."""
        new_status = normalize_status(status) if status is not None else None
        if owner is not None:
            owner = owner.strip()
            if len(owner) > MAX_OWNER or any(ord(c) < 32 for c in owner):
                raise InputError(f"owner: at most {MAX_OWNER} printable characters", "owner")
        if advice is not None and len(advice) > MAX_ADVICE:
            raise InputError(f"advice: at most {MAX_ADVICE} characters", "advice")
        with self._write() as s:
            b = s.get(m.Bucket, bucket_id)
            if b is None:
                raise StoreError(f"no bucket {bucket_id!r}")
            if b.merged_into:
                raise StoreError(f"bucket {bucket_id} is merged into {b.merged_into}; change that one")
            changed: dict[str, Any] = {}
            for name, value in (("status", new_status), ("owner", owner), ("advice", advice)):
                if value is None:
                    continue
                new = value or None  # "" clears owner / advice
                old = getattr(b, name)
                if old != new:
                    changed[name] = [old, new]
                    setattr(b, name, new)
            if changed:
                if "advice" in changed:  # the text is in the bucket; the history keeps its size
                    changed["advice"] = [len(changed["advice"][0] or ""), len(changed["advice"][1] or "")]
                s.add(
                    m.BucketEventRow(bucket_id=b.id, at=now(), action="workflow", actor=actor, detail=changed)
                )
            s.flush()
            bid = b.id
        rec = self.get_bucket(bid, today=day_of(now()))  # type: ignore[attr-defined]
        assert rec is not None
        return rec  # type: ignore[no-any-return]
