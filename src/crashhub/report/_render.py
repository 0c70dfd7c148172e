"""Reports: one crash, one bucket, and the weekly summary, as JSON, Markdown and HTML.

The ``*_doc`` functions read the store once and build a plain dict (the JSON report); the
renderers are pure functions of that dict and a language, so the three formats always agree.
HTML is the Markdown rendered by markdown-it with raw HTML disabled (log text cannot inject
markup) inside a small self-contained page.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from crashhub import i18n
from crashhub.analyze import Analysis, AnalysisRecord
from crashhub.errors import InputError
from crashhub.model import JsonObject
from crashhub.report._diagnosis import (
    REPRESENTATIVE_SCAN,
    analysis_doc,
    diagnosis_md,
    representative,
)
from crashhub.report._diagnosis import md_escape as _md_escape
from crashhub.store import fleet_coverage, iso

if TYPE_CHECKING:
    from crashhub.kb import KbView
    from crashhub.knowledge import KnowledgeBase
    from crashhub.store import Hub

FORMATS = ("json", "md", "html")
WEEK = 7 * 86400


def _status(kb: list[JsonObject]) -> str:
    if any(m.get("regression") for m in kb):
        return "regression"
    return "known" if any(not m.get("generic") for m in kb) else "new"


def _entry(kb: KnowledgeBase, view: KbView) -> JsonObject | None:
    best = view.best
    if best is None:
        return None
    e = kb.get(best.entry_id)
    return e.to_dict() if e is not None else None


def crash_doc(hub: Hub, kb: KnowledgeBase, crash_id: str) -> JsonObject:
    c = hub.store.crashes.get_crash(crash_id)
    if c is None:
        raise InputError(f"no crash {crash_id!r}")
    b = hub.store.buckets.get_bucket(c.bucket_id)
    rep = c.report or {}
    an = AnalysisRecord.from_dict(c.analysis) if c.analysis else None
    res = (an.result if an else None) or Analysis()
    view = kb.crash_view(hub.store, c)  # the KB of now, as the crash page shows it
    guilty = rep.get("guilty") or rep.get("rip") or {}
    return {
        "type": "crash",
        "generated_at": iso(datetime.now(UTC).timestamp()),
        "crash": {
            "id": c.id,
            "time": iso(c.crash_time or c.received_at),
            "host": c.host,
            "release": c.release,
            "version": rep.get("version"),
            "build_id": (c.dump_facts or {}).get("build_id"),
            "kind": c.kind,
            "title": c.title,
            "hardware": c.hardware,
            "has_vmcore": c.has_vmcore,
        },
        "kb_status": view.answer,
        "kb": view.to_dict()["matches"],
        "kb_view": view.to_dict(),
        "entry": _entry(kb, view),
        "panic_message": rep.get("panic_message"),
        "guilty": guilty.get("function") if isinstance(guilty, dict) else None,
        "oops": str(rep.get("text") or "")[:20000],
        "frames": [{"function": f.function, "module": f.module, "file": f.file, "line": f.line}
                   for f in res.stack[:64]]
        or [
            {k: f.get(k) for k in ("function", "module", "file", "line")}
            for f in (rep.get("frames") or [])[:64]
            if isinstance(f, dict)
        ],
        "taint": (rep.get("taint") or {}).get("letters") if isinstance(rep.get("taint"), dict) else None,
        "dump": {
            k: (c.dump_facts or {}).get(k)
            for k in ("format", "compression", "release", "build_id", "partial", "incomplete", "file_size")
        }
        if c.dump_facts
        else None,
        "analysis": analysis_doc(c),
        "bucket": b.to_dict() if b is not None else None,
    }


def bucket_doc(hub: Hub, kb: KnowledgeBase, bucket_id: str) -> JsonObject:
    b = hub.store.buckets.get_bucket(bucket_id)
    if b is None:
        raise InputError(f"no bucket {bucket_id!r}")
    crashes = hub.store.crashes.list_crashes(bucket=bucket_id, limit=REPRESENTATIVE_SCAN)
    rep = representative(crashes)
    view = kb.bucket_view(hub.store, b)
    return {
        "type": "bucket",
        "generated_at": iso(datetime.now(UTC).timestamp()),
        "bucket": b.to_dict(),
        "kb_status": view.answer,
        "kb_view": view.to_dict(),
        "entry": _entry(kb, view),
        "events": [
            {"at": iso(e.at), "action": e.action, "actor": e.actor, "detail": e.detail}
            for e in hub.store.buckets.bucket_events(bucket_id)
        ],
        "crashes": [
            {"id": c.id, "time": iso(c.crash_time or c.received_at), "host": c.host, "release": c.release}
            for c in crashes[:20]
        ],
        # The diagnosis of the bucket's newest analysed crash (``analysis.crash`` names it).
        "analysis": analysis_doc(rep) if rep is not None else None,
    }


def weekly_doc(hub: Hub, now: float | None = None, *, top: int = 10, scan: int = 5000,
               new_top: int | None = None) -> JsonObject:
    """New buckets, top buckets, regressions and kernels by crash rate over the 7 days before ``now``.

    ``new_buckets`` lists every new bucket (``new_top`` cuts it, ``new_buckets_total`` still counts
    them all); rates are crashes per host per day, over the fleet and per kernel (the hosts whose
    report names that kernel or that crashed on it)."""
    now = now or datetime.now(UTC).timestamp()
    since = now - WEEK
    store = hub.store
    buckets = store.buckets.list_buckets(sort="last_seen", limit=scan)
    recent = [b for b in buckets if b.last_seen >= since]
    days = {datetime.fromtimestamp(now - i * 86400, UTC).strftime("%Y-%m-%d") for i in range(7)}

    def week_count(b: Any) -> int:
        return sum(v for d, v in b.days.items() if d in days)

    def row(b: Any) -> JsonObject:
        return {"id": b.id, "kind": b.kind, "title": b.title, "week": week_count(b), "count": b.count,
                "first_seen": iso(b.first_seen), "hosts": b.host_count or len(b.hosts),
                "kb_status": _status(b.kb)}

    new = sorted((b for b in recent if b.first_seen >= since), key=lambda b: (-week_count(b), -b.count))
    regressions = [b for b in recent if any(m.get("regression") for m in b.kb)]
    crashes = store.crashes.list_crashes(since=since, limit=scan * 10)
    per_kernel: dict[str, int] = {}
    for c in crashes:
        per_kernel[c.release or "?"] = per_kernel.get(c.release or "?", 0) + 1
    hosts = store.hosts.list_hosts()
    # The hosts known to run a kernel: those reporting it and those that crashed on it.
    running = {k.release: k.hosts for k in store.hosts.list_kernels()}
    kernels: list[JsonObject] = sorted(
        (_kernel_rate(k, n, running.get(k)) for k, n in per_kernel.items()),
        key=lambda k: (-(k["per_host"] or 0), -k["crashes"]),
    )
    return {
        "type": "weekly",
        "generated_at": iso(now),
        "from": iso(since),
        "to": iso(now),
        "crashes": len(crashes),
        "hosts": len(hosts),
        "hosts_crashed": len({c.host for c in crashes}),
        "per_host_day": round(len(crashes) / len(hosts) / 7, 4) if hosts else None,
        "new_buckets": [row(b) for b in (new if new_top is None else new[:new_top])],
        "new_buckets_total": len(new),
        "top_buckets": [row(b) for b in sorted(recent, key=lambda b: -week_count(b))[:top]],
        "regressions": [row(b) for b in regressions[:top]],
        "kernels": kernels,
        "coverage": _coverage_doc(hub, now, top),
    }


def _coverage_doc(hub: Hub, now: float, top: int) -> JsonObject:
    """The week's crashes by channel, and the hosts where kdump failed most (a crash seen through
    netconsole or pstore whose dump never came within ``dump_grace_hours``)."""
    cov = fleet_coverage(hub.store, now=now, days=7, grace_hours=hub.settings.dump_grace_hours)
    failed = [r.to_dict() for r in cov.hosts if r.dump_missing][:top]
    return {"channels": list(cov.channels), "total": cov.total.to_dict(), "dump_missing_hosts": failed}


def _kernel_rate(release: str, crashes: int, running: int | None) -> JsonObject:
    per_host = crashes / running if running else None
    return {"release": release, "crashes": crashes, "hosts_running": running,
            "per_host": round(per_host, 3) if per_host is not None else None,
            "per_host_day": round(per_host / 7, 4) if per_host is not None else None}


# ---------------------------------------------------------------------------- Markdown


def _table(head: list[str], rows: list[list[Any]]) -> list[str]:
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(_md_escape(x) for x in r) + " |" for r in rows]
    return [*out, ""]


def _entry_md(e: JsonObject | None, _: Callable[[str], str], lang: str) -> list[str]:
    if not e:
        return [_("No advice recorded yet."), ""]
    tr = e.get(lang) if lang != "en" else None
    if isinstance(tr, dict):  # the entry's own translation (KbEntry.zh), field by field
        e = {**e, **{k: v for k, v in tr.items() if v}}
    out = [f"**{_md_escape(e.get('title'))}** (`{e.get('id')}`, {_(str(e.get('status')))})", ""]
    if e.get("cause"):
        out += [f"### {_('Cause')}", "", str(e["cause"]).strip(), ""]
    if e.get("advice"):
        out += [f"### {_('Advice')}", "", str(e["advice"]).strip(), ""]
    refs = e.get("references") or []
    if refs:
        out += [f"### {_('References')}", ""] + [f"- {_md_escape(r)}" for r in refs] + [""]
    return out


def _regressed_md(doc: JsonObject, _: Callable[[str], str]) -> list[str]:
    """The comparison that makes the bucket regressed, and the release bounds left out."""
    v = doc.get("kb_view") or {}
    out: list[str] = []
    if v.get("regressed") and v.get("comparison"):
        out += [f"**{_('Regressed')}**: `{v['comparison']}`", ""]
    if v.get("skipped"):
        out += [f"{_('Release bounds not compared')}:", ""] + [f"- `{n}`" for n in v["skipped"]] + [""]
    return out


def _answer(status: str, _: Callable[[str], str]) -> str:
    return _("Regressed") if status == "regression" else _(status)


def to_markdown(doc: JsonObject, lang: str = "en") -> str:
    _ = i18n.gettext(lang)
    t = doc.get("type")
    out: list[str] = []
    if t == "crash":
        c = doc["crash"]
        out += [f"# {_('Crash')} {c['id']}: {_md_escape(c['title'])}", ""]
        # The diagnosis first, then the facts and stack.
        out += diagnosis_md(doc.get("analysis"), _, lang=lang)
        out += _table(
            [_("Field"), _("Value")],
            [[_("Time"), c["time"]], [_("Host"), c["host"]], [_("Kernel"), c["release"]],
             [_("Build id"), c.get("build_id") or ""], [_("Kind"), c["kind"]],
             [_("KB status"), _answer(doc["kb_status"], _)], [_("Hardware"), c.get("hardware") or ""],
             [_("Taint"), doc.get("taint") or ""]],
        )
        out += [f"## {_('What happened')}", "", i18n.kind_summary(c["kind"], lang), ""]
        if doc.get("panic_message"):
            out += ["`" + str(doc["panic_message"]).replace("`", "'") + "`", ""]
        out += [f"## {_('Known cause and advice')}", "", *_regressed_md(doc, _)]
        out += _entry_md(doc.get("entry"), _, lang)
        if doc.get("oops"):
            out += [f"## {_('Oops')}", "", "```", str(doc["oops"]).replace("```", "'''"), "```", ""]
        if doc.get("frames"):
            out += [f"## {_('Frames')}", ""]
            out += _table(["#", _("Function"), _("Module"), _("Source")],
                          [[i, f.get("function"), f.get("module") or "",
                            f"{f['file']}:{f['line']}" if f.get("file") else ""]
                           for i, f in enumerate(doc["frames"])])
        b = doc.get("bucket")
        if b:
            out += [f"## {_('Bucket')}", "",
                    f"`{b['id']}`: {_md_escape(b['title'])} ({_('{n} crashes').format(n=b['count'])}, "
                    f"{_('first seen')} {b['first_seen']}, {_('last seen')} {b['last_seen']})", ""]
    elif t == "bucket":
        b = doc["bucket"]
        out += [f"# {_('Bucket')} {b['id']}: {_md_escape(b['title'])}", ""]
        out += diagnosis_md(doc.get("analysis"), _, bucket=True, lang=lang)
        out += _table(
            [_("Field"), _("Value")],
            [[_("Kind"), b["kind"]], [_("Crashes"), b["count"]], [_("Dumps"), b["dumps"]],
             [_("First seen"), b["first_seen"]], [_("Last seen"), b["last_seen"]],
             [_("KB status"), _answer(doc["kb_status"], _)], [_("Hosts"), ", ".join(b["hosts"])],
             [_("Kernels"), ", ".join(b["kernels"])], [_("Hardware"), ", ".join(b["hardware"])]],
        )
        out += [f"## {_('Known cause and advice')}", "", *_regressed_md(doc, _)]
        out += _entry_md(doc.get("entry"), _, lang)
        out += [f"## {_('Sample crashes')}", ""]
        out += _table([_("Crash"), _("Time"), _("Host"), _("Kernel")],
                      [[c["id"], c["time"], c["host"], c["release"] or ""] for c in doc["crashes"]])
        if doc.get("events"):
            out += [f"## {_('History')}", ""]
            out += _table([_("Time"), _("Actor"), _("Action")],
                          [[e["at"], e["actor"], e["action"]] for e in doc["events"]])
    elif t == "weekly":
        out += [f"# {_('Weekly summary')} {str(doc['from'])[:10]} – {str(doc['to'])[:10]}", "",
                _("{n} crashes this week").format(n=doc["crashes"]), ""]

        def brows(rows: list[JsonObject]) -> list[list[Any]]:
            return [[r["week"], r["kind"], r["title"], r["hosts"], _answer(r["kb_status"], _), r["id"]]
                    for r in rows]

        if doc.get("per_host_day") is not None:
            out += [_("{r} crashes per host per day over {h} hosts ({c} of them crashed)").format(
                r=doc["per_host_day"], h=doc["hosts"], c=doc["hosts_crashed"]), ""]
        head = [_("This week"), _("Kind"), _("Title"), _("Hosts"), _("KB status"), _("Bucket")]
        shown, total = len(doc["new_buckets"]), doc["new_buckets_total"]
        count = str(total) if shown == total else _("top {n} of {total}").format(n=shown, total=total)
        out += [f"## {_('New buckets')} ({count})", ""]
        out += _table(head, brows(doc["new_buckets"])) if shown else [_("None."), ""]
        out += [f"## {_('Top buckets')}", "", *_table(head, brows(doc["top_buckets"]))]
        out += [f"## {_('Regressions')}", ""]
        out += _table(head, brows(doc["regressions"])) if doc["regressions"] else [_("None."), ""]
        out += [f"## {_('Kernels by crash rate')}", ""]
        out += _table([_("Kernel"), _("Crashes"), _("Hosts running it"), _("Crashes per host"),
                       _("Per host per day")],
                      [[k["release"], k["crashes"], k["hosts_running"] or "", k["per_host"] or "",
                        k.get("per_host_day") or ""] for k in doc["kernels"]])
        out += _coverage_md(doc.get("coverage"), _)
    else:
        raise InputError(f"unknown report type {t!r}")
    return "\n".join(out).rstrip() + "\n"


def _coverage_md(cov: JsonObject | None, _: Callable[[str], str]) -> list[str]:
    if not cov:  # a report made before channels were counted
        return []
    t = cov["total"]
    line = " · ".join([_("{n} crashes").format(n=t["crashes"]),
                       *(f"{ch} {t['by_channel'].get(ch, 0)}" for ch in cov["channels"]),
                       f"{_('kdump failed')} {t['dump_missing']}"])
    out = [f"## {_('Coverage')}", "", line, ""]
    if cov["dump_missing_hosts"]:
        out += _table([_("Host"), _("Crashes"), _("kdump failed")],
                      [[h["name"], h["crashes"], h["dump_missing"]] for h in cov["dump_missing_hosts"]])
    return out


_CSS = (
    "body{font:14px/1.5 system-ui,'Noto Sans CJK SC','PingFang SC',sans-serif;max-width:60em;margin:2em auto;"
    "padding:0 1em;color:#1d2330}table{border-collapse:collapse}td,th{border:1px solid #d9dee7;"
    "padding:.2em .5em;text-align:left}pre{background:#0f172a;color:#e2e8f0;padding:.6em;overflow:auto}"
)


# A report is one self-contained file, so its style is inline; served by the UI, the page's
# Content-Security-Policy allows exactly this style by its hash (and no script at all).
STYLE_HASH = "'sha256-" + base64.b64encode(hashlib.sha256(_CSS.encode()).digest()).decode() + "'"


def to_html(doc: JsonObject, lang: str = "en") -> str:
    from markdown_it import MarkdownIt  # noqa: PLC0415 - only the HTML format needs it
    from markupsafe import escape  # noqa: PLC0415

    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    body = md.render(to_markdown(doc, lang))
    title = escape(str((doc.get("crash") or doc.get("bucket") or {}).get("title") or doc.get("type")))
    html_lang = "zh-CN" if lang == "zh" else "en"
    return (f'<!doctype html><html lang="{html_lang}"><head><meta charset="utf-8"><title>{title}</title>'
            f"<style>{_CSS}</style></head><body>{body}</body></html>\n")


def to_json(doc: JsonObject) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False, default=str) + "\n"


def render(doc: JsonObject, fmt: str, lang: str = "en") -> str:
    if fmt == "json":
        return to_json(doc)
    if fmt in ("md", "markdown"):
        return to_markdown(doc, lang)
    if fmt == "html":
        return to_html(doc, lang)
    raise InputError(f"unknown report format {fmt!r} (json, md, html)")
