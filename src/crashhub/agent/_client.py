"""A small client of the hub's API v1 (see ``docs/api.md``): just what the agent needs.

Failures come in two kinds the caller treats differently:

* :class:`HubUnavailable`: connection refused, timeout, 5xx: retry later, with back-off;
* :class:`HubRejected`: a 4xx naming what is wrong with this request: retrying will not help
  (401/403 mean the token is wrong: the whole run stops).
"""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx

from crashhub import __version__
from crashhub.errors import HubRejected, HubUnavailable, UploadConflict
from crashhub.model import CrashAccepted, HostReport, JsonObject, UploadState

# A Retry-After beyond this is not believed (a misconfigured proxy); the caller's back-off caps it anyway.
_MAX_RETRY_AFTER = 24 * 3600.0


def retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (RFC 9110 10.2.3: delay-seconds or an HTTP-date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), _MAX_RETRY_AFTER)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return min(max(when.timestamp() - time.time(), 0.0), _MAX_RETRY_AFTER)


def _body(r: httpx.Response) -> JsonObject:
    try:
        doc = r.json()
    except (ValueError, json.JSONDecodeError):
        return {}
    return doc if isinstance(doc, dict) else {}


class HubClient:
    def __init__(self, base_url: str, token: str, *, timeout: float = 60.0, verify: str | bool = True,
                 transport: httpx.BaseTransport | None = None) -> None:
        if base_url.startswith("http://"):
            verify = False  # no TLS: skip loading the CA bundle (a noticeable part of start-up)
        self._http = httpx.Client(
            base_url=base_url, timeout=timeout, verify=verify, transport=transport,
            headers={"Authorization": f"Bearer {token}", "User-Agent": f"crashhub-agent/{__version__}"})

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> HubClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _request(self, method: str, url: str, **kw: Any) -> JsonObject:
        try:
            r = self._http.request(method, url, **kw)
        except httpx.TransportError as e:
            raise HubUnavailable(f"{method} {url}: {type(e).__name__}: {e}") from e
        body = _body(r)
        if r.status_code >= 500 or r.status_code in (408, 429):
            raise HubUnavailable(f"{method} {url}: HTTP {r.status_code} {body.get('error', '')}".rstrip(),
                                 r.status_code, body, retry_after(r.headers.get("retry-after")))
        if r.status_code == 409 and "offset" in body:
            off = body.get("offset")
            raise UploadConflict(f"{method} {url}: hub holds {off} bytes",
                                 off if isinstance(off, int) else None, body)
        if r.status_code >= 400:
            raise HubRejected(f"{method} {url}: HTTP {r.status_code}: {body.get('error', r.text[:200])}",
                              r.status_code, body)
        return body

    def report_host(self, report: HostReport) -> None:
        self._request("POST", "/api/v1/hosts/report", json=report.to_dict())

    def post_crash(self, *, log: Path | None, vmcore: Path | None = None, kexec_log: Path | None = None,
                   host: str | None = None, crash_dir: str | None = None,
                   channel: str = "kdump") -> CrashAccepted:
        data = {k: v for k, v in (("host", host), ("crash_dir", crash_dir)) if v}
        if channel != "kdump":
            data["channel"] = channel
        with ExitStack() as stack:
            files = {}
            for field, path in (("log", log), ("vmcore", vmcore), ("kexec_log", kexec_log)):
                if path is not None:
                    f = stack.enter_context(path.open("rb"))
                    files[field] = (path.name, f, "application/octet-stream")
            body = self._request("POST", "/api/v1/crashes", data=data, files=files)
        try:
            return CrashAccepted.from_dict(body)
        except ValueError as e:
            raise HubRejected(f"POST /api/v1/crashes: {e}", None, body) from None

    def upload_status(self, crash_id: str) -> UploadState:
        return UploadState.from_dict(self._request("GET", f"/api/v1/crashes/{crash_id}/vmcore/upload"))

    def put_chunk(self, crash_id: str, data: bytes, start: int, total: int) -> UploadState:
        end = start + len(data) - 1
        headers = {"Content-Range": f"bytes {start}-{end}/{total}",
                   "Content-Type": "application/octet-stream"}
        return UploadState.from_dict(
            self._request("PUT", f"/api/v1/crashes/{crash_id}/vmcore", content=data, headers=headers))


def read_chunks(path: Path, offset: int, size: int, chunk: int) -> Iterator[tuple[int, bytes]]:
    """(offset, bytes) pieces of ``path`` from ``offset`` up to ``size`` (the size when we began)."""
    with path.open("rb") as f:
        f.seek(offset)
        pos = offset
        while pos < size:
            data = f.read(min(chunk, size - pos))
            if not data:
                raise HubRejected(f"{path}: file shrank to {pos} bytes during the upload")
            yield pos, data
            pos += len(data)
