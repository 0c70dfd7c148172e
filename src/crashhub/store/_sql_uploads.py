"""The uploads repository on SQL: resumable uploads and spool items, each under a lease.

A lease is taken or renewed by one conditional UPDATE, so two nodes racing for the same expired
lease cannot both win.
"""

from __future__ import annotations

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError

from crashhub.store import _models as m
from crashhub.store._base import UploadRecord, now
from crashhub.store._sql import SqlRepository
from crashhub.store._uploads import Uploads


class SqlUploads(SqlRepository, Uploads):
    # ------------------------------------------------------------------ uploads
    def get_upload(self, crash_id: str) -> UploadRecord | None:
        with self._read() as s:
            u = s.get(m.Upload, crash_id)
            return (
                None if u is None else UploadRecord(crash_id=u.crash_id, size=u.size, started_at=u.started_at)
            )

    def start_upload(self, crash_id: str, size: int | None) -> UploadRecord:
        with self._write() as s:
            u = s.get(m.Upload, crash_id)
            if u is None:
                u = m.Upload(crash_id=crash_id, size=size, started_at=now())
                s.add(u)
            elif size is not None:
                u.size = size
            return UploadRecord(crash_id=u.crash_id, size=u.size, started_at=u.started_at)

    def end_upload(self, crash_id: str) -> None:
        with self._write() as s:
            s.execute(delete(m.Upload).where(m.Upload.crash_id == crash_id))

    def claim_upload(self, crash_id: str, owner: str, lease: float) -> bool:
        t = now()
        try:
            with self._write() as s:
                if s.get(m.Upload, crash_id) is None:
                    up = m.Upload(crash_id=crash_id, size=None, started_at=t)
                    up.owner, up.lease_until = owner, t + lease
                    s.add(up)
                    return True
        except IntegrityError:
            pass  # another node made it first: compete for its lease below
        # One conditional UPDATE, so two nodes racing for an expired lease cannot both win.
        with self._write() as s:
            r = s.execute(
                update(m.Upload)
                .where(
                    m.Upload.crash_id == crash_id,
                    (m.Upload.owner.is_(None)) | (m.Upload.owner == owner) | (m.Upload.lease_until < t),
                )
                .values(owner=owner, lease_until=t + lease)
            )
            return int(getattr(r, "rowcount", 0) or 0) == 1

    def release_upload(self, crash_id: str, owner: str) -> None:
        # With no owner, ``lease_until`` is when the last request ended: where upload_expiry counts from.
        with self._write() as s:
            s.execute(
                update(m.Upload)
                .where(m.Upload.crash_id == crash_id, m.Upload.owner == owner)
                .values(owner=None, lease_until=now())
            )

    def expire_uploads(self, idle_before: float) -> list[str]:
        # Checked again in each DELETE, so an upload a node claims meanwhile (lease_until in the
        # future) is not taken from under it.
        idle = (m.Upload.started_at < idle_before) & (
            func.coalesce(m.Upload.lease_until, m.Upload.started_at) < idle_before
        )
        with self._read() as s:
            keys = list(s.scalars(select(m.Upload.crash_id).where(idle)))
        gone: list[str] = []
        for key in keys:
            with self._write() as s:
                r = s.execute(delete(m.Upload).where(m.Upload.crash_id == key, idle))
                if int(getattr(r, "rowcount", 0) or 0) == 1:
                    gone.append(key)
        return gone

    def list_uploads(self) -> list[UploadRecord]:
        with self._read() as s:
            rows = s.scalars(select(m.Upload).order_by(m.Upload.started_at)).all()
            return [UploadRecord(crash_id=u.crash_id, size=u.size, started_at=u.started_at) for u in rows]

    def release_claims(self) -> int:
        with self._write() as s:
            n = s.execute(delete(m.SpoolItem).where(m.SpoolItem.state == "running"))
            # Upload leases are freed too, but not counted: an upload record outlives its leases.
            held = m.Upload.owner.is_not(None)
            s.execute(update(m.Upload).where(held).values(owner=None, lease_until=now()))
            return int(getattr(n, "rowcount", 0) or 0)

    # ------------------------------------------------------------------ spool items
    def claim_spool_item(self, key: str, owner: str, lease: float) -> bool:
        t = now()
        try:
            with self._write() as s:
                it = s.get(m.SpoolItem, key)
                if it is None:
                    s.add(
                        m.SpoolItem(
                            key=key, state="running", owner=owner, lease_until=t + lease, updated_at=t
                        )
                    )
                    return True
                if it.state == "running" and (it.lease_until or 0) < t:
                    it.owner, it.lease_until, it.updated_at = owner, t + lease, t
                    return True
                return False
        except IntegrityError:
            return False

    def finish_spool_item(self, key: str, *, crash_id: str | None, error: str | None) -> None:
        with self._write() as s:
            it = s.get(m.SpoolItem, key)
            if it is None:
                it = m.SpoolItem(key=key, state="running", updated_at=now())
                s.add(it)
            it.state = "failed" if error else "done"
            it.crash_id, it.error, it.lease_until, it.updated_at = crash_id, error, None, now()

    def spool_item_state(self, key: str) -> str | None:
        with self._read() as s:
            it = s.get(m.SpoolItem, key)
            return None if it is None else it.state

    def release_spool_item(self, key: str) -> None:
        with self._write() as s:
            s.execute(delete(m.SpoolItem).where(m.SpoolItem.key == key, m.SpoolItem.state == "running"))

    def renew_spool_item(self, key: str, owner: str, lease: float) -> bool:
        t = now()
        with self._write() as s:
            r = s.execute(
                update(m.SpoolItem)
                .where(m.SpoolItem.key == key, m.SpoolItem.state == "running", m.SpoolItem.owner == owner)
                .values(lease_until=t + lease, updated_at=t)
            )
            return int(getattr(r, "rowcount", 0) or 0) == 1
