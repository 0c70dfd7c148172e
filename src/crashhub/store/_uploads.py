"""Resumable uploads and spool items, each under a lease so several nodes or watchers share them."""

from __future__ import annotations

import abc

from crashhub.store._base import UploadRecord


class Uploads(abc.ABC):
    """One transaction per method."""

    @abc.abstractmethod
    def get_upload(self, crash_id: str) -> UploadRecord | None: ...

    @abc.abstractmethod
    def start_upload(self, crash_id: str, size: int | None) -> UploadRecord: ...

    @abc.abstractmethod
    def end_upload(self, crash_id: str) -> None: ...

    @abc.abstractmethod
    def claim_upload(self, crash_id: str, owner: str, lease: float) -> bool:
        """Take the write lease of an upload (made if absent); False while another owner's lease is live."""

    @abc.abstractmethod
    def release_upload(self, crash_id: str, owner: str) -> None: ...

    @abc.abstractmethod
    def list_uploads(self) -> list[UploadRecord]: ...

    @abc.abstractmethod
    def expire_uploads(self, idle_before: float) -> list[str]:
        """Delete the records of uploads no request has touched since ``idle_before`` (and no node
        holds); returns their keys, whose bytes the caller removes from the blob store."""

    @abc.abstractmethod
    def claim_spool_item(self, key: str, owner: str, lease: float) -> bool: ...

    @abc.abstractmethod
    def finish_spool_item(self, key: str, *, crash_id: str | None, error: str | None) -> None: ...

    @abc.abstractmethod
    def spool_item_state(self, key: str) -> str | None: ...

    @abc.abstractmethod
    def release_spool_item(self, key: str) -> None:
        """Drop a running claim so the item is tried again (after a transient failure)."""

    @abc.abstractmethod
    def renew_spool_item(self, key: str, owner: str, lease: float) -> bool:
        """Extend ``owner``'s live claim (a long reassembly); False when the claim is no longer its own."""

    @abc.abstractmethod
    def release_claims(self) -> int:
        """Put running spool items back and free every upload lease (the embedded hub, the only node,
        calls it at start through ``Store.release_claims``).  Returns the spool items put back."""
