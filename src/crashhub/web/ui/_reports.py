"""Reports of a crash, a bucket and the week, in HTML, Markdown or JSON (``crashhub.report``)."""

# ruff: noqa: PLC0415 - imports inside functions are deliberate: report code loads on use.

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from crashhub.errors import PageError
from crashhub.model import JsonObject
from crashhub.web.ui.base import UIState, harden, page

router = APIRouter()


@router.get("/ui/crashes/{crash_id}/report", include_in_schema=False)
@page
def crash_report(request: Request, ui: UIState, crash_id: str, format: str = "html") -> Response:
    ui.require(request)
    from crashhub.report import render

    lang = ui.lang(request)
    doc = ui.guard("report", lambda: render.crash_doc(ui.ctx.hub, ui.ctx.kb, crash_id))
    return _report_response(render, doc, format, lang, f"crash-{crash_id}")


@router.get("/ui/buckets/{bucket_id}/report", include_in_schema=False)
@page
def bucket_report(request: Request, ui: UIState, bucket_id: str, format: str = "html") -> Response:
    ui.require(request)
    from crashhub.report import render

    lang = ui.lang(request)
    doc = ui.guard("report", lambda: render.bucket_doc(ui.ctx.hub, ui.ctx.kb, bucket_id))
    return _report_response(render, doc, format, lang, f"bucket-{bucket_id}")


@router.get("/ui/weekly", include_in_schema=False)
@page
def weekly(request: Request, ui: UIState, format: str = "page") -> Response:
    """The week as a page of the site (every new bucket, linked); ``format`` html, md or json gives
    the standalone report of ``crashhub report --weekly``."""
    ui.require(request)
    from crashhub.report import render

    doc = ui.guard("report", lambda: render.weekly_doc(ui.ctx.hub))
    if format == "page":
        return ui.render(request, "weekly.html", {"w": doc})
    return _report_response(render, doc, format, ui.lang(request), "weekly")


def _report_response(render: Any, doc: JsonObject, fmt: str, lang: str, stem: str) -> Response:
    # The headers of every other page (issue 14): the report shows the same crash data.  Its one
    # inline style is allowed by hash; nothing else loads, runs, frames it or submits from it.
    csp = (f"default-src 'none'; style-src {render.STYLE_HASH}; img-src data:; base-uri 'none'; "
           "form-action 'none'; frame-ancestors 'none'")
    if fmt == "json":
        return harden(Response(render.to_json(doc), media_type="application/json"), csp)
    if fmt in ("md", "markdown"):
        return harden(Response(
            render.to_markdown(doc, lang),
            media_type="text/markdown; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{stem}.md"'},
        ), csp)
    if fmt == "html":
        return harden(Response(render.to_html(doc, lang), media_type="text/html; charset=utf-8"), csp)
    raise PageError(400, "unknown format {value} ({formats})", value=repr(fmt),
                    formats="html, md, json" + (", page" if stem == "weekly" else ""))
