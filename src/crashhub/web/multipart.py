"""Streaming ``multipart/form-data`` into the blob store's temp area, with caps on every size.

Starlette's own form parser spools files to the system temp dir with no size limit and accepts a
body that ends before its closing boundary; an upload of a GB-scale dump needs neither.  Here every
part is written straight to a temp file beside the blobs (so keeping it is a rename), each part and
the whole body are capped, unknown fields are refused, and a body without its final boundary is an
error: nothing of a truncated request is kept.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from python_multipart.multipart import MultipartParser, parse_options_header

from crashhub.errors import InputError
from crashhub.store import private


class MultipartError(InputError):
    """A multipart body that is malformed, truncated or too large (``status`` is the HTTP code)."""

    def __init__(self, message: str, status: int = 400) -> None:
        self.status = status
        super().__init__(message)


@dataclass
class Part:
    name: str
    filename: str | None
    path: Path | None = None  # file parts
    size: int = 0
    value: bytes = b""  # text fields


@dataclass
class _State:
    ended: bool = False  # the closing boundary was seen
    error: MultipartError | None = None  # the first problem; raised after the current chunk


@dataclass
class Form:
    parts: dict[str, Part] = field(default_factory=dict)

    def cleanup(self) -> None:
        for p in self.parts.values():
            if p.path is not None:
                p.path.unlink(missing_ok=True)

    def text(self, name: str) -> str | None:
        p = self.parts.get(name)
        if p is None:
            return None
        if p.path is not None:
            raise MultipartError(f"field {name!r} must be a text field, not a file")
        return p.value.decode("utf-8", "replace").strip() or None


async def parse(
    stream: AsyncIterator[bytes],
    content_type: str | None,
    *,
    files: dict[str, int],
    texts: dict[str, int],
    max_body: int,
    temp_path: Callable[[str], Path],
) -> Form:
    """Parse a body; ``files``/``texts`` map each allowed field to its size cap."""
    if not content_type:
        raise MultipartError("missing Content-Type: send multipart/form-data", 415)
    ctype, params = parse_options_header(content_type)
    if ctype != b"multipart/form-data":
        raise MultipartError(
            f"Content-Type is {ctype.decode(errors='replace')}, expected multipart/form-data", 415
        )
    boundary = params.get(b"boundary")
    if not boundary:
        raise MultipartError("multipart/form-data without a boundary")

    form = Form()
    state = _State()
    cur: list[Part | None] = [None]
    fh: list[IO[bytes] | None] = [None]
    hdr: dict[bytes, bytes] = {}
    hname = bytearray()
    hval = bytearray()

    def fail(msg: str, status: int = 400) -> None:
        if state.error is None:
            state.error = MultipartError(msg, status)

    def on_part_begin() -> None:
        hdr.clear()

    def on_header_field(data: bytes, start: int, end: int) -> None:
        hname.extend(data[start:end])

    def on_header_value(data: bytes, start: int, end: int) -> None:
        hval.extend(data[start:end])

    def on_header_end() -> None:
        hdr[bytes(hname).lower()] = bytes(hval)
        hname.clear()
        hval.clear()

    def on_headers_finished() -> None:
        disp, opts = parse_options_header(hdr.get(b"content-disposition", b""))
        name = opts.get(b"name", b"").decode("utf-8", "replace")
        filename = opts[b"filename"].decode("utf-8", "replace") if b"filename" in opts else None
        if disp != b"form-data" or not name:
            fail("a part without Content-Disposition: form-data; name=...")
            cur[0] = None
            return
        if name in form.parts:
            fail(f"field {name!r} is given twice")
            cur[0] = None
            return
        if name not in files and name not in texts:
            fail(f"unknown field {name!r} (expected: {', '.join(sorted(files) + sorted(texts))})")
            cur[0] = None
            return
        part = Part(name=name, filename=filename)
        if name in files:
            part.path = temp_path(name)
            fh[0] = private.create(part.path)  # closed in on_part_end or cleanup; 0640, not the umask's
        form.parts[name] = part
        cur[0] = part

    def on_part_data(data: bytes, start: int, end: int) -> None:
        part = cur[0]
        if part is None or state.error is not None:
            return
        n = end - start
        part.size += n
        cap = files.get(part.name, texts.get(part.name, 0))
        if part.size > cap:
            fail(f"field {part.name!r} is larger than the limit of {cap} bytes", 413)
            return
        if fh[0] is not None:
            fh[0].write(data[start:end])
        else:
            part.value += data[start:end]

    def on_part_end() -> None:
        if fh[0] is not None:
            fh[0].close()
            fh[0] = None
        cur[0] = None

    def on_end() -> None:
        state.ended = True

    parser = MultipartParser(
        boundary,
        callbacks={
            "on_part_begin": on_part_begin,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
            "on_end": on_end,
        },
    )
    total = 0
    try:
        async for chunk in stream:
            total += len(chunk)
            if total > max_body:
                raise MultipartError(f"request body larger than the limit of {max_body} bytes", 413)
            try:
                parser.write(chunk)
            except Exception as e:  # python-multipart raises its own error types on bad framing
                raise MultipartError(f"malformed multipart body: {e}") from None
            if state.error is not None:
                raise state.error
        with contextlib.suppress(Exception):
            parser.finalize()
        if state.error is not None:
            raise state.error
        if not state.ended:
            raise MultipartError("truncated multipart body: the closing boundary never came")
    except BaseException:
        if fh[0] is not None:
            fh[0].close()
        form.cleanup()
        raise
    return form
