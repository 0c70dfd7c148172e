"""Request bodies as JSON, with their nesting bounded.

``json.loads`` recurses once per ``[`` or ``{``: 100,000 of them raise RecursionError, which no
handler expects (a 500); a string with an unpaired surrogate parses but cannot be stored (a 500
too).  A body nested past ``MAX_DEPTH`` is bad input, refused with a 400 whether the parser gave up
or not, so no deep structure reaches the store or a template either.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from crashhub.errors import ApiError, InputError

if TYPE_CHECKING:
    from starlette.requests import Request

MAX_BODY = 1024 * 1024  # a JSON body, unless the route names its own bound (setting)
MAX_DEPTH = 32  # levels of arrays/objects; a host report or a KB entry needs a handful


def depth(value: Any) -> int:
    """How deeply arrays and objects nest in ``value`` (a scalar is 0), without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, dict):
            v = list(v.values())
        if isinstance(v, list):
            deepest = max(deepest, d + 1)
            stack.extend((x, d + 1) for x in v)
    return deepest


def loads(body: bytes, *, max_depth: int = MAX_DEPTH) -> Any:
    """The JSON value of a request body (empty: null); InputError for bad or too deeply nested JSON."""
    too_deep = f"body: JSON nested deeper than {max_depth} levels"
    try:
        value = json.loads(body or b"null")
    except RecursionError:
        raise InputError(too_deep) from None
    except ValueError as e:
        raise InputError(f"body is not valid JSON: {e}") from None
    if depth(value) > max_depth:
        raise InputError(too_deep)
    try:
        # JSON may spell a lone UTF-16 surrogate ("\\ud800"): valid JSON, not text any database can
        # store (a UnicodeEncodeError, a 500, at the insert).
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise InputError("body: a JSON string holds an unpaired surrogate (not valid Unicode)") from None
    return value


async def read(request: Request, limit: int = MAX_BODY, setting: str | None = None) -> bytes:
    """The whole body, refused with a 413 naming ``setting`` as soon as it passes ``limit`` bytes
    (by its Content-Length before a byte is read)."""
    what = f"{setting} ({limit})" if setting else f"the limit of {limit} bytes"
    clen = request.headers.get("content-length", "")
    if clen.isdigit() and int(clen) > limit:
        raise ApiError(413, f"request body of {clen} bytes is larger than {what}")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise ApiError(413, f"request body is larger than {what}")
    return bytes(body)


async def parse(request: Request, limit: int = MAX_BODY, setting: str | None = None) -> Any:
    """The JSON value of a request body read with :func:`read`'s bound."""
    return loads(await read(request, limit, setting))
