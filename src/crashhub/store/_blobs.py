"""Content-addressed blob store: logs and dumps, named by the SHA-256 of their bytes.

Bytes are always written to a temporary name first, flushed, fsync'd and then renamed onto their
digest name, so a crash record can never point at half a file: after a kill -9 the only debris is
a temp file (or a complete blob no record points at yet), and :meth:`BlobStore.gc` removes both.

``BlobStore`` is the seam for object storage: an S3 implementation needs ``put_stream``,
``open``, ``exists``, ``delete``, ``digests``, ``stat``, ``usage`` (retention) and ``local_path``
(which would download to a cache for the dump readers and analysis engines that want a seekable
file).
"""

from __future__ import annotations

import abc
import contextlib
import hashlib
import os
import secrets
import shutil
import socket
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from crashhub.errors import StoreError, TooLarge, UploadOffsetError
from crashhub.store import _private as private

CHUNK = 1 << 20
_NODE = "".join(c for c in socket.gethostname() if c.isalnum() or c == "-")[:32] or "node"


class Blob:
    # ``created``: this call stored the bytes (they were not there before), so a caller whose
    # crash record then fails to commit may remove them at once instead of leaving them to gc.
    __slots__ = ("created", "digest", "size")

    def __init__(self, digest: str, size: int, created: bool = False) -> None:
        self.digest = digest
        self.size = size
        self.created = created

    def __repr__(self) -> str:
        return f"Blob({self.digest[:12]}…, {self.size})"


class BlobStore(abc.ABC):
    @abc.abstractmethod
    def put_stream(
        self, chunks: Iterable[bytes], *, max_bytes: int | None = None, name: str = "upload"
    ) -> Blob:
        """Store the bytes of ``chunks``; raises :class:`TooLarge` past ``max_bytes`` (nothing is kept)."""

    def put_bytes(self, data: bytes) -> Blob:
        return self.put_stream([data])

    def put_file(self, path: Path, *, max_bytes: int | None = None) -> Blob:
        with open(path, "rb") as f:
            return self.put_stream(iter(lambda: f.read(CHUNK), b""), max_bytes=max_bytes, name=str(path))

    @abc.abstractmethod
    def adopt(self, path: Path) -> Blob:
        """Move a finished temp file (from :meth:`temp_path`) into the store under its digest."""

    @abc.abstractmethod
    def temp_path(self, hint: str = "tmp") -> Path:
        """A fresh path in the store's temp area (same filesystem, so adopting it is a rename)."""

    @abc.abstractmethod
    def open(self, digest: str) -> BinaryIO: ...

    @abc.abstractmethod
    def exists(self, digest: str) -> bool: ...

    @abc.abstractmethod
    def delete(self, digest: str) -> None: ...

    @abc.abstractmethod
    def digests(self) -> Iterator[tuple[str, float]]:
        """Every stored digest with its modification time."""

    @abc.abstractmethod
    def stat(self, digest: str) -> tuple[int, float] | None:
        """The blob's size and modification time; None when it is not stored."""

    @abc.abstractmethod
    def usage(self) -> int:
        """Bytes of every stored blob (what ``blob_quota_bytes`` bounds; temp and upload files aside)."""

    @abc.abstractmethod
    def local_path(self, digest: str) -> Path:
        """A local file holding the blob (the blob itself for a local store)."""

    @abc.abstractmethod
    def upload_path(self, key: str) -> Path:
        """Where a resumable upload for ``key`` accumulates its bytes."""

    # Resumable uploads that any node may continue (issue 9).  The hub holds a database lease per
    # upload (``Store.uploads.claim_upload``), so one writer at a time appends.
    @abc.abstractmethod
    def upload_offset(self, key: str) -> int:
        """Bytes of upload ``key`` received so far (0 for an upload never started)."""

    @abc.abstractmethod
    def upload_append(
        self, key: str, offset: int, chunks: Iterable[bytes], *, max_bytes: int | None = None
    ) -> int:
        """Add ``chunks`` at ``offset`` (must be the current offset, else :class:`UploadOffsetError`);
        returns the new offset.  :class:`TooLarge` past ``max_bytes`` (those bytes are not kept)."""

    @abc.abstractmethod
    def upload_finish(self, key: str, *, max_bytes: int | None = None) -> Blob:
        """Store the whole upload as one blob and drop the upload."""

    @abc.abstractmethod
    def upload_abort(self, key: str) -> None: ...

    @abc.abstractmethod
    def upload_truncate(self, key: str, offset: int) -> None:
        """Drop the bytes past ``offset`` (an offset an append started at), e.g. of a body over a limit."""

    @abc.abstractmethod
    def clean_uploads(self, keep: set[str], older_than: float) -> int:
        """Drop uploads with no upload record (``keep``: keys still open) untouched since ``older_than``."""

    def gc(
        self, referenced: Callable[[], set[str]], *, grace: float, now: float | None = None
    ) -> dict[str, int]:
        """Remove temp files and blobs no record points at, older than ``grace`` seconds."""
        t = time.time() if now is None else now
        removed_tmp = self._clean_temp(t - grace)
        refs = referenced()
        removed = 0
        for digest, mtime in list(self.digests()):
            if digest not in refs and mtime < t - grace:
                self.delete(digest)
                removed += 1
        return {"temp": removed_tmp, "blobs": removed}

    @abc.abstractmethod
    def _clean_temp(self, older_than: float) -> int: ...


def _writer_alive(name: str) -> bool:
    """Whether the process that named a temp file ``<hint>.<node>_<pid>.<random>`` may still write it.

    A temp file of a dead writer on this machine is debris at once (kill -9 mid-upload); one of a
    live writer, or of another machine sharing the store (issue 9), waits for ``blob_gc_grace``.
    """
    parts = name.rsplit(".", 2)
    node, _, pid_s = parts[1].rpartition("_") if len(parts) == 3 else ("", "", "")
    if node != _NODE or not pid_s.isdigit():
        return True
    pid = int(pid_s)
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _valid_digest(digest: str) -> str:
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise StoreError(f"not a sha256 digest: {digest!r}")
    return digest


class LocalBlobStore(BlobStore):
    """Blobs at ``<root>/sha256/ab/cd/<digest>``.

    Temp files live in ``<root>/tmp``, resumable uploads in ``<root>/uploads``: the same filesystem, so
    keeping either is a rename.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        for sub in ("sha256", "tmp", "uploads"):
            (self.root / sub).mkdir(mode=private.DIR_MODE, parents=True, exist_ok=True)

    def _path(self, digest: str) -> Path:
        d = _valid_digest(digest)
        return self.root / "sha256" / d[:2] / d[2:4] / d

    def temp_path(self, hint: str = "tmp") -> Path:
        safe = "".join(c for c in hint if c.isalnum() or c in "-_.")[:40] or "tmp"
        return self.root / "tmp" / f"{safe}.{_NODE}_{os.getpid()}.{secrets.token_hex(6)}"

    def put_stream(
        self, chunks: Iterable[bytes], *, max_bytes: int | None = None, name: str = "upload"
    ) -> Blob:
        tmp = self.temp_path(Path(name).name)
        h = hashlib.sha256()
        size = 0
        try:
            with private.create(tmp) as f:
                for chunk in chunks:
                    size += len(chunk)
                    if max_bytes is not None and size > max_bytes:
                        raise TooLarge(f"larger than the limit of {max_bytes} bytes", name)
                    h.update(chunk)
                    f.write(chunk)
                f.flush()
                os.fsync(f.fileno())
            return self._commit(tmp, h.hexdigest(), size)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            raise

    def adopt(self, path: Path) -> Blob:
        h = hashlib.sha256()
        size = 0
        with open(path, "rb") as f:
            while chunk := f.read(CHUNK):
                h.update(chunk)
                size += len(chunk)
            os.fsync(f.fileno())
        return self._commit(path, h.hexdigest(), size)

    def _commit(self, tmp: Path, digest: str, size: int) -> Blob:
        dst = self._path(digest)
        if dst.exists():
            # Same content already stored: refresh its mtime so a concurrent gc keeps it.
            tmp.unlink()
            os.utime(dst)
            return Blob(digest, size)
        dst.parent.mkdir(mode=private.DIR_MODE, parents=True, exist_ok=True)
        os.chmod(tmp, 0o640)
        os.replace(tmp, dst)
        # The rename is durable only once the directory entry is synced.
        fd = os.open(dst.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        return Blob(digest, size, created=True)

    def open(self, digest: str) -> BinaryIO:
        try:
            return open(self._path(digest), "rb")
        except FileNotFoundError:
            raise StoreError(f"blob {digest} is missing from {self.root}") from None

    def exists(self, digest: str) -> bool:
        return self._path(digest).is_file()

    def delete(self, digest: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._path(digest).unlink()

    def stat(self, digest: str) -> tuple[int, float] | None:
        try:
            st = self._path(digest).stat()
        except FileNotFoundError:
            return None
        return st.st_size, st.st_mtime

    def usage(self) -> int:
        total = 0
        for digest, _ in self.digests():
            st = self.stat(digest)
            total += st[0] if st else 0
        return total

    def digests(self) -> Iterator[tuple[str, float]]:
        base = self.root / "sha256"
        for a in sorted(base.iterdir()):
            if not a.is_dir():
                continue
            for b in sorted(a.iterdir()):
                for f in b.iterdir():
                    if len(f.name) == 64:
                        yield f.name, f.stat().st_mtime

    def local_path(self, digest: str) -> Path:
        p = self._path(digest)
        if not p.is_file():
            raise StoreError(f"blob {digest} is missing from {self.root}")
        return p

    def upload_path(self, key: str) -> Path:
        if not key or any(not (c.isalnum() or c in "-_") for c in key):
            raise StoreError(f"bad upload key {key!r}")
        return self.root / "uploads" / f"{key}.part"

    def _clean_temp(self, older_than: float) -> int:
        n = 0
        for f in (self.root / "tmp").iterdir():
            try:
                if f.stat().st_mtime < older_than or not _writer_alive(f.name):
                    if f.is_dir():
                        shutil.rmtree(f)
                    else:
                        f.unlink()
                    n += 1
            except FileNotFoundError:
                continue
        return n

    def clean_uploads(self, keep: set[str], older_than: float) -> int:
        """Remove resumable-upload files with no upload record (``keep``: keys still open)."""
        n = 0
        for f in (self.root / "uploads").glob("*.part"):
            try:
                if f.name[:-5] not in keep and f.stat().st_mtime < older_than:
                    f.unlink(missing_ok=True)
                    n += 1
            except FileNotFoundError:
                continue
        return n

    # The part file lives in the (possibly shared) blob directory, so another node can resume it.
    # A node killed mid-request leaves the bytes it wrote: the offset is the file's size, and the
    # client resumes there (every byte written is a byte the client sent at that offset).
    def upload_offset(self, key: str) -> int:
        try:
            return self.upload_path(key).stat().st_size
        except FileNotFoundError:
            return 0

    def upload_append(
        self, key: str, offset: int, chunks: Iterable[bytes], *, max_bytes: int | None = None
    ) -> int:
        part = self.upload_path(key)
        cur = self.upload_offset(key)
        if offset != cur:
            raise UploadOffsetError(f"upload {key} is at offset {cur}, not {offset}", cur)
        at = offset
        with open(part, "r+b") if offset else private.create(part) as f:
            f.seek(offset)
            try:
                for chunk in chunks:
                    if max_bytes is not None and at + len(chunk) > max_bytes:
                        raise TooLarge(f"upload {key} is larger than the limit of {max_bytes} bytes", key)
                    f.write(chunk)
                    at += len(chunk)
            except BaseException:
                # A failed request adds nothing (as a segment never completed in S3 adds nothing).
                f.truncate(offset)
                raise
            f.flush()
            os.fsync(f.fileno())
        return at

    def upload_finish(self, key: str, *, max_bytes: int | None = None) -> Blob:
        part = self.upload_path(key)
        size = self.upload_offset(key)
        if max_bytes is not None and size > max_bytes:
            self.upload_abort(key)
            raise TooLarge(f"upload {key} is larger than the limit of {max_bytes} bytes", key)
        tmp = self.temp_path(f"upload-{key}")
        try:
            os.replace(part, tmp)
        except FileNotFoundError:
            raise StoreError(f"upload {key} has no bytes in {self.root}") from None
        return self.adopt(tmp)

    def upload_abort(self, key: str) -> None:
        self.upload_path(key).unlink(missing_ok=True)

    def upload_truncate(self, key: str, offset: int) -> None:
        if offset <= 0:
            self.upload_abort(key)
            return
        with contextlib.suppress(FileNotFoundError), open(self.upload_path(key), "r+b") as f:
            f.truncate(offset)


def open_blobs(
    spec: str | Path, *, cache_dir: Path | None = None, cache_bytes: int | None = None
) -> BlobStore:
    """The blob store a spec names: ``s3://bucket/prefix`` or a directory (local or shared)."""
    s = str(spec)
    if s.startswith("s3://"):
        from crashhub.store._s3 import S3BlobStore  # noqa: PLC0415 - boto3 only when S3 is configured

        if cache_dir is None:
            raise StoreError(f"blob store {s}: an S3 store needs a local cache directory")
        extra = {} if cache_bytes is None else {"cache_max_bytes": int(cache_bytes)}
        return S3BlobStore.from_url(s, cache_dir=cache_dir, **extra)
    return LocalBlobStore(Path(s))
