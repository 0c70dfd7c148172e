"""The web UI: server-rendered pages over the hub's store (Jinja2 templates, inline SVG charts).

``router(ctx)`` returns an ``APIRouter`` with every page under ``/ui/`` (and ``/`` redirecting
there); the app mounts it with ``app.include_router(ui.router(ctx))`` next to the API.  Pages read
without JavaScript; ``static/ui.js`` only adds the KB form's live preview.  See docs/ui.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter

if TYPE_CHECKING:
    from crashhub.web.app import Context


def router(ctx: Context) -> APIRouter:
    """The UI's routes bound to the app's context (store, blobs, KB, settings)."""
    from crashhub.web.ui import kbpages, pages  # noqa: PLC0415 - the UI loads only when mounted
    from crashhub.web.ui.base import UI  # noqa: PLC0415

    ui = UI(ctx)
    r = APIRouter()
    pages.install(r, ui)
    kbpages.install(r, ui)
    r.ui = ui  # type: ignore[attr-defined]  # tests and the bench reach the UI state through it
    return r


__all__ = ["router"]
