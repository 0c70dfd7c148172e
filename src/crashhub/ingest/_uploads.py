"""Resumable dump uploads that any hub node may continue (issue 9).

The bytes live in the blob store (the ``.part`` file of a shared directory, or segment objects in
S3), the upload's record and its write lease in the database: a node takes the lease for the length
of one request (``Store.uploads.claim_upload``), renews it while the body streams in, and gives it back at the
end.  A node killed mid-request simply stops renewing; once the lease has expired any node takes the
next request at the offset the blob store reports, so the client resumes on another node.

The request body arrives in pieces of at most :data:`PIECE` bytes; each piece is appended (and made
durable) as one unit, so a kill loses at most the piece in flight, never bytes before it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import time
from typing import TYPE_CHECKING

from crashhub.errors import CrashhubError, DumpError, InputError, UploadLeaseLost
from crashhub.model import UploadState
from crashhub.store import LocalBlobStore

if TYPE_CHECKING:
    from crashhub.ingest._arrival import Pipeline
    from crashhub.store import BlobStore, CrashRecord, Hub, Store

PIECE = 8 << 20
DEFAULT_LEASE = 60.0
_HOST = "".join(c for c in socket.gethostname() if c.isalnum() or c == "-")[:24] or "node"


class Uploads:
    def __init__(self, pipeline: Pipeline, *, lease: float = DEFAULT_LEASE) -> None:
        self.pipeline = pipeline
        self.lease = lease

    @property
    def _store(self) -> Store:
        return self.pipeline.hub.store

    @property
    def _blobs(self) -> BlobStore:
        return self.pipeline.hub.blobs

    def state(self, crash_id: str) -> UploadState:
        c = self._store.crashes.get_crash(crash_id)
        if c is None:
            raise InputError(f"no crash {crash_id!r}")
        dump = next((f for f in c.files if f.role == "vmcore"), None)
        if c.has_vmcore and dump is not None:
            if self._store.uploads.get_upload(crash_id) is not None:
                # A node died between attaching the dump and ending its upload: the record (and any
                # bytes) outlived the upload it tracked; whoever asks next ends it.
                self._blobs.upload_abort(crash_id)
                self._store.uploads.end_upload(crash_id)
            return UploadState(dump.size, dump.size, complete=True)
        up = self._store.uploads.get_upload(crash_id)
        offset = self._blobs.upload_offset(crash_id) if up is not None else 0
        return UploadState(offset, up.size if up else None)

    def claim(self, crash_id: str) -> str | None:
        """This request's owner name once it holds the upload's lease; None while another holds it."""
        owner = f"{_HOST}-{os.getpid()}-{secrets.token_hex(4)}"
        return owner if self._store.uploads.claim_upload(crash_id, owner, self.lease) else None

    def release(self, crash_id: str, owner: str) -> None:
        with contextlib.suppress(CrashhubError):
            self._store.uploads.release_upload(crash_id, owner)

    def begin(self, crash_id: str, total: int | None, start: int) -> None:
        self._store.uploads.start_upload(crash_id, total)
        if start == 0 and self._blobs.upload_offset(crash_id):
            # A fresh upload from byte 0 replaces whatever an earlier attempt left.
            self._blobs.upload_abort(crash_id)

    def append(self, crash_id: str, owner: str, offset: int, data: bytes) -> int:
        if not self._store.uploads.claim_upload(crash_id, owner, self.lease):  # renews our own lease
            raise UploadLeaseLost(f"upload {crash_id}: another node took the upload over", crash_id)
        # The route checks each Content-Range against the cap; this holds whatever a route forgets.
        cap = self.pipeline.settings.max_dump_bytes
        return self._blobs.upload_append(crash_id, offset, [data], max_bytes=cap)

    def rollback(self, crash_id: str, offset: int) -> None:
        """Drop what this request appended past ``offset`` (the body broke a limit)."""
        self._blobs.upload_truncate(crash_id, offset)

    def finish(self, crash_id: str) -> CrashRecord:
        """Verify and attach the whole upload as the crash's dump; the upload is gone either way."""
        blobs = self._blobs
        cap = self.pipeline.settings.max_dump_bytes
        try:
            if isinstance(blobs, LocalBlobStore):
                # A rename on the shared directory: the dump is hashed once, while it is stored.
                tmp = blobs.temp_path("vmcore")
                try:
                    os.replace(blobs.upload_path(crash_id), tmp)
                except FileNotFoundError:
                    raise InputError(f"upload {crash_id} has no bytes") from None
                try:
                    return self.pipeline.add_dump(crash_id, tmp, is_temp=True)
                finally:
                    tmp.unlink(missing_ok=True)
            blob = blobs.upload_finish(crash_id, max_bytes=cap)
            return self.pipeline.add_dump(crash_id, blobs.local_path(blob.digest), is_temp=False)
        except (DumpError, InputError):
            blobs.upload_abort(crash_id)
            raise
        finally:
            self._store.uploads.end_upload(crash_id)


def expire_uploads(hub: Hub) -> int:
    """Remove uploads no request touched for ``upload_expiry`` seconds, record and bytes; how many.

    The hub's periodic garbage collection and ``crashhub gc`` call it; the client of an expired
    upload is told offset 0 and sends the dump again."""
    expiry = hub.settings.upload_expiry
    if expiry <= 0:
        return 0
    gone = hub.store.uploads.expire_uploads(time.time() - expiry)
    for key in gone:
        hub.blobs.upload_abort(key)
    return len(gone)
