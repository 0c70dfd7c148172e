"""Sending crashes: ``POST /api/v1/crashes`` (a log, a dump or both, in one form) and the resumable dump
upload (``PUT /api/v1/crashes/{id}/vmcore`` in Content-Range pieces), and the answer an upload gets."""

from __future__ import annotations

import re

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from crashhub.errors import ApiError, InputError
from crashhub.ingest import PIECE, Arrival, Outcome, Uploads, parse_dir_name, same_host
from crashhub.model import CrashAccepted, JsonObject, UploadState
from crashhub.store import Store, TokenRecord
from crashhub.web import _auth as auth
from crashhub.web import _multipart as multipart
from crashhub.web._app import Context
from crashhub.web.api._deps import SAFE_NAME, Ctx, State, Uploader, crash_or_404, throttle

router = APIRouter(tags=["crashes"])

# At most 19 digits (a number of thousands of digits is a 400, not a slow int()); whatever passes the
# cap is a 413 before any of it reaches the database.
_RANGE = re.compile(r"^bytes (\d{1,19})-(\d{1,19})/(\d{1,19}|\*)$")

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
                        "channel": {"type": "string", "description": "kdump (default) or pstore"},
                    },
                }
            }
        },
    }
}


def upload_answer(out: Outcome) -> JsonObject:
    """The API contract's answer to ``POST /api/v1/crashes`` (docs/hub.md); what the host agent reads
    of it is :class:`CrashAccepted`."""
    b = out.bucket
    accepted = CrashAccepted(out.crash.id, out.created, out.wants_vmcore, out.crash.has_vmcore)
    return {
        **accepted.to_dict(),
        "kind": out.crash.kind,
        "title": out.crash.title,
        "bucket": {"id": b.id, "key": b.key, "title": b.title, "kind": b.kind, "count": b.count},
        "kb": [
            {
                "id": m.get("id"),
                "title": m.get("title"),
                "status": m.get("status"),
                "matched_rules": m.get("matched_rules", []),
                "regression": m.get("regression", False),
            }
            for m in out.kb
        ],
    }


@router.post("/api/v1/crashes", openapi_extra=_CRASH_FORM, status_code=201)
async def post_crash(request: Request, tok: Uploader, ctx: Ctx, state: State) -> JSONResponse:
    s = ctx.settings
    await throttle(state.upload_limit, tok, "uploads")
    clen = request.headers.get("content-length")
    if clen and clen.isdigit() and int(clen) > s.max_request_bytes:
        raise ApiError(413, f"request body of {clen} bytes is larger than the limit of {s.max_request_bytes}")
    form = await multipart.parse(
        request.stream(),
        request.headers.get("content-type"),
        files={
            "log": s.max_log_bytes,
            "kexec_log": s.max_log_bytes,
            "vmcore": s.max_dump_bytes,
        },
        texts={"host": 255, "crash_dir": 255, "channel": 16},
        max_body=s.max_request_bytes,
        temp_path=ctx.hub.blobs.temp_path,
    )
    try:
        a = await _arrival(form, tok, ctx.hub.store)
        out = await run_in_threadpool(ctx.pipeline.ingest, a)
    finally:
        form.cleanup()
    return JSONResponse(upload_answer(out), status_code=201 if out.created else 200)


async def _arrival(form: multipart.Form, tok: TokenRecord, store: Store) -> Arrival:
    """The crash a checked upload form brings (400 for a form that does not make one)."""
    log_part, dump_part = form.parts.get("log"), form.parts.get("vmcore")
    if log_part is None and dump_part is None:
        raise ApiError(400, "field 'log' is required unless 'vmcore' is given")
    if dump_part is not None and dump_part.size == 0:
        raise ApiError(400, "field 'vmcore' is empty")
    host, crash_dir = form.text("host"), form.text("crash_dir")
    for label, v in (("host", host), ("crash_dir", crash_dir)):
        if v is not None and not SAFE_NAME.match(v):
            raise ApiError(400, f"field {label!r}: {v!r} is not a plain name (letters, digits, . _ : -)")
    # The host comes from the token: a host token uploads for its own host only (web/_auth.py).
    host = await run_in_threadpool(auth.host_of, store, tok, host)
    try:
        dh, dk, dt, _ = parse_dir_name(crash_dir) if crash_dir else (None, None, None, None)
    except InputError as e:
        raise ApiError(400, f"field 'crash_dir': {e}") from None
    channel = form.text("channel") or "kdump"
    if channel not in ("kdump", "pstore"):  # netconsole is the hub's own listener's, never an upload's
        raise ApiError(400, f"field 'channel': {channel!r} is not kdump or pstore")
    kexec = form.parts.get("kexec_log")
    return Arrival(
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
        channel="pstore" if channel == "pstore" else "kdump",
        strict_dump=True,
    )


def _own(store: Store, uploads: Uploads, tok: TokenRecord, crash_id: str) -> UploadState:
    """The upload state of a crash this token may send the dump of: a host token only its own
    host's crashes (whatever the crash's id, another host's crash is not this host's to fill)."""
    c = crash_or_404(store, crash_id)
    if tok.role == "host" and (tok.host is None or not same_host(c.host, tok.host)):
        # Whose crash it is stays unsaid: a host learns nothing of another host's crashes.
        whose = "a token not bound to a host yet" if tok.host is None else f"host {tok.host!r}'s token"
        raise ApiError(403, f"crash {crash_id} is not this host's crash (this is {whose})")
    return uploads.state(crash_id)


@router.get("/api/v1/crashes/{crash_id}/vmcore/upload")
def upload_state(tok: Uploader, ctx: Ctx, state: State, crash_id: str) -> JsonObject:
    return _own(ctx.hub.store, state.uploads, tok, crash_id).to_dict()


@router.put("/api/v1/crashes/{crash_id}/vmcore")
async def put_vmcore(request: Request, tok: Uploader, ctx: Ctx, state: State, crash_id: str) -> JSONResponse:
    uploads = state.uploads
    now = await run_in_threadpool(_own, ctx.hub.store, uploads, tok, crash_id)
    if now.complete:
        return JSONResponse(now.to_dict())
    # Only the start of an upload counts: the pieces that follow and a resume after a failure
    # (a Content-Range past 0) belong to an upload already allowed.
    rng = request.headers.get("content-range", "")
    if now.offset == 0 and (not rng or rng.strip().startswith("bytes 0-")):
        await throttle(state.upload_limit, tok, "uploads")
    owner = await run_in_threadpool(uploads.claim, crash_id)
    if owner is None:
        raise ApiError(409, "another upload to this crash is running", **now.to_dict())
    try:
        return await _Put(request, ctx, uploads, crash_id, owner).run()
    finally:
        await run_in_threadpool(uploads.release, crash_id, owner)


class _Put:
    """One request's piece of a resumable dump upload, written while this node holds the crash's lease."""

    def __init__(self, request: Request, ctx: Context, uploads: Uploads, crash_id: str, owner: str) -> None:
        self.request, self.store, self.uploads = request, ctx.hub.store, uploads
        self.crash_id, self.owner = crash_id, owner
        self.cap = ctx.settings.max_dump_bytes

    def _state(self) -> UploadState:
        crash_or_404(self.store, self.crash_id)
        return self.uploads.state(self.crash_id)

    def _range(self, rng: str, state: UploadState) -> tuple[int, int | None, int]:
        """Start, declared total and length of the piece ``rng`` announces, checked against the cap."""
        cap = self.cap
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
            raise ApiError(413, f"Content-Range {rng!r} ends past max_dump_bytes ({cap})", **state.to_dict())
        if start != state.offset:
            raise ApiError(409, f"upload is at offset {state.offset}, not {start}", **state.to_dict())
        return start, total, end - start + 1

    async def run(self) -> JSONResponse:
        state = await run_in_threadpool(self._state)
        if state.complete:
            return JSONResponse(state.to_dict())
        rng = self.request.headers.get("content-range")
        start, total, want = self._range(rng, state) if rng else (0, None, self.cap)
        await run_in_threadpool(self.uploads.begin, self.crash_id, total, start)
        got = await self._receive(start, want, bool(rng))
        if rng and got != want:
            # A refused request keeps none of its bytes (a broken connection keeps what arrived).
            await run_in_threadpool(self.uploads.rollback, self.crash_id, start)
            raise ApiError(400, f"body has {got} bytes, Content-Range announced {want}",
                           **self._state().to_dict())
        offset = start + got
        if total is None and not rng:
            total = offset
        if total is not None and offset >= total:
            await run_in_threadpool(self.uploads.finish, self.crash_id)
            return JSONResponse(UploadState(total, total, complete=True).to_dict())
        return JSONResponse(UploadState(offset, total).to_dict())

    async def _receive(self, start: int, want: int, ranged: bool) -> int:
        """Append the body from ``start`` in pieces of ``PIECE``; how many bytes came (at most ``want``)."""
        up, crash_id, owner = self.uploads, self.crash_id, self.owner
        got, at, buf = 0, start, bytearray()
        async for chunk in self.request.stream():
            got += len(chunk)
            if got > want:
                await run_in_threadpool(up.rollback, crash_id, start)
                raise ApiError(
                    400 if ranged else 413,
                    f"body larger than {'its Content-Range' if ranged else 'max_dump_bytes'} ({want} bytes)",
                )
            buf += chunk
            if len(buf) >= PIECE:
                at = await run_in_threadpool(up.append, crash_id, owner, at, bytes(buf))
                buf.clear()
        if buf:
            await run_in_threadpool(up.append, crash_id, owner, at, bytes(buf))
        return got
