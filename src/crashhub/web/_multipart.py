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

from crashhub.errors import MultipartError, disk_full
from crashhub.store import private


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
    parts: dict[str, Part] = field(default_factory=dict)  # the first part of each field
    more: list[Part] = field(default_factory=list)  # the further parts of a repeatable field

    def all(self, name: str) -> list[Part]:
        """Every part of field ``name``, in the order sent."""
        first = self.parts.get(name)
        return ([first] if first else []) + [p for p in self.more if p.name == name]

    def cleanup(self) -> None:
        for p in [*self.parts.values(), *self.more]:
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
    repeat: dict[str, int] | None = None,
) -> Form:
    """Parse a body; ``files``/``texts`` map each allowed field to its size cap; ``repeat`` the
    fields that may be given more than once to how many times at most (others: once)."""
    reader = _Reader(_boundary(content_type), files, texts, temp_path)
    reader.repeat = dict(repeat or {})
    try:
        await reader.feed(stream, max_body)
    except BaseException:
        reader.abort()
        raise
    return reader.form


def _boundary(content_type: str | None) -> bytes:
    """The boundary of a ``multipart/form-data`` body (415 for any other type)."""
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
    return bytes(boundary)


class _Reader:
    """The parser's callbacks: each part's headers checked, its bytes counted against its cap and written."""

    def __init__(
        self, boundary: bytes, files: dict[str, int], texts: dict[str, int], temp_path: Callable[[str], Path]
    ) -> None:
        self.files, self.texts, self.temp_path = files, texts, temp_path
        self.repeat: dict[str, int] = {}
        self.form = Form()
        self.state = _State()
        self.cur: Part | None = None
        self.fh: IO[bytes] | None = None
        self.hdr: dict[bytes, bytes] = {}
        self.hname = bytearray()
        self.hval = bytearray()
        self.parser = MultipartParser(
            boundary,
            callbacks={
                "on_part_begin": self.on_part_begin,
                "on_part_data": self.on_part_data,
                "on_part_end": self.on_part_end,
                "on_header_field": self.on_header_field,
                "on_header_value": self.on_header_value,
                "on_header_end": self.on_header_end,
                "on_headers_finished": self.on_headers_finished,
                "on_end": self.on_end,
            },
        )

    async def feed(self, stream: AsyncIterator[bytes], max_body: int) -> None:
        state, parser = self.state, self.parser
        total = 0
        async for chunk in stream:
            total += len(chunk)
            if total > max_body:
                raise MultipartError(f"request body larger than the limit of {max_body} bytes", 413)
            try:
                parser.write(chunk)
            except OSError as e:
                if disk_full(e):
                    raise  # the hub's disk, not the request: a 507
                raise MultipartError(f"malformed multipart body: {e}") from None
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

    def abort(self) -> None:
        """Nothing of a refused body is kept: the open part closed, every part's file removed."""
        if self.fh is not None:
            with contextlib.suppress(OSError):  # its buffer cannot be flushed to a full disk either
                self.fh.close()
        self.form.cleanup()

    def fail(self, msg: str, status: int = 400) -> None:
        if self.state.error is None:
            self.state.error = MultipartError(msg, status)

    def on_part_begin(self) -> None:
        self.hdr.clear()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.hname.extend(data[start:end])

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.hval.extend(data[start:end])

    def on_header_end(self) -> None:
        self.hdr[bytes(self.hname).lower()] = bytes(self.hval)
        self.hname.clear()
        self.hval.clear()

    def on_headers_finished(self) -> None:
        files, texts, form = self.files, self.texts, self.form
        disp, opts = parse_options_header(self.hdr.get(b"content-disposition", b""))
        name = opts.get(b"name", b"").decode("utf-8", "replace")
        filename = opts[b"filename"].decode("utf-8", "replace") if b"filename" in opts else None
        self.cur = None
        if disp != b"form-data" or not name:
            self.fail("a part without Content-Disposition: form-data; name=...")
            return
        repeated = name in form.parts
        if repeated and name not in self.repeat:
            self.fail(f"field {name!r} is given twice")
            return
        if repeated and len(form.all(name)) >= self.repeat[name]:
            self.fail(f"field {name!r} is given more than {self.repeat[name]} times")
            return
        if name not in files and name not in texts:
            self.fail(f"unknown field {name!r} (expected: {', '.join(sorted(files) + sorted(texts))})")
            return
        part = Part(name=name, filename=filename)
        if name in files:
            part.path = self.temp_path(name)
            self.fh = private.create(part.path)  # closed in on_part_end or abort; 0640, not the umask's
        if repeated:
            form.more.append(part)
        else:
            form.parts[name] = part
        self.cur = part

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        part = self.cur
        if part is None or self.state.error is not None:
            return
        part.size += end - start
        cap = self.files.get(part.name, self.texts.get(part.name, 0))
        if part.size > cap:
            self.fail(f"field {part.name!r} is larger than the limit of {cap} bytes", 413)
            return
        if self.fh is not None:
            self.fh.write(data[start:end])
        else:
            part.value += data[start:end]

    def on_part_end(self) -> None:
        if self.fh is not None:
            self.fh.close()
            self.fh = None
        self.cur = None

    def on_end(self) -> None:
        self.state.ended = True
