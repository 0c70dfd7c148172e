"""A content-addressed blob store on S3-compatible object storage (AWS S3, MinIO, Ceph RGW) via boto3.

Layout under ``s3://bucket/prefix/``:

- ``sha256/ab/cd/<digest>``: the blobs, keyed by the SHA-256 of their bytes;
- ``tmp/<hint>.<node>_<pid>.<random>``: objects of streams larger than one part, while they are written;
- ``uploads/<key>/<offset>``: the segments of a resumable upload, which any node can continue.

Temp then commit: a stream that fits in one part is hashed in memory and PUT straight to its digest key
(a PUT is atomic: readers see all of it or nothing).  A larger stream is sent as a multipart upload to a
temp key while it is hashed, then copied server-side onto its digest key and the temp object deleted; a
multipart upload is invisible until completed and a copy is atomic, so a crash record never points at
half an object.  What a killed writer leaves (an unfinished multipart upload or a temp object) is
removed by :meth:`S3BlobStore.gc` once older than the grace period.

Endpoint, region and credentials come from boto3's usual chain (``AWS_ENDPOINT_URL``,
``AWS_REGION``/``AWS_DEFAULT_REGION``, ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``,
``AWS_PROFILE``, ``~/.aws/config``, instance roles); explicit arguments override them.

``local_path`` materialises a blob into a bounded local cache for the dump readers and analysis
engines that need a seekable file; the least recently used files are evicted past ``cache_max_bytes``.
"""

# ruff: noqa: PLC0415 - boto3 is imported lazily: the embedded hub runs without it.

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import secrets
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import urlsplit

from crashhub.errors import ConfigError, StoreError, TooLarge, UploadOffsetError
from crashhub.store import _private as private
from crashhub.store._blobs import (
    _NODE,
    CHUNK,
    Blob,
    BlobStore,
    _valid_digest,
    _writer_alive,
)

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client

# S3 wants every part but the last to be at least 5 MiB; 16 MiB keeps a 64 GiB dump under the
# 10,000-part limit (16 MiB × 10,000 = 156 GiB) while bounding the memory of one upload.
PART_SIZE = 16 << 20
MAX_PARTS = 10_000
DEFAULT_CACHE_BYTES = 32 << 30


def parse_url(url: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` -> ``("bucket", "some/prefix")`` (prefix without slashes at the ends)."""
    u = urlsplit(url)
    if u.scheme != "s3" or not u.netloc:
        raise ConfigError(f"not an s3://bucket/prefix URL: {url!r}", "blob_store")
    prefix = u.path.strip("/")
    if any(part in ("", ".", "..") for part in prefix.split("/")) and prefix:
        raise ConfigError(f"bad prefix in {url!r}", "blob_store")
    return u.netloc, prefix


class _BodyReader(io.RawIOBase):
    """A raw, read-only, non-seekable file over a botocore ``StreamingBody``."""

    def __init__(self, body: Any) -> None:
        self._body = body

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        mv = memoryview(b).cast("B")
        data = self._body.read(len(mv))
        mv[: len(data)] = data
        return len(data)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._body.close()
        super().close()


def _upload_key(key: str) -> str:
    if not key or len(key) > 128 or any(not (c.isalnum() or c in "-_") for c in key):
        raise StoreError(f"bad upload key {key!r}")
    return key


def _is_missing(e: Exception) -> bool:
    resp = getattr(e, "response", None)
    code = str((resp or {}).get("Error", {}).get("Code", ""))
    return code in ("404", "NoSuchKey", "NotFound")


class S3BlobStore(BlobStore):
    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        cache_dir: Path,
        cache_max_bytes: int = DEFAULT_CACHE_BYTES,
        client: S3Client | None = None,
        endpoint_url: str | None = None,
        region: str | None = None,
        part_size: int = PART_SIZE,
    ) -> None:
        if part_size < 5 << 20:
            raise ConfigError("S3 multipart parts must be at least 5 MiB", "part_size")
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.part_size = part_size
        self.cache_dir = Path(cache_dir)
        self.cache_max_bytes = cache_max_bytes
        for sub in ("sha256", "tmp", "uploads"):
            (self.cache_dir / sub).mkdir(mode=private.DIR_MODE, parents=True, exist_ok=True)
        if client is None:
            import boto3
            from botocore.config import Config

            # Retries in "standard" mode back off on throttling and 5xx, which object stores under
            # load answer with; timeouts bound a stalled connection instead of hanging a worker.
            cfg = Config(
                retries={"max_attempts": 5, "mode": "standard"}, connect_timeout=10, read_timeout=120
            )
            client = boto3.session.Session().client(
                "s3", endpoint_url=endpoint_url, region_name=region, config=cfg
            )
        self.s3: S3Client = client

    @classmethod
    def from_url(cls, url: str, *, cache_dir: Path, **kwargs: Any) -> S3BlobStore:
        bucket, prefix = parse_url(url)
        return cls(bucket, prefix, cache_dir=cache_dir, **kwargs)

    def __repr__(self) -> str:
        return f"S3BlobStore(s3://{self.bucket}/{self.prefix})"

    # -------------------------------------------------------------- keys
    def _key(self, *parts: str) -> str:
        return "/".join(p for p in (self.prefix, *parts) if p)

    def _blob_key(self, digest: str) -> str:
        d = _valid_digest(digest)
        return self._key("sha256", d[:2], d[2:4], d)

    def _temp_name(self, hint: str) -> str:
        safe = "".join(c for c in hint if c.isalnum() or c in "-_.")[:40] or "tmp"
        return f"{safe}.{_NODE}_{os.getpid()}.{secrets.token_hex(6)}"

    def _err(self, what: str, e: Exception) -> StoreError:
        return StoreError(f"s3://{self.bucket}/{self.prefix}: {what}: {e}")

    # -------------------------------------------------------------- writing
    def put_stream(
        self, chunks: Iterable[bytes], *, max_bytes: int | None = None, name: str = "upload"
    ) -> Blob:
        h = hashlib.sha256()
        size = 0
        buf = bytearray()
        upload: _Multipart | None = None
        try:
            for chunk in chunks:
                size += len(chunk)
                if max_bytes is not None and size > max_bytes:
                    raise TooLarge(f"larger than the limit of {max_bytes} bytes", name)
                h.update(chunk)
                buf += chunk
                while len(buf) >= self.part_size:
                    if upload is None:
                        upload = _Multipart(self, self._key("tmp", self._temp_name(Path(name).name)))
                    upload.send(bytes(buf[: self.part_size]))
                    del buf[: self.part_size]
            digest = h.hexdigest()
            if upload is None:
                return self._put_small(bytes(buf), digest)
            if buf:
                upload.send(bytes(buf))
            upload.complete()
            return self._commit_temp(upload.key, digest, size)
        except BaseException:
            if upload is not None:
                upload.abort()
            raise

    def _put_small(self, data: bytes, digest: str) -> Blob:
        key = self._blob_key(digest)
        if self.exists(digest):
            self._touch(key)
            return Blob(digest, len(data))
        try:
            self.s3.put_object(Bucket=self.bucket, Key=key, Body=data, ChecksumAlgorithm="SHA256")
        except Exception as e:
            raise self._err(f"put {key}", e) from None
        return Blob(digest, len(data))

    def _commit_temp(self, temp_key: str, digest: str, size: int) -> Blob:
        key = self._blob_key(digest)
        try:
            if self.exists(digest):
                self._touch(key)
            else:
                # Managed copy: server-side, multipart above 8 MiB (a single CopyObject stops at 5 GiB).
                self.s3.copy({"Bucket": self.bucket, "Key": temp_key}, self.bucket, key)
        except StoreError:
            raise
        except Exception as e:
            raise self._err(f"commit {temp_key} -> {key}", e) from None
        finally:
            with contextlib.suppress(Exception):
                self.s3.delete_object(Bucket=self.bucket, Key=temp_key)
        return Blob(digest, size)

    def _touch(self, key: str) -> None:
        """Refresh LastModified of an existing blob so a concurrent gc's grace period keeps it."""
        with contextlib.suppress(Exception):
            self.s3.copy_object(
                Bucket=self.bucket,
                Key=key,
                CopySource={"Bucket": self.bucket, "Key": key},
                MetadataDirective="REPLACE",
                Metadata={"touched": str(int(time.time()))},
            )

    def temp_path(self, hint: str = "tmp") -> Path:
        return self.cache_dir / "tmp" / self._temp_name(hint)

    def adopt(self, path: Path) -> Blob:
        """Upload a finished local temp file under its digest, then remove the local file."""
        h = hashlib.sha256()
        size = 0
        with open(path, "rb") as f:
            while chunk := f.read(CHUNK):
                h.update(chunk)
                size += len(chunk)
        digest = h.hexdigest()
        key = self._blob_key(digest)
        try:
            if self.exists(digest):
                self._touch(key)
            else:
                from boto3.s3.transfer import TransferConfig

                # upload_file is multipart above the threshold; the object appears only when complete.
                cfg = TransferConfig(multipart_threshold=self.part_size, multipart_chunksize=self.part_size)
                self.s3.upload_file(str(path), self.bucket, key, Config=cfg)
        except StoreError:
            raise
        except Exception as e:
            raise self._err(f"upload {path} -> {key}", e) from None
        path.unlink(missing_ok=True)
        return Blob(digest, size)

    # -------------------------------------------------------------- reading
    def open(self, digest: str) -> BinaryIO:
        key = self._blob_key(digest)
        try:
            obj = self.s3.get_object(Bucket=self.bucket, Key=key)
        except Exception as e:
            if _is_missing(e):
                raise StoreError(f"blob {digest} is missing from {self!r}") from None
            raise self._err(f"get {key}", e) from None
        return io.BufferedReader(_BodyReader(obj["Body"]), buffer_size=CHUNK)

    def exists(self, digest: str) -> bool:
        key = self._blob_key(digest)
        try:
            self.s3.head_object(Bucket=self.bucket, Key=key)
        except Exception as e:
            if _is_missing(e):
                return False
            raise self._err(f"head {key}", e) from None
        return True

    def stat(self, digest: str) -> tuple[int, float] | None:
        key = self._blob_key(digest)
        try:
            head = self.s3.head_object(Bucket=self.bucket, Key=key)
        except Exception as e:
            if _is_missing(e):
                return None
            raise self._err(f"head {key}", e) from None
        return int(head["ContentLength"]), head["LastModified"].timestamp()

    def usage(self) -> int:
        base = self._key("sha256") + "/"
        total = 0
        try:
            for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=base):
                total += sum(int(o["Size"]) for o in page.get("Contents", []))
        except Exception as e:
            raise self._err("list", e) from None
        return total

    def delete(self, digest: str) -> None:
        key = self._blob_key(digest)
        try:
            self.s3.delete_object(Bucket=self.bucket, Key=key)
        except Exception as e:
            raise self._err(f"delete {key}", e) from None
        (self._cache_file(digest)).unlink(missing_ok=True)

    def digests(self) -> Iterator[tuple[str, float]]:
        base = self._key("sha256") + "/"
        try:
            for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=base):
                for obj in page.get("Contents", []):
                    name = obj["Key"].rsplit("/", 1)[-1]
                    if len(name) == 64:
                        yield name, obj["LastModified"].timestamp()
        except Exception as e:
            raise self._err("list", e) from None

    # -------------------------------------------------------------- local cache
    def _cache_file(self, digest: str) -> Path:
        d = _valid_digest(digest)
        return self.cache_dir / "sha256" / d[:2] / d[2:4] / d

    def local_path(self, digest: str) -> Path:
        dst = self._cache_file(digest)
        if dst.is_file():
            os.utime(dst)  # the cache evicts by last use
            return dst
        tmp = self.temp_path(f"get-{digest[:12]}")
        h = hashlib.sha256()
        try:
            with self.open(digest) as src, private.create(tmp) as out:
                while chunk := src.read(CHUNK):
                    h.update(chunk)
                    out.write(chunk)
            if h.hexdigest() != digest:
                raise StoreError(f"blob {digest} in {self!r} has other bytes (sha256 {h.hexdigest()})")
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, dst)
        finally:
            tmp.unlink(missing_ok=True)
        self._evict(keep=dst)
        return dst

    def _evict(self, keep: Path) -> None:
        """Remove least recently used cache files until the cache fits (``keep`` is never removed;
        an engine that has a removed file open keeps reading it, since unlinking frees it only at close)."""
        files = []
        total = 0
        for f in (self.cache_dir / "sha256").rglob("*"):
            if f.is_file():
                st = f.stat()
                files.append((st.st_mtime, st.st_size, f))
                total += st.st_size
        for _, size, f in sorted(files):
            if total <= self.cache_max_bytes:
                break
            if f != keep:
                f.unlink(missing_ok=True)
                total -= size

    def upload_path(self, key: str) -> Path:
        """Node-local (the ``BlobStore`` contract wants a path); for an upload that another node may
        resume, use the ``upload_*`` calls below, which keep the received bytes in the bucket."""
        return self.cache_dir / "uploads" / f"{_upload_key(key)}.part"

    # -------------------------------------------------------------- resumable uploads across nodes
    # Each accepted request body becomes one segment object ``uploads/<key>/<offset, 20 digits>``,
    # written by a PUT or a multipart upload straight to that name: both are atomic, so after a node
    # died mid-request the upload's offset is the end of its last whole segment, and any node can
    # take the next request.  Finishing streams the segments in order through ``put_stream`` (which
    # hashes them) into the content-addressed store.  Callers serialise requests of one upload (the
    # hub holds a database lease per upload); two writers at one offset would overwrite each other.
    def _segments(self, key: str) -> list[tuple[int, int, str]]:
        """(offset, size, object key) of the upload's segments, contiguous from 0."""
        base = self._key("uploads", _upload_key(key)) + "/"
        found: dict[int, tuple[int, str]] = {}
        try:
            for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=base):
                for obj in page.get("Contents", []):
                    name = obj["Key"][len(base) :]
                    if len(name) == 20 and name.isdigit():
                        found[int(name)] = (int(obj["Size"]), obj["Key"])
        except Exception as e:
            raise self._err(f"list upload {key}", e) from None
        out, at = [], 0
        while at in found and found[at][0] > 0:
            size, k = found[at]
            out.append((at, size, k))
            at += size
        return out

    def upload_offset(self, key: str) -> int:
        """Bytes of upload ``key`` received so far (0 for an upload never started)."""
        segs = self._segments(key)
        return segs[-1][0] + segs[-1][1] if segs else 0

    def upload_append(
        self, key: str, offset: int, chunks: Iterable[bytes], *, max_bytes: int | None = None
    ) -> int:
        """Add the bytes of ``chunks`` at ``offset`` (the current offset); returns the new offset.

        Raises :class:`UploadOffsetError` (with ``.offset``, where to resume) for another offset, and
        :class:`TooLarge` when the upload would pass ``max_bytes`` (the segment is not kept).
        """
        cur = self.upload_offset(key)
        if offset != cur:
            raise UploadOffsetError(f"upload {key} is at offset {cur}, not {offset}", cur)
        room = None if max_bytes is None else max_bytes - cur
        seg = self._key("uploads", _upload_key(key), f"{offset:020d}")
        buf = bytearray()
        size = 0
        upload: _Multipart | None = None
        try:
            for chunk in chunks:
                size += len(chunk)
                if room is not None and size > room:
                    raise TooLarge(f"upload {key} is larger than the limit of {max_bytes} bytes", key)
                buf += chunk
                while len(buf) >= self.part_size:
                    upload = upload or _Multipart(self, seg)
                    upload.send(bytes(buf[: self.part_size]))
                    del buf[: self.part_size]
            if upload is not None:
                if buf:
                    upload.send(bytes(buf))
                upload.complete()
            elif buf:
                try:
                    self.s3.put_object(Bucket=self.bucket, Key=seg, Body=bytes(buf))
                except Exception as e:
                    raise self._err(f"put segment {seg}", e) from None
        except BaseException:
            if upload is not None:
                upload.abort()
            raise
        return offset + size

    def upload_finish(self, key: str, *, max_bytes: int | None = None) -> Blob:
        """Store the whole upload as one blob (content-addressed) and drop its segments."""
        segs = self._segments(key)

        def chunks() -> Iterator[bytes]:
            for _, _, k in segs:
                body = self.s3.get_object(Bucket=self.bucket, Key=k)["Body"]
                try:
                    while chunk := body.read(CHUNK):
                        yield chunk
                finally:
                    body.close()

        blob = self.put_stream(chunks(), max_bytes=max_bytes, name=f"upload-{key}")
        self.upload_abort(key)
        return blob

    def upload_abort(self, key: str) -> None:
        """Drop what upload ``key`` received (also unfinished segment uploads of dead writers)."""
        base = self._key("uploads", _upload_key(key)) + "/"
        try:
            ups = self.s3.list_multipart_uploads(Bucket=self.bucket, Prefix=base).get("Uploads", [])
            for up in ups:
                self.s3.abort_multipart_upload(Bucket=self.bucket, Key=up["Key"], UploadId=up["UploadId"])
            for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=base):
                for obj in page.get("Contents", []):
                    self.s3.delete_object(Bucket=self.bucket, Key=obj["Key"])
        except Exception as e:
            raise self._err(f"abort upload {key}", e) from None

    def upload_truncate(self, key: str, offset: int) -> None:
        if offset <= 0:
            self.upload_abort(key)
            return
        # Appends start at a segment boundary, so dropping whole segments from ``offset`` on is exact.
        for at, _, k in self._segments(key):
            if at >= offset:
                try:
                    self.s3.delete_object(Bucket=self.bucket, Key=k)
                except Exception as e:
                    raise self._err(f"truncate upload {key}", e) from None

    def clean_uploads(self, keep: set[str], older_than: float) -> int:
        """Drop uploads with no upload record (``keep``: keys still open) untouched since ``older_than``."""
        base = self._key("uploads") + "/"
        newest: dict[str, float] = {}
        try:
            for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=base):
                for obj in page.get("Contents", []):
                    k = obj["Key"][len(base) :].split("/", 1)[0]
                    newest[k] = max(newest.get(k, 0.0), obj["LastModified"].timestamp())
        except Exception as e:
            raise self._err("list uploads", e) from None
        gone = [k for k, t in newest.items() if k not in keep and t < older_than]
        for k in gone:
            self.upload_abort(k)
        return len(gone)

    # -------------------------------------------------------------- garbage
    def _clean_temp(self, older_than: float) -> int:
        n = 0
        for f in (self.cache_dir / "tmp").iterdir():
            with contextlib.suppress(FileNotFoundError):
                if f.stat().st_mtime < older_than or not _writer_alive(f.name):
                    f.unlink()
                    n += 1
        tmp = self._key("tmp") + "/"
        try:
            pages = self.s3.get_paginator("list_multipart_uploads").paginate(Bucket=self.bucket, Prefix=tmp)
            for page in pages:
                for up in page.get("Uploads", []):
                    name = up["Key"].rsplit("/", 1)[-1]
                    if up["Initiated"].timestamp() < older_than or not _writer_alive(name):
                        self.s3.abort_multipart_upload(
                            Bucket=self.bucket, Key=up["Key"], UploadId=up["UploadId"]
                        )
                        n += 1
            objects = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=tmp)
            for listing in objects:
                for obj in listing.get("Contents", []):
                    name = obj["Key"].rsplit("/", 1)[-1]
                    if obj["LastModified"].timestamp() < older_than or not _writer_alive(name):
                        self.s3.delete_object(Bucket=self.bucket, Key=obj["Key"])
                        n += 1
        except Exception as e:
            raise self._err("clean temp", e) from None
        return n


class _Multipart:
    """One multipart upload to a temp key; parts are sent as they fill."""

    def __init__(self, store: S3BlobStore, key: str) -> None:
        self.store = store
        self.key = key
        self.parts: list[dict[str, Any]] = []
        try:
            r = store.s3.create_multipart_upload(Bucket=store.bucket, Key=key)
        except Exception as e:
            raise store._err(f"start upload {key}", e) from None
        self.upload_id = r["UploadId"]

    def send(self, data: bytes) -> None:
        n = len(self.parts) + 1
        if n > MAX_PARTS:
            raise StoreError(f"{self.key}: more than {MAX_PARTS} parts of {self.store.part_size} bytes")
        try:
            r = self.store.s3.upload_part(
                Bucket=self.store.bucket, Key=self.key, UploadId=self.upload_id, PartNumber=n, Body=data
            )
        except Exception as e:
            raise self.store._err(f"upload part {n} of {self.key}", e) from None
        self.parts.append({"PartNumber": n, "ETag": r["ETag"]})

    def complete(self) -> None:
        try:
            self.store.s3.complete_multipart_upload(
                Bucket=self.store.bucket,
                Key=self.key,
                UploadId=self.upload_id,
                MultipartUpload={"Parts": self.parts},  # type: ignore[typeddict-item]
            )
        except Exception as e:
            raise self.store._err(f"complete {self.key}", e) from None

    def abort(self) -> None:
        with contextlib.suppress(Exception):
            self.store.s3.abort_multipart_upload(
                Bucket=self.store.bucket, Key=self.key, UploadId=self.upload_id
            )
