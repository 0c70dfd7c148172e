"""Reading crashes: the list, one crash, its files (a dump only for admins, and audited)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse

from crashhub.analyze import AnalysisRecord
from crashhub.errors import ApiError
from crashhub.ingest import crash_reports
from crashhub.model import JsonObject
from crashhub.store import TokenRecord, unverified
from crashhub.web import _auth as auth
from crashhub.web.api._deps import (
    MAX_OFFSET,
    Ctx,
    HubStore,
    Reader,
    crash_or_404,
    crash_summary,
    parse_since,
    principal_after,
)

router = APIRouter(tags=["crashes"])


@dataclass(frozen=True)
class CrashQuery:
    host: str | None
    kind: str | None
    bucket: str | None
    since: str | None
    limit: int
    offset: int
    kernel: str | None = None


def crash_query(
    *,
    host: str | None = None,
    kind: str | None = None,
    bucket: str | None = None,
    since: str | None = None,
    kernel: str | None = Query(None, description="the kernel release, whole"),
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
) -> CrashQuery:
    return CrashQuery(host, kind, bucket, since, limit, offset, kernel)


@router.get("/api/v1/crashes")
def list_crashes(
    _tok: Annotated[TokenRecord, Depends(principal_after("read", crash_query))],
    store: HubStore,
    q: Annotated[CrashQuery, Depends(crash_query)],
) -> JsonObject:
    rows = store.crashes.list_crashes(
        host=q.host, kind=q.kind, bucket=q.bucket, since=parse_since(q.since), limit=q.limit, offset=q.offset,
        kernel=q.kernel,
    )
    return {"crashes": [crash_summary(c.to_dict()) for c in rows], "limit": q.limit, "offset": q.offset}


@router.get("/api/v1/crashes/{crash_id}")
def get_crash(_tok: Reader, ctx: Ctx, crash_id: str) -> JsonObject:
    store = ctx.hub.store
    c = crash_or_404(store, crash_id)
    d: JsonObject = c.to_dict()
    # Every report of the log in log order, the primary marked ("report" is the primary alone);
    # a crash stored before they were kept has them parsed again from its log.
    d["reports"] = [r.to_dict() for r in crash_reports(store.crashes, ctx.hub.blobs, c)]
    # The channels it came through (kdump, pstore, netconsole), and whether only an unauthenticated
    # one (netconsole) brought it: derived from the channels when read.
    channels = store.crashes.crash_channels(c.id)
    d["channels"] = [ch.to_dict() for ch in channels]
    d["unverified_source"] = unverified(ch.channel for ch in channels)
    # "kb" and "kb_view" are what the knowledge base says now (the UI's answer, computed when
    # read); "kb_at_ingest" what matched when the crash arrived; "bucket_kb" the bucket's matches.
    view = ctx.kb.crash_view(store, c)
    d["kb_at_ingest"] = d["kb"]
    d["kb"] = view.to_dict()["matches"]
    d["kb_view"] = view.to_dict()
    b = store.buckets.get_bucket(c.bucket_id)
    d["bucket_kb"] = b.kb if b is not None else []
    if isinstance(d.get("analysis"), dict):
        # Rows of every age in the shape docs/analysis.md documents (a finding's "title", its
        # "command" and "culprit" when known): read through the typed record and written again.
        d["analysis"] = AnalysisRecord.from_dict(d["analysis"]).to_dict()
    return d


@router.get("/api/v1/crashes/{crash_id}/files")
def list_files(_tok: Reader, store: HubStore, crash_id: str) -> JsonObject:
    return {"files": crash_or_404(store, crash_id).to_dict()["files"]}


@router.get("/api/v1/crashes/{crash_id}/files/{name}")
def get_file(request: Request, tok: Reader, ctx: Ctx, crash_id: str, name: str) -> FileResponse:
    store = ctx.hub.store
    c = crash_or_404(store, crash_id)
    # Names are looked up among the crash's records, never joined onto a filesystem path.
    f = next((x for x in c.files if x.name == name), None)
    if f is None:
        raise ApiError(404, f"crash {crash_id} has no file {name!r}")
    if f.role == "vmcore":
        if "admin" not in auth.GRANTS.get(tok.role, frozenset()):
            raise ApiError(403, f"role {tok.role!r} may not download dumps (needs admin)")
        store.access.audit(
            f"token:{tok.id}:{tok.name}",
            "download-dump",
            f"{crash_id}/{name}",
            {
                "size": f.size,
                "sha256": f.digest,
                "client": request.client.host if request.client else None,
            },
        )
    media = "application/octet-stream" if f.role == "vmcore" else "text/plain; charset=utf-8"
    return FileResponse(ctx.hub.blobs.local_path(f.digest), media_type=media, filename=name)
