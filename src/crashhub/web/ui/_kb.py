"""Knowledge-base pages: list and search, view, a form to write or edit an entry, and its preview.

The form's fields map one to one onto the entry's YAML (docs/kb.md); the entry is validated by the
KB's own ``KbEntry.from_dict``, written by the hub's ``KnowledgeBase.put`` and then re-applied to
every bucket, exactly as the API does.  "Would match N buckets" runs ``crashhub.kb.would_match``
over the latest crash of every bucket (cached for a minute: the preview runs on every keystroke).
"""

# ruff: noqa: PLC0415 - imports inside functions are deliberate: the KB matcher and dumper load on use.

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from crashhub import i18n
from crashhub.errors import KbError, PageError, Redirect
from crashhub.kb import KbEntry
from crashhub.web.ui.base import UI, UIState, page

FIELDS = (
    "id",
    "title",
    "status",
    "generic",
    "kinds",
    "title_re",
    "function",
    "frame",
    "modules",
    "loaded",
    "taint",
    "releases",
    "hardware",
    "cause",
    "advice",
    "references",
)


def _split(v: str, sep: str = ",") -> list[str]:
    return [x.strip() for x in re.split(sep, v) if x.strip()]


def form_to_data(f: dict[str, str]) -> dict[str, Any]:
    """The form's strings as the entry mapping ``KbEntry.from_dict`` validates."""
    match: dict[str, Any] = {}
    if f.get("kinds"):
        match["kinds"] = _split(f["kinds"])
    pairs = (("title_re", "title"), ("function", "function"), ("frame", "frame"), ("hardware", "hardware"))
    for name, key in pairs:
        if f.get(name, "").strip():
            match[key] = f[name].strip()
    for name in ("modules", "loaded"):
        if f.get(name):
            match[name] = _split(f[name])
    if f.get("taint", "").strip():
        match["taint"] = f["taint"].strip()
    ranges = []
    # One range per line: "introduced_in..fixed_in", "..fixed_in" or "introduced_in..".
    for line in _split(f.get("releases", ""), r"[\r\n]+"):
        lo, sep, hi = line.partition("..")
        if not sep:
            hi, lo = line, ""
        r = {k: v.strip() for k, v in (("introduced_in", lo), ("fixed_in", hi)) if v.strip()}
        if r:
            ranges.append(r)
    if ranges:
        match["releases"] = ranges
    d: dict[str, Any] = {
        "id": f.get("id", "").strip(),
        "title": f.get("title", "").strip(),
        "status": f.get("status", "known") or "known",
        "generic": f.get("generic") in ("1", "on", "true"),
        "match": match,
    }
    for k in ("cause", "advice"):
        if f.get(k, "").strip():
            d[k] = f[k].replace("\r\n", "\n").strip() + "\n"
    refs = _split(f.get("references", ""), r"[\r\n]+")
    if refs:
        d["references"] = refs
    return d


def entry_to_form(e: Any) -> dict[str, str]:
    r = e.rule
    return {
        "id": e.id,
        "title": e.title,
        "status": e.status,
        "generic": "1" if e.generic else "",
        "kinds": ", ".join(r.kinds),
        "title_re": r.title or "",
        "function": r.function or "",
        "frame": r.frame or "",
        "modules": ", ".join(r.modules),
        "loaded": ", ".join(r.loaded),
        "taint": r.taint,
        "releases": "\n".join(f"{x.introduced_in or ''}..{x.fixed_in or ''}" for x in r.releases),
        "hardware": r.hardware or "",
        "cause": e.cause,
        "advice": e.advice,
        "references": "\n".join(e.references),
    }


def bucket_to_form(ui: UI, bucket_id: str) -> dict[str, str]:
    """A new entry pre-filled from a bucket: its kind, guilty function (anchored) and module."""
    b = ui.store.buckets.get_bucket(bucket_id)
    if b is None:
        raise PageError(404, "No bucket {id}.", id=repr(bucket_id))
    c = ui.store.crashes.latest_crash_of_bucket(bucket_id)
    guilty = ((c.report or {}).get("guilty") or (c.report or {}).get("rip") or {}) if c else {}
    func = guilty.get("function") if isinstance(guilty, dict) else None
    mod = guilty.get("module") if isinstance(guilty, dict) else None
    slug = re.sub(r"[^a-z0-9]+", "-", (func or b.title).lower()).strip("-")[:60] or "entry"
    return {
        "id": f"{b.kind.replace('_', '-')}-{slug}"[:80].strip("-"),
        "title": b.title,
        "status": "investigating",
        "generic": "",
        "kinds": b.kind,
        "title_re": "",
        "function": f"^{re.escape(func)}$" if func else "",
        "frame": "",
        "modules": mod or "",
        "loaded": "",
        "taint": "",
        "releases": "",
        "hardware": "",
        "cause": "",
        "advice": "",
        "references": "",
    }


def bucket_reports(ui: UI) -> list[Any]:
    from crashhub.model import CrashReport

    def make() -> list[Any]:
        # The latest crash of every bucket in one query (the preview runs on every keystroke).
        latest = ui.store.crashes.latest_crashes()
        return [CrashReport.from_dict(c.report) for c in latest.values() if c.report is not None]

    return ui.cached("bucket-reports", 60.0, make)  # type: ignore[no-any-return]


def preview(ui: UI, f: dict[str, str]) -> tuple[int | None, str | None]:
    """(buckets the form's entry would match, or None with the validation error)."""
    from crashhub.kb import KbEntry, would_match

    try:
        entry = KbEntry.from_dict(form_to_data(f), "<form>")
    except KbError as e:
        return None, str(e)
    return would_match(entry, bucket_reports(ui)), None


async def _posted(request: Request) -> dict[str, str]:
    """The text fields of the KB form's POST (the entry's FIELDS plus csrf, fragment, bucket, new);
    preview and save take the same form, so it is read in one place."""
    data = await request.form()
    return {k: v for k, v in data.items() if isinstance(v, str)}


Posted = Annotated[dict[str, str], Depends(_posted)]


def _form(values: dict[str, str]) -> dict[str, str]:
    """The entry's fields, "" when absent; a form posted without a status is a known issue."""
    form = {k: values.get(k, "") for k in FIELDS}
    form["status"] = form["status"] or "known"
    return form


def _esc(s: str) -> str:
    from markupsafe import escape

    return str(escape(s))


router = APIRouter()


@router.get("/ui/kb", include_in_schema=False)
@page
def kb_list(request: Request, ui: UIState, q: str = "") -> Response:
    ui.require(request)
    lang = ui.lang(request)
    entries = ui.ctx.kb.entries()
    if q:
        ql = q.lower()
        entries = [e for e in entries if any(ql in x.lower() for x in _searched(e))]
    return ui.render(request, "kb_list.html", {"entries": [e.localized(lang) for e in entries], "q": q})


def _searched(e: KbEntry) -> tuple[str, ...]:
    """The texts a KB search looks in: id, title, cause, advice, in English and in Chinese."""
    zh = (e.zh.title, e.zh.cause, e.zh.advice) if e.zh else ()
    return (e.id, e.title, e.cause, e.advice, *zh)


@router.get("/ui/kb/new", include_in_schema=False)
@page
def kb_new(request: Request, ui: UIState, bucket: str = "") -> Response:
    ui.require(request, admin=True)
    form = bucket_to_form(ui, bucket) if bucket else {k: "" for k in FIELDS}
    n, _err = preview(ui, form) if bucket else (None, None)
    ctx = {"form": form, "new": True, "count": n, "error": None, "bucket": bucket}
    return ui.render(request, "kb_edit.html", ctx)


@router.get("/ui/kb/{entry_id}", include_in_schema=False)
@page
def kb_view(request: Request, ui: UIState, entry_id: str) -> Response:
    ui.require(request)
    e = ui.ctx.kb.get(entry_id)
    if e is None:
        raise PageError(404, "No knowledge-base entry {id}.", id=repr(entry_id))
    from crashhub.kb import dump_entry

    starter = (e.path or "").startswith("crashhub/kb/") or "/crashhub/kb/" in (e.path or "")
    ctx = {"e": e.localized(ui.lang(request)), "yaml": dump_entry(e), "starter": starter}
    return ui.render(request, "kb_view.html", ctx)


@router.get("/ui/kb/{entry_id}/edit", include_in_schema=False)
@page
def kb_edit(request: Request, ui: UIState, entry_id: str) -> Response:
    ui.require(request, admin=True)
    e = ui.ctx.kb.get(entry_id)
    if e is None:
        raise PageError(404, "No knowledge-base entry {id}.", id=repr(entry_id))
    form = entry_to_form(e)
    n, _err = preview(ui, form)
    ctx = {"form": form, "new": False, "count": n, "error": None, "bucket": ""}
    return ui.render(request, "kb_edit.html", ctx)


@router.post("/ui/kb/preview", include_in_schema=False)
@page
def kb_preview(request: Request, ui: UIState, posted: Posted) -> Response:
    ui.require(request, admin=True)
    ui.check_csrf(request, posted.get("csrf", ""))
    form = _form(posted)
    n, err = preview(ui, form)
    if posted.get("fragment"):
        _ = i18n.gettext(ui.lang(request))
        text = err if n is None else _("would match {n} buckets").format(n=n)
        return HTMLResponse(f'<span data-count="{"" if n is None else n}">{_esc(str(text))}</span>')
    ctx = {"form": form, "new": bool(posted.get("new")), "count": n, "error": err,
           "bucket": posted.get("bucket", "")}
    return ui.render(request, "kb_edit.html", ctx)


@router.post("/ui/kb/save", include_in_schema=False)
@page
def kb_save(request: Request, ui: UIState, posted: Posted) -> Response:
    s = ui.require(request, admin=True)
    ui.check_csrf(request, posted.get("csrf", ""))
    form = _form(posted)
    bucket = posted.get("bucket", "")
    data = form_to_data(form)
    old = ui.ctx.kb.get(str(data.get("id") or ""))
    if old is not None and old.zh is not None:
        # The form edits the English text; an entry's translation is kept (edit it in the YAML),
        # its commands' "why" only while the commands are the same in number.
        zh = old.zh.to_dict()
        if len(data.get("commands") or ()) != len(old.zh.why):
            zh.pop("why", None)
        data["zh"] = zh
    try:
        entry = ui.ctx.kb.put_data(data)
    except KbError as e:
        n, _err = preview(ui, form)
        ctx = {"form": form, "new": bool(posted.get("new")), "count": n, "error": str(e),
               "bucket": bucket}
        return ui.render(request, "kb_edit.html", ctx, 400)
    ui.store.access.audit(s.actor, "kb-put", entry.id)
    ui.ctx.kb.reapply(ui.store)
    ui.invalidate()
    raise Redirect(f"/ui/buckets/{bucket}" if bucket else f"/ui/kb/{entry.id}")


@router.post("/ui/kb/{entry_id}/delete", include_in_schema=False)
@page
def kb_delete(request: Request, ui: UIState, entry_id: str, csrf: str = Form("")) -> Response:
    s = ui.require(request, admin=True)
    ui.check_csrf(request, csrf)
    if not ui.guard("delete", lambda: ui.ctx.kb.delete(entry_id)):
        raise PageError(
            404, "No local entry {id} (starter entries are overridden, not deleted).", id=repr(entry_id)
        )
    ui.store.access.audit(s.actor, "kb-delete", entry_id)
    ui.ctx.kb.reapply(ui.store)
    ui.invalidate()
    raise Redirect("/ui/kb")
