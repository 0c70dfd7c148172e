"""The web UI: server-rendered pages over the hub's store (Jinja2 templates, inline SVG charts).

``install(app, ctx)`` makes the UI's state (``app.state.ui``: sessions, users, templates, the login
limits, a cache of costly page parts) and mounts one router per page group, every page under ``/ui/``
(and ``/`` redirecting there); each page is given that state by ``Depends`` (``base.UIState``).
``create_app`` installs it after the API.  Pages read without JavaScript; ``static/ui.js`` only adds
the KB form's live preview.  See docs/ui.md.
"""

# ruff: noqa: PLC0415 - the UI loads only when mounted

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import FastAPI

if TYPE_CHECKING:
    from crashhub.web._app import Context
    from crashhub.web.ui.base import UI


def install(app: FastAPI, ctx: Context) -> UI:
    """The UI's pages on ``app``, bound to its context (store, blobs, KB, settings); answers its state."""
    from crashhub.web.ui import (
        _buckets,
        _coverage,
        _crashes,
        _crashlist,
        _hosts,
        _kb,
        _login,
        _reports,
        _source,
    )
    from crashhub.web.ui.base import UI

    ui = UI(ctx)
    app.state.ui = ui  # the pages' dependency, and tests and the bench reach the UI state through it
    # No two groups answer the same method and path; order matters only inside a group
    # ("/ui/kb/new" before "/ui/kb/{entry_id}" in _kb).
    for group in (_login, _buckets, _crashlist, _crashes, _reports, _hosts, _coverage, _kb, _source):
        app.include_router(group.router)
    return ui


__all__ = ["install"]
