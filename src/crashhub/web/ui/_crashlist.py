"""The crash list (``/ui/crashes``: the API's filters, sorted and paged) and the free-text search
(``/ui/search?q=``: buckets by title, key function, host or kernel; hosts by part of a name; buckets
whose newest crash names a module)."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from crashhub.errors import PageError
from crashhub.store import CRASH_SORTS, MAX_QUERY, BucketRecord
from crashhub.web.ui import views
from crashhub.web.ui.base import UI, UIState, page

router = APIRouter()

PAGE = 50
SEARCH_BUCKETS = 50


@router.get("/ui/crashes", include_in_schema=False)
@page
def crash_list(
    request: Request,
    ui: UIState,
    *,
    host: str = Query("", max_length=255),
    kind: str = Query("", max_length=64),
    bucket: str = Query("", max_length=64),
    kernel: str = Query("", max_length=255),
    window: str = "",
    sort: str = Query("time"),
    order: str = Query("desc"),
    offset: int = Query(0, ge=0, le=10_000_000),
) -> Response:
    ui.require(request)
    if sort not in CRASH_SORTS:
        raise PageError(400, "unknown sort {value} ({known})", value=repr(sort), known=", ".join(CRASH_SORTS))
    if order not in ("asc", "desc"):
        raise PageError(400, "unknown order {value} (asc, desc)", value=repr(order))
    filters: dict[str, Any] = {
        "host": host or None,
        "kind": kind or None,
        "bucket": bucket or None,
        "kernel": kernel or None,
        "since": views.since_of(window, time.time()),
    }
    rows = ui.store.crashes.list_crashes(
        **filters, sort=sort, descending=order == "desc", limit=PAGE, offset=offset
    )
    total = ui.store.crashes.count_crashes(**filters)
    f = {"host": host, "kind": kind, "bucket": bucket, "kernel": kernel, "window": window,
         "sort": sort, "order": order}

    def link(**kw: Any) -> str:
        q = {k: v for k, v in {**f, **kw}.items() if v not in ("", None, 0)}
        q = {k: v for k, v in q.items() if (k, v) not in (("sort", "time"), ("order", "desc"))}
        return "/ui/crashes" + ("?" + urlencode(q) if q else "")

    from crashhub.kb import KINDS  # noqa: PLC0415 - the KB loads when a page needs its kinds

    ctx = {
        "crashes": rows,
        "total": total,
        "offset": offset,
        "page": PAGE,
        "f": f,
        "link": link,
        "kinds": KINDS,
        "kernels": ui.cached("kernels", 60.0, ui.store.crashes.crash_releases),
    }
    return ui.render(request, "crashes.html", ctx)


def _module_buckets(ui: UI) -> dict[str, set[str]]:
    """``{module (lower case): bucket ids}`` from the newest crash of every bucket (its guilty frame
    and its stack), kept a minute like the KB preview's reports: modules live in the crash
    reports' JSON, which no index reaches."""

    def make() -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for bid, c in ui.store.crashes.latest_crashes().items():
            r = c.report or {}
            frames = [r.get("guilty"), *(r.get("frames") or [])]
            for fr in frames:
                mod = fr.get("module") if isinstance(fr, dict) else None
                if isinstance(mod, str) and mod:
                    out.setdefault(mod.lower(), set()).add(bid)
        return out

    return ui.cached("module-buckets", 60.0, make)  # type: ignore[no-any-return]


@router.get("/ui/search", include_in_schema=False)
@page
def search(request: Request, ui: UIState, q: str = Query("", max_length=MAX_QUERY)) -> Response:
    ui.require(request)
    text = q.strip()
    buckets: list[BucketRecord] = []
    total = 0
    hosts: list[tuple[str, int]] = []
    modules: list[tuple[str, int, list[BucketRecord]]] = []
    if text:
        opts = ui.bucket_opts()
        buckets = ui.store.buckets.list_buckets(search=text, limit=SEARCH_BUCKETS, **opts)
        total = ui.store.buckets.count_buckets(search=text)
        hosts = ui.store.crashes.crash_hosts(text)
        part = text.lower()
        shown = {b.id for b in buckets}
        for mod, ids in sorted(_module_buckets(ui).items()):
            if part in mod:
                extra = [b for i in sorted(ids - shown)[:20] if (b := ui.store.buckets.get_bucket(i, **opts))]
                modules.append((mod, len(ids), extra))
                if len(modules) >= 10:
                    break
    ctx = {
        "q": text,
        "buckets": [{"b": b, "kb": views.kb_status(b.kb)} for b in buckets],
        "total": total,
        "hosts": hosts,
        "modules": modules,
        "more": "/ui/?" + urlencode({"q": text}),
    }
    return ui.render(request, "search.html", ctx)
