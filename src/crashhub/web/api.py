"""API v1 routes (see docs/hub.md and the host-agent contract): crashes, uploads, buckets, KB, hosts."""

# ruff: noqa: PLC0415 - imports inside functions are deliberate: each command and stage loads
# only what it uses (the host agent installs without the hub's web and database stack).

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Query, Request
from fastapi.responses import FileResponse, JSONResponse
from starlette.concurrency import run_in_threadpool

from crashhub.errors import InputError, KbError
from crashhub.ingest.arrival import Arrival
from crashhub.ingest.layouts import parse_dir_name
from crashhub.ingest.matching import same_host
from crashhub.store.base import TokenRecord
from crashhub.web import auth, jsonbody, multipart
from crashhub.web.limits import Limit, retry_after

if TYPE_CHECKING:
    from crashhub.web.app import Context

# At most 19 digits (a number of thousands of digits is a 400, not a slow int()); whatever passes the
# cap is a 413 before any of it reaches the database.
_RANGE = re.compile(r"^bytes (\d{1,19})-(\d{1,19})/(\d{1,19}|\*)$")
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,254}$")
# Past this an offset pages nothing real, and past 2**63 SQLite cannot even bind it (a 500).
MAX_OFFSET = 10_000_000

_CRASH_FORM = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "log": {
                            "type": "string",
                            "format": "binary",
                            "description": "vmcore-dmesg.txt / dmesg.<stamp>",
                        },
                        "vmcore": {
                            "type": "string",
                            "format": "binary",
                            "description": "kdump, flat or ELF dump",
                        },
                        "kexec_log": {"type": "string", "format": "binary", "description": "kexec-dmesg.log"},
                        "host": {"type": "string", "description": "the host: a host token's own (else 403)"},
                        "crash_dir": {
                            "type": "string",
                            "description": "the crash directory's name on the host",
                        },
                    },
                }
            }
        },
    }
}


def _since(v: str | None) -> float | None:
    if v is None or v == "":
        return None
    try:
        return float(v)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(v.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise InputError(f"since: {v!r} is neither seconds since the epoch nor an ISO 8601 time") from None


async def _throttle(limit: Limit, tok: TokenRecord, what: str) -> None:
    """Count one hit of ``tok`` on ``limit``; past it a 429 with ``Retry-After``, before any body is read."""
    from crashhub.web.app import ApiError

    wait = await run_in_threadpool(limit.hit, f"token:{tok.id}") if limit.enabled else None
    if wait is not None:
        n = retry_after(wait)
        raise ApiError(
            429,
            f"too many {what} for token {tok.name or tok.id!r}: at most {limit.limit} per "
            f"{limit.window:g} s; try again in {n} s",
            retry_after=n,
        )


def install(app: FastAPI, ctx: Context) -> None:
    from crashhub.web.app import ApiError

    store, blobs, s = ctx.hub.store, ctx.hub.blobs, ctx.settings

    def need(request: Request, what: str) -> TokenRecord:
        return auth.check(store, request.headers.get("authorization"), what)

    def bucket_opts() -> dict[str, Any]:
        return {
            "spike_days": int(s.spike_days),
            "spike_factor": float(s.spike_factor),
            "spike_min": int(s.spike_min),
        }

    # ------------------------------------------------------------------ upload rate limit
    # Counted per API token (one per host, as docs/host.md sets them up) in the database, so every
    # node behind the load balancer counts into one window; checked before the body is read, so a
    # refused upload stores nothing and costs no more than its headers.
    upload_limit = Limit(store, "upload", int(s.upload_rate_limit), float(s.upload_rate_window))
    # Host reports and KB writes are cheap to send and dear to keep (a database row, a re-apply of
    # the whole knowledge base): counted per token the same way.
    report_limit = Limit(
        store, "host-report", int(s.host_report_rate_limit), float(s.host_report_rate_window)
    )
    kb_limit = Limit(store, "kb-write", int(s.kb_write_rate_limit), float(s.kb_write_rate_window))


    # ------------------------------------------------------------------ crashes
    @app.post("/api/v1/crashes", tags=["crashes"], openapi_extra=_CRASH_FORM, status_code=201)
    async def post_crash(request: Request) -> JSONResponse:
        tok = need(request, "upload")
        await _throttle(upload_limit, tok, "uploads")
        clen = request.headers.get("content-length")
        if clen and clen.isdigit() and int(clen) > int(s.max_request_bytes):
            raise ApiError(
                413, f"request body of {clen} bytes is larger than the limit of {s.max_request_bytes}"
            )
        form = await multipart.parse(
            request.stream(),
            request.headers.get("content-type"),
            files={
                "log": int(s.max_log_bytes),
                "kexec_log": int(s.max_log_bytes),
                "vmcore": int(s.max_dump_bytes),
            },
            texts={"host": 255, "crash_dir": 255},
            max_body=int(s.max_request_bytes),
            temp_path=blobs.temp_path,
        )
        try:
            log_part, dump_part = form.parts.get("log"), form.parts.get("vmcore")
            if log_part is None and dump_part is None:
                raise ApiError(400, "field 'log' is required unless 'vmcore' is given")
            if dump_part is not None and dump_part.size == 0:
                raise ApiError(400, "field 'vmcore' is empty")
            host, crash_dir = form.text("host"), form.text("crash_dir")
            for label, v in (("host", host), ("crash_dir", crash_dir)):
                if v is not None and not _SAFE_NAME.match(v):
                    raise ApiError(
                        400, f"field {label!r}: {v!r} is not a plain name (letters, digits, . _ : -)"
                    )
            # The host comes from the token: a host token uploads for its own host only (web/auth.py).
            host = await run_in_threadpool(auth.host_of, store, tok, host)
            try:
                dh, dk, dt, _ = parse_dir_name(crash_dir) if crash_dir else (None, None, None, None)
            except InputError as e:
                raise ApiError(400, f"field 'crash_dir': {e}") from None
            kexec = form.parts.get("kexec_log")
            a = Arrival(
                log=log_part.path.read_bytes() if log_part and log_part.path else None,
                log_name="vmcore-dmesg.txt",
                dump=dump_part.path if dump_part else None,
                dump_is_temp=True,
                kexec_log=kexec.path.read_bytes() if kexec and kexec.path else None,
                host=host,
                host_source="token" if tok.role == "host" else "agent",
                dir_host=dh,
                dir_host_kind=dk,
                dir_time=dt,
                crash_dir=crash_dir,
                source="http",
                strict_dump=True,
            )
            out = await run_in_threadpool(ctx.pipeline.ingest, a)
        finally:
            form.cleanup()
        return JSONResponse(out.to_dict(), status_code=201 if out.created else 200)

    @app.get("/api/v1/crashes", tags=["crashes"])
    def list_crashes(
        request: Request,
        *,
        host: str | None = None,
        kind: str | None = None,
        bucket: str | None = None,
        since: str | None = None,
        limit: int = Query(100, ge=1, le=1000),
        offset: int = Query(0, ge=0, le=MAX_OFFSET),
    ) -> dict[str, Any]:
        need(request, "read")
        rows = store.crashes.list_crashes(
            host=host, kind=kind, bucket=bucket, since=_since(since), limit=limit, offset=offset
        )
        return {"crashes": [_crash_summary(c.to_dict()) for c in rows], "limit": limit, "offset": offset}

    def _get(crash_id: str) -> Any:
        c = store.crashes.get_crash(crash_id)
        if c is None:
            raise ApiError(404, f"no crash {crash_id!r}")
        return c

    @app.get("/api/v1/crashes/{crash_id}", tags=["crashes"])
    def get_crash(request: Request, crash_id: str) -> dict[str, Any]:
        need(request, "read")
        d: dict[str, Any] = _get(crash_id).to_dict()
        # "kb" is what matched when the crash arrived; "bucket_kb" what the knowledge base says now
        # (entries added or edited later are re-applied to every bucket).
        b = store.buckets.get_bucket(d["bucket"])
        d["bucket_kb"] = b.kb if b is not None else []
        return d

    @app.get("/api/v1/crashes/{crash_id}/files", tags=["crashes"])
    def list_files(request: Request, crash_id: str) -> dict[str, Any]:
        need(request, "read")
        return {"files": _get(crash_id).to_dict()["files"]}

    @app.get("/api/v1/crashes/{crash_id}/files/{name}", tags=["crashes"])
    def get_file(request: Request, crash_id: str, name: str) -> FileResponse:
        tok = need(request, "read")
        c = _get(crash_id)
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
        return FileResponse(blobs.local_path(f.digest), media_type=media, filename=name)

    # ------------------------------------------------------------------ resumable dump upload
    # Any node continues an upload (ingest/uploads.py): the bytes are in the blob store, the record
    # and a per-request write lease in the database.
    from crashhub.ingest.uploads import PIECE, Uploads

    uploads = Uploads(ctx.pipeline, lease=float(s.upload_lease))

    def _upload_state(crash_id: str) -> dict[str, Any]:
        _get(crash_id)
        return uploads.state(crash_id)

    def _own(tok: TokenRecord, crash_id: str) -> dict[str, Any]:
        """The upload state of a crash this token may send the dump of: a host token only its own
        host's crashes (whatever the crash's id, another host's crash is not this host's to fill)."""
        c = _get(crash_id)
        if tok.role == "host" and (tok.host is None or not same_host(c.host, tok.host)):
            # Whose crash it is stays unsaid: a host learns nothing of another host's crashes.
            whose = "a token not bound to a host yet" if tok.host is None else f"host {tok.host!r}'s token"
            raise ApiError(403, f"crash {crash_id} is not this host's crash (this is {whose})")
        return uploads.state(crash_id)

    @app.get("/api/v1/crashes/{crash_id}/vmcore/upload", tags=["crashes"])
    def upload_state(request: Request, crash_id: str) -> dict[str, Any]:
        return _own(need(request, "upload"), crash_id)

    @app.put("/api/v1/crashes/{crash_id}/vmcore", tags=["crashes"])
    async def put_vmcore(request: Request, crash_id: str) -> JSONResponse:
        tok = need(request, "upload")
        state = await run_in_threadpool(_own, tok, crash_id)
        if state["complete"]:
            return JSONResponse(state)
        # Only the start of an upload counts: the pieces that follow and a resume after a failure
        # (a Content-Range past 0) belong to an upload already allowed.
        rng = request.headers.get("content-range", "")
        if state["offset"] == 0 and (not rng or rng.strip().startswith("bytes 0-")):
            await _throttle(upload_limit, tok, "uploads")
        owner = await run_in_threadpool(uploads.claim, crash_id)
        if owner is None:
            raise ApiError(409, "another upload to this crash is running", **state)
        try:
            return await _put(request, crash_id, owner)
        finally:
            await run_in_threadpool(uploads.release, crash_id, owner)

    async def _put(request: Request, crash_id: str, owner: str) -> JSONResponse:
        state = await run_in_threadpool(_upload_state, crash_id)
        if state["complete"]:
            return JSONResponse(state)
        rng = request.headers.get("content-range")
        cap = int(s.max_dump_bytes)
        if rng:
            m = _RANGE.match(rng.strip())
            if not m:
                raise ApiError(400, f"Content-Range {rng!r}: expected 'bytes S-E/T'")
            start, end = int(m[1]), int(m[2])
            total = None if m[3] == "*" else int(m[3])
            if end < start or (total is not None and end >= total):
                raise ApiError(400, f"Content-Range {rng!r}: bad byte range")
            if total is not None and total > cap:
                raise ApiError(413, f"dump of {total} bytes is larger than max_dump_bytes ({cap})")
            if end >= cap:
                # Whatever total is declared (or "*"): no byte past the cap is ever written.
                raise ApiError(
                    413, f"Content-Range {rng!r} ends past max_dump_bytes ({cap})", **state
                )
            if start != state["offset"]:
                raise ApiError(409, f"upload is at offset {state['offset']}, not {start}", **state)
            want = end - start + 1
        else:
            start, total, want = 0, None, cap
        await run_in_threadpool(uploads.begin, crash_id, total, start)
        got = 0
        at = start
        buf = bytearray()
        async for chunk in request.stream():
            got += len(chunk)
            if got > want:
                await run_in_threadpool(uploads.rollback, crash_id, start)
                raise ApiError(
                    413 if not rng else 400,
                    f"body larger than {'max_dump_bytes' if not rng else 'its Content-Range'} ({want} bytes)",
                )
            buf += chunk
            if len(buf) >= PIECE:
                at = await run_in_threadpool(uploads.append, crash_id, owner, at, bytes(buf))
                buf.clear()
        if buf:
            at = await run_in_threadpool(uploads.append, crash_id, owner, at, bytes(buf))
        if rng and got != want:
            # A refused request keeps none of its bytes (a broken connection keeps what arrived).
            await run_in_threadpool(uploads.rollback, crash_id, start)
            raise ApiError(
                400, f"body has {got} bytes, Content-Range announced {want}", **_upload_state(crash_id)
            )
        offset = start + got
        if total is None and not rng:
            total = offset
        if total is not None and offset >= total:
            await run_in_threadpool(uploads.finish, crash_id)
            return JSONResponse({"offset": total, "size": total, "complete": True})
        return JSONResponse({"offset": offset, "size": total, "complete": False})

    # ------------------------------------------------------------------ buckets
    @app.get("/api/v1/buckets", tags=["buckets"])
    def list_buckets(
        request: Request,
        *,
        sort: str = Query("count", pattern="^(count|last_seen|trend)$"),
        kind: str | None = None,
        kernel: str | None = None,
        host: str | None = None,
        kb: str | None = Query(None, pattern="^(known|new|regression)$"),
        since: float | None = None,
        status: str | None = Query(None, pattern="^(new|investigating|advice_given|known_issue|fixed)$"),
        limit: int = Query(100, ge=1, le=1000),
        offset: int = Query(0, ge=0, le=MAX_OFFSET),
    ) -> JSONResponse:
        need(request, "read")
        filters: dict[str, Any] = {
            "kind": kind, "kernel": kernel, "host": host, "kb_status": kb, "since": since, "status": status
        }
        rows = store.buckets.list_buckets(sort=sort, limit=limit, offset=offset, **filters, **bucket_opts())
        # A JSONResponse skips FastAPI's recursive jsonable_encoder: the records are plain JSON already.
        return JSONResponse(
            {
                "total": store.buckets.count_buckets(**filters),
                "sort": sort,
                "limit": limit,
                "offset": offset,
                "buckets": [b.to_dict() for b in rows],
            }
        )

    @app.get("/api/v1/buckets/{bucket_id}", tags=["buckets"])
    def get_bucket(request: Request, bucket_id: str) -> dict[str, Any]:
        need(request, "read")
        b = store.buckets.get_bucket(bucket_id, **bucket_opts())
        if b is None:
            raise ApiError(404, f"no bucket {bucket_id!r}")
        d = b.to_dict()
        d["events"] = [
            {"at": e.at, "action": e.action, "actor": e.actor, "detail": e.detail}
            for e in store.buckets.bucket_events(bucket_id)
        ]
        crashes = store.crashes.list_crashes(bucket=bucket_id, limit=20)
        d["crashes"] = [_crash_summary(c.to_dict()) for c in crashes]
        return d

    @app.post("/api/v1/buckets/{bucket_id}/merge", tags=["buckets"])
    async def merge(request: Request, bucket_id: str) -> dict[str, Any]:
        tok = need(request, "admin")
        body = await jsonbody.parse(request)
        into = body.get("into") if isinstance(body, dict) else None
        if not isinstance(into, str):
            raise ApiError(400, 'body must be {"into": "<bucket id>"}')
        actor = f"token:{tok.id}:{tok.name}"
        b = await run_in_threadpool(store.buckets.merge_buckets, bucket_id, into, actor)
        return b.to_dict()

    @app.patch("/api/v1/buckets/{bucket_id}", tags=["buckets"])
    async def set_workflow(request: Request, bucket_id: str) -> dict[str, Any]:
        """The response workflow: ``{"status", "owner", "advice"}`` (any of them; "" clears owner
        or advice). Recorded as a bucket event; answers the bucket."""
        tok = need(request, "admin")
        body = await jsonbody.parse(request)
        fields = ("status", "owner", "advice")
        if (
            not isinstance(body, dict)
            or not body
            or set(body) - set(fields)
            or not all(isinstance(body[k], str) for k in body)
        ):
            raise ApiError(400, 'body must be {"status": "...", "owner": "...", "advice": "..."} (strings)')
        if await run_in_threadpool(store.buckets.get_bucket, bucket_id) is None:
            raise ApiError(404, f"no bucket {bucket_id!r}")
        b = await run_in_threadpool(
            lambda: store.buckets.set_bucket_workflow(
                bucket_id, **{k: body[k] for k in fields if k in body}, actor=f"token:{tok.id}:{tok.name}"
            )
        )
        return b.to_dict()

    @app.post("/api/v1/buckets/{bucket_id}/split", tags=["buckets"])
    async def split(request: Request, bucket_id: str) -> dict[str, Any]:
        tok = need(request, "admin")
        body = await jsonbody.parse(request)
        crashes = body.get("crashes") if isinstance(body, dict) else None
        if not isinstance(crashes, list) or not all(isinstance(x, str) for x in crashes):
            raise ApiError(400, 'body must be {"crashes": ["<crash id>", ...], "title": "..."}')
        title = body.get("title") if isinstance(body.get("title"), str) else None
        b = await run_in_threadpool(
            store.buckets.split_bucket, bucket_id, crashes, f"token:{tok.id}:{tok.name}", title
        )
        return b.to_dict()

    # ------------------------------------------------------------------ knowledge base
    def _entry(e: Any) -> dict[str, Any]:
        d: dict[str, Any] = e.to_dict()
        d["source"] = "starter" if (e.path or "").startswith("crashhub/kb/") else "local"
        return d

    @app.get("/api/v1/kb", tags=["kb"])
    def kb_list(request: Request) -> dict[str, Any]:
        need(request, "read")
        entries = [_entry(e) for e in ctx.kb.entries()]
        # Files in the KB directory that do not load (edited by hand): named with line and field.
        return {"entries": entries, "errors": [str(e) for e in ctx.kb.errors]}

    @app.get("/api/v1/kb/{entry_id}", tags=["kb"])
    def kb_get(request: Request, entry_id: str) -> dict[str, Any]:
        need(request, "read")
        e = ctx.kb.get(entry_id)
        if e is None:
            raise ApiError(404, f"no knowledge-base entry {entry_id!r}")
        return _entry(e)

    async def _kb_write(request: Request, entry_id: str | None) -> tuple[Any, int]:
        tok = need(request, "admin")
        await _throttle(kb_limit, tok, "knowledge-base writes")
        cap = int(s.max_kb_entry_bytes)
        ctype = (request.headers.get("content-type") or "").split(";")[0].strip()
        if ctype in ("application/yaml", "application/x-yaml", "text/yaml", "text/plain"):
            raw = await jsonbody.read(request, cap, "max_kb_entry_bytes")
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise KbError("not UTF-8", "<request>") from None
            entry = await run_in_threadpool(ctx.kb.put_text, text, expect_id=entry_id)
        else:
            body = await jsonbody.parse(request, cap, "max_kb_entry_bytes")
            entry = await run_in_threadpool(ctx.kb.put_data, body, expect_id=entry_id)
        store.access.audit(f"token:{tok.id}:{tok.name}", "kb-put", entry.id)
        changed = await run_in_threadpool(ctx.kb.reapply, store)
        return entry, changed

    @app.post("/api/v1/kb", tags=["kb"], status_code=201)
    async def kb_create(request: Request) -> JSONResponse:
        entry, changed = await _kb_write(request, None)
        return JSONResponse({"entry": _entry(entry), "buckets_changed": changed}, status_code=201)

    @app.put("/api/v1/kb/{entry_id}", tags=["kb"])
    async def kb_put(request: Request, entry_id: str) -> dict[str, Any]:
        entry, changed = await _kb_write(request, entry_id)
        return {"entry": _entry(entry), "buckets_changed": changed}

    @app.delete("/api/v1/kb/{entry_id}", tags=["kb"])
    async def kb_delete(request: Request, entry_id: str) -> dict[str, Any]:
        tok = need(request, "admin")
        await _throttle(kb_limit, tok, "knowledge-base writes")
        if not re.fullmatch(r"[a-z0-9][a-z0-9._-]{0,79}", entry_id):
            raise ApiError(400, f"bad entry id {entry_id!r}")
        if not await run_in_threadpool(ctx.kb.delete, entry_id):
            raise ApiError(
                404,
                f"no local knowledge-base entry {entry_id!r} (starter entries are "
                "overridden by a local entry of the same id, not deleted)",
            )
        store.access.audit(f"token:{tok.id}:{tok.name}", "kb-delete", entry_id)
        return {"deleted": entry_id, "buckets_changed": await run_in_threadpool(ctx.kb.reapply, store)}

    # ------------------------------------------------------------------ hosts, kernels, jobs, audit
    @app.post("/api/v1/hosts/report", tags=["hosts"])
    async def host_report(request: Request) -> dict[str, Any]:
        tok = need(request, "upload")
        await _throttle(report_limit, tok, "host reports")
        body = await jsonbody.parse(request, int(s.max_host_report_bytes), "max_host_report_bytes")
        if not isinstance(body, dict) or not isinstance(body.get("host"), str) or not body["host"]:
            raise ApiError(400, "field 'host': a non-empty string is required")
        if not _SAFE_NAME.match(body["host"]):
            raise ApiError(400, f"field 'host': {body['host']!r} is not a plain host name")
        # A host token reports its own host only: host B's token cannot overwrite host A's report.
        await run_in_threadpool(auth.host_of, store, tok, body["host"])

        def opt(k: str) -> str | None:
            v = body.get(k)
            if v is not None and not isinstance(v, str):
                raise ApiError(400, f"field {k!r}: expected a string or null")
            return v[:512] if v else None

        kd = body.get("kdump")
        if kd is not None and not isinstance(kd, dict):
            raise ApiError(400, "field 'kdump': expected an object")
        await run_in_threadpool(
            lambda: store.hosts.report_host(
                body["host"],
                release=opt("release"),
                build_id=opt("build_id"),
                hardware=opt("hardware"),
                machine=opt("machine"),
                agent_version=opt("agent_version"),
                kdump=kd,
            )
        )
        return {"ok": True}

    @app.get("/api/v1/hosts", tags=["hosts"])
    def hosts(request: Request) -> dict[str, Any]:
        need(request, "read")
        return {"hosts": [h.to_dict() for h in store.hosts.list_hosts()]}

    @app.get("/api/v1/kernels", tags=["hosts"])
    def kernels(request: Request) -> dict[str, Any]:
        from crashhub.jobs.handlers import find_vmlinux

        need(request, "read")
        return {
            "kernels": [
                {
                    "release": k.release,
                    "crashes": k.crashes,
                    "hosts": k.hosts,
                    "build_ids": list(k.build_ids),
                    "debuginfo": find_vmlinux(s.vmlinux_dir, k.release) is not None,
                }
                for k in store.hosts.list_kernels()
            ]
        }

    @app.get("/api/v1/jobs", tags=["admin"])
    def jobs(
        request: Request, state: str | None = None, limit: int = Query(100, ge=1, le=1000)
    ) -> dict[str, Any]:
        need(request, "read")
        return {
            "depth": store.jobs.job_depth(),
            "jobs": [
                {
                    "id": j.id,
                    "kind": j.kind,
                    "state": j.state,
                    "attempts": j.attempts,
                    "payload": j.payload,
                    "result": j.result,
                    "error": j.error,
                }
                for j in store.jobs.list_jobs(state=state, limit=limit)
            ],
        }

    @app.get("/api/v1/audit", tags=["admin"])
    def audit(request: Request, limit: int = Query(100, ge=1, le=1000)) -> dict[str, Any]:
        need(request, "admin")
        return {
            "audit": [
                {"at": a.at, "actor": a.actor, "action": a.action, "target": a.target, "detail": a.detail}
                for a in store.access.list_audit(limit)
            ]
        }


def _crash_summary(d: dict[str, Any]) -> dict[str, Any]:
    return {
        k: d[k]
        for k in (
            "id",
            "received_at",
            "crash_time",
            "host",
            "release",
            "kind",
            "title",
            "bucket",
            "has_vmcore",
            "dump_kept",
            "source",
            "crash_dir",
        )
    } | {
        "kb": [m.get("id") for m in d.get("kb") or []],
        "dump_evicted": (d.get("dump_evicted") or {}).get("reason"),
    }
