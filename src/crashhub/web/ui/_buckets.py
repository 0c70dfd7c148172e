"""The dashboard (buckets under filters, the releases chart) and a bucket's page: similar buckets
across kernels, keys, grouping rules and re-keys; merge, split (of picked crashes or by a condition),
rule deletion and the response workflow."""

# ruff: noqa: PLC0415 - imports inside functions are deliberate: the similarity code loads on use.

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response

from crashhub import i18n
from crashhub.classify import FIELDS, Condition
from crashhub.errors import PageError, Redirect
from crashhub.report import REPRESENTATIVE_SCAN, representative
from crashhub.store import KB_STATUSES, MAX_QUERY, BucketRecord, day_of, effective_status, is_overdue
from crashhub.web.ui import _bucket_view as bv
from crashhub.web.ui import views
from crashhub.web.ui.base import UI, UIState, page

if TYPE_CHECKING:
    from crashhub.web._similar import Similar

router = APIRouter()

PAGE = 100
CHART_DAYS = 30
SORTS = ("count", "last_seen", "trend")


def workflow(ui: UI, b: BucketRecord, now: float) -> dict[str, Any]:
    """The bucket's response state as the pages show it ("advice given" for ``advice_given``).

    A bucket stored before the workflow existed has no deadline: first seen + ``first_advice_hours``.
    """
    deadline = b.advice_deadline if b.advice_deadline is not None else b.first_seen + ui.advice_hours * 3600
    return {
        "status": effective_status(b.status, b.kb).replace("_", " "),
        "owner": b.owner,
        "advice": b.advice,
        "deadline": deadline,
        "overdue": is_overdue(b.status, b.kb, deadline, now),
    }


def _filtered(
    ui: UI,
    *,
    sort: str,
    kind: str | None,
    kernel: str | None,
    host: str | None,
    kb: str | None,
    since: float | None,
    offset: int,
    status: str | None = None,
    search: str | None = None,
) -> tuple[list[BucketRecord], int]:
    """One page of buckets under the filters (all done by the store, in SQL), and how many match."""
    if kb and kb not in KB_STATUSES:
        raise PageError(400, "unknown KB status {value} ({known})", value=repr(kb),
                        known=", ".join(KB_STATUSES))
    filters: dict[str, Any] = {"kind": kind, "kernel": kernel, "host": host, "kb_status": kb, "since": since,
                               "status": status, "search": search}
    rows = ui.guard("filter", lambda: ui.store.buckets.list_buckets(
        sort=sort, limit=PAGE, offset=offset, **filters, **ui.bucket_opts()))
    return rows, ui.store.buckets.count_buckets(**filters)


def release_chart(ui: UI, now: float) -> views.Chart:
    def make() -> views.Chart:
        today = day_of(now)
        days = views.days_back(today, CHART_DAYS)
        since = now - CHART_DAYS * 86400
        return views.stacked_days(ui.store.crashes.crashes_per_day_by_release(since), days)

    return ui.cached("release-chart", 60.0, make)  # type: ignore[no-any-return]


@router.get("/ui/", include_in_schema=False)
@page
def dashboard(
    request: Request,
    ui: UIState,
    *,
    sort: str = Query("count"),
    kind: str = "",
    kernel: str = "",
    host: str = "",
    kb: str = "",
    window: str = "",
    status: str = "",
    q: str = Query("", max_length=MAX_QUERY),
    offset: int = Query(0, ge=0, le=10_000_000),
) -> Response:
    ui.require(request)
    if sort not in SORTS:
        raise PageError(400, "unknown sort {value} ({known})", value=repr(sort), known=", ".join(SORTS))
    now = time.time()
    rows, total = _filtered(
        ui,
        sort=sort,
        kind=kind or None,
        kernel=kernel or None,
        host=host or None,
        kb=kb or None,
        since=views.since_of(window, now),
        offset=offset,
        status=status.replace(" ", "_") or None,
        search=q.strip() or None,
    )
    today = day_of(now)
    buckets = [
        {
            "b": b,
            "kb": views.kb_status(b.kb),
            "spark": views.sparkline(b.days, today),
            "wf": workflow(ui, b, now),
        }
        for b in rows
    ]
    kernels = ui.cached("kernels", 60.0, ui.store.crashes.crash_releases)
    from crashhub.kb import KINDS

    filt = {"sort": sort, "kind": kind, "kernel": kernel, "host": host, "kb": kb, "window": window,
            "status": status, "q": q.strip()}

    def link(**kw: Any) -> str:
        q = {k: v for k, v in {**filt, **kw}.items() if v not in ("", None, 0)}
        return "/ui/?" + urlencode(q)

    ctx = {
        "buckets": buckets,
        "total": total,
        "offset": offset,
        "page": PAGE,
        "f": filt,
        "kinds": KINDS,
        "kernels": kernels,
        "chart": release_chart(ui, now),
        "link": link,
        "overdue": sum(1 for x in buckets if _overdue(x)),
    }
    from crashhub.web.ui._coverage import PANEL_HOSTS, coverage_of, host_rows

    cov = coverage_of(ui)
    ctx.update(cov=cov, cov_hosts=host_rows(cov, PANEL_HOSTS), cov_days=ui.ctx.settings.coverage_days)
    return ui.render(request, "dashboard.html", ctx)


@router.get("/ui/buckets/{bucket_id}", include_in_schema=False)
@page
def bucket(
    request: Request,
    ui: UIState,
    bucket_id: str,
    *,
    came: str = Query("", alias="from"),
    crash: str = Query("", max_length=64),
    sort: str = Query("time"),
    order: str = Query("desc"),
    offset: int = Query(0, ge=0, le=10_000_000),
) -> Response:
    ui.require(request)
    b = ui.store.buckets.get_bucket(bucket_id, **ui.bucket_opts())
    if b is None or b.merged_into:
        # An id or key from before a merge or a re-key: the bucket that took its crashes over.
        survivor = ui.store.grouping.resolve(bucket_id)
        if survivor is not None and survivor != bucket_id:
            raise Redirect(f"/ui/buckets/{survivor}?" + urlencode({"from": bucket_id}))
    if b is None:
        raise PageError(404, "No bucket {id}.", id=repr(bucket_id))
    now = time.time()
    first = day_of(b.first_seen)
    today = day_of(now)
    span = max(14, min(180, (int(now - b.first_seen) // 86400) + 2))
    days = views.days_back(today, span)
    if days[0] > first:
        days = views.days_back(today, 180)
    chart = views.stacked_days({"crashes": b.days}, days)
    crashes = ui.store.crashes.list_crashes(bucket=bucket_id, limit=REPRESENTATIVE_SCAN)
    # The diagnosis shown is the newest analysed crash's, as the bucket report's.
    rep = representative(crashes)
    lang = ui.lang(request)
    entries = [(m, e.localized(lang) if (e := ui.ctx.kb.get(str(m.get("id") or m.get("entry_id")))) else None)
               for m in b.kb]
    shown = bv.representative(ui, bucket_id, crash)
    an, frames = bv.stack(shown) if shown is not None else ({}, [])
    newest_first = (sort, order, offset) == ("time", "desc", 0) and REPRESENTATIVE_SCAN >= bv.CRASH_PAGE
    first_page = crashes[: bv.CRASH_PAGE] if newest_first else None
    listing = bv.crash_page(ui, bucket_id, sort=sort, order=order, offset=offset, first=first_page)
    bd = bv.breakdown(ui, b)
    state = {"crash": crash, "sort": sort, "order": order, "offset": offset}

    def link(**kw: Any) -> str:
        q = {k: v for k, v in {**state, **kw}.items() if v not in ("", None, 0)}
        q = {k: v for k, v in q.items() if (k, v) not in (("sort", "time"), ("order", "desc"))}
        return f"/ui/buckets/{bucket_id}" + ("?" + urlencode(q) if q else "")

    ctx = {
        "b": b,
        "kbs": views.kb_status(b.kb),
        "chart": chart,
        "crashes": crashes,
        "entries": entries,
        "events": ui.store.buckets.bucket_events(bucket_id),
        "similar": similar_buckets(ui, b),
        "wf": workflow(ui, b, now),
        "can_workflow": True,
        "came_from": came,
        "keys": ui.store.grouping.aliases(bucket_id),
        "rules": ui.store.grouping.rules(bucket=bucket_id),
        "rekeys": ui.store.grouping.ledger(bucket=bucket_id, limit=20),
        "fields": FIELDS,
        "diag": views.analysis_view(rep.analysis, lang=lang) if rep is not None else {},
        "diag_crash": rep,
        "shown": shown,
        "shown_head": bv.header(shown, i18n.gettext(lang)) if shown is not None else [],
        "shown_oops": bv.log_lines(ui, shown) if shown is not None else [],
        "shown_an": an,
        "shown_frames": frames,
        "steps": bv.steps(ui, shown, crashes[0].id if crashes else None),
        "listing": listing,
        "breakdown": bv.breakdown_rows(bd, bucket_id, i18n.gettext(lang)) if bd is not None else {},
        "link": link,
    }
    return ui.render(request, "bucket.html", ctx)


@router.post("/ui/buckets/{bucket_id}/merge", include_in_schema=False)
@page
def merge(
    request: Request, ui: UIState, bucket_id: str, csrf: str = Form(""), into: str = Form("")
) -> Response:
    s = ui.require(request, admin=True)
    ui.check_csrf(request, csrf)
    target = ui.guard("merge", lambda: ui.store.buckets.merge_buckets(bucket_id, into.strip(), s.actor))
    ui.invalidate()
    raise Redirect(f"/ui/buckets/{target.id}")


@router.post("/ui/buckets/{bucket_id}/split", include_in_schema=False)
@page
def split(
    request: Request,
    ui: UIState,
    bucket_id: str,
    *,
    csrf: str = Form(""),
    crash: list[str] = Form([]),  # noqa: B008
    title: str = Form(""),
    field: str = Form(""),
    pattern: str = Form(""),
) -> Response:
    s = ui.require(request, admin=True)
    ui.check_csrf(request, csrf)
    when = []
    if pattern.strip():
        when = [ui.guard("split", lambda: Condition.from_dict({"field": field, "pattern": pattern}))]
    if not crash and not when:
        raise PageError(400, "Tick the crashes to move into a new bucket, or give a condition.")
    new = ui.guard(
        "split",
        lambda: ui.store.buckets.split_bucket(bucket_id, crash, s.actor, title.strip() or None, when),
    )
    ui.invalidate()
    raise Redirect(f"/ui/buckets/{new.id}")


@router.post("/ui/buckets/{bucket_id}/rules/{rule_id}/delete", include_in_schema=False)
@page
def delete_rule(
    request: Request, ui: UIState, bucket_id: str, rule_id: str, csrf: str = Form("")
) -> Response:
    s = ui.require(request, admin=True)
    ui.check_csrf(request, csrf)
    ui.guard("rule", lambda: ui.store.grouping.delete_rule(rule_id, s.actor))
    ui.invalidate()
    raise Redirect(f"/ui/buckets/{bucket_id}")


@router.post("/ui/buckets/{bucket_id}/workflow", include_in_schema=False)
@page
def set_workflow(
    request: Request,
    ui: UIState,
    bucket_id: str,
    *,
    csrf: str = Form(""),
    status: str = Form(""),
    owner: str = Form(""),
    advice: str = Form(""),
) -> Response:
    s = ui.require(request, admin=True)
    ui.check_csrf(request, csrf)
    ui.guard(
        "workflow",
        lambda: ui.store.buckets.set_bucket_workflow(
            bucket_id, status=status or None, owner=owner, advice=advice, actor=s.actor
        ),
    )
    ui.invalidate()
    raise Redirect(f"/ui/buckets/{bucket_id}")


def _overdue(row: dict[str, Any]) -> bool:
    return bool(row["wf"]["overdue"])


def similar_buckets(ui: UI, b: BucketRecord, limit: int = 5) -> list[Similar]:
    """Buckets most like this one across kernels (``crashhub.web._similar``), best first."""
    from crashhub.web._similar import for_store

    return for_store(ui.store).similar(b, limit=limit)
