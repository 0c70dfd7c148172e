"""Every message the UI and the reports use has a Simplified Chinese translation; language negotiation."""

from __future__ import annotations

import html as htmllib
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.ui.conftest import UiHub, csrf_of
from tests.ui.test_pages import login

from crashhub import i18n
from crashhub.analyze import SEVERITIES, AnalysisRecord
from crashhub.analyze import _checks as checks
from crashhub.analyze import _diag_waits as waits
from crashhub.classify._rules import FIELDS as CONDITION_FIELDS
from crashhub.errors import KbError
from crashhub.i18n._catalog_zh import KIND_SUMMARY_ZH, ZH
from crashhub.i18n._findings import ENGLISH, SENTENCES
from crashhub.kb import KINDS, dump_entry, load_starter, parse_entry
from crashhub.kb._schema import STATUSES as KB_ENTRY_STATUSES
from crashhub.kb._schema import TEXT_FIELDS
from crashhub.kernel import TAINT_FLAGS
from crashhub.store._workflow import KB_STATUSES
from crashhub.web.ui.views import DUMP_FACT_KEYS

SRC = Path(__file__).resolve().parents[2] / "src" / "crashhub"
DATA = Path(__file__).resolve().parents[1] / "data"
_CALL = re.compile(r"""_\((?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')\)""")
# An error page's message: PageError(status, "template {with} {params}", ...).
_PAGE_ERROR = re.compile(r"""PageError\(\s*\d+,\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')""")
ANALYSIS_STATUSES = ("done", "failed", "skipped", "engine unavailable")
READINESS = ("ready", "not ready", "reported")
# Values the templates pass through _() as variables (statuses, roles, a finding's severity, the dump
# facts' names, the taint flags' meanings).
DYNAMIC = ("viewer", "admin", "advice given", "known issue", *KB_STATUSES, *KB_ENTRY_STATUSES,
           *ANALYSIS_STATUSES, *READINESS, "new", "investigating", "fixed", *SEVERITIES,
           *DUMP_FACT_KEYS, "yes", "no", *(f for f in CONDITION_FIELDS if f != "crash"),
           *(f.meaning for f in TAINT_FLAGS), *(f.short for f in TAINT_FLAGS))


def used_messages() -> set[str]:
    files = [*(SRC / "web" / "ui" / "templates").glob("*.html"), SRC / "report" / "_render.py",
             SRC / "report" / "_diagnosis.py", SRC / "web" / "ui" / "_kb.py"]
    out: set[str] = set(DYNAMIC)
    for f in files:
        for a, b in _CALL.findall(f.read_text("utf-8")):
            out.add(a or b)
    for f in [*(SRC / "web" / "ui").glob("*.py")]:
        for a, b in _PAGE_ERROR.findall(f.read_text("utf-8")):
            out.add(a or b)
    # The login page's refusals: its own rate limit and the session's AuthError messages.
    out |= {"Too many login attempts: try again in {n} s.", "wrong user name or password",
            "unknown or revoked token"}
    return out


def test_every_message_has_a_chinese_translation() -> None:
    msgs = used_messages()
    assert len(msgs) > 100
    missing = sorted(m for m in msgs if m not in ZH)
    assert not missing, missing
    # Placeholders survive translation.
    for m in msgs:
        assert set(re.findall(r"{\w+}", m)) == set(re.findall(r"{\w+}", ZH[m])), m


def test_every_kind_has_a_summary_in_both_languages() -> None:
    assert set(KINDS) <= set(i18n.KIND_SUMMARY_EN)
    assert set(KINDS) <= set(KIND_SUMMARY_ZH)


@pytest.mark.parametrize(
    ("header", "setting", "want"),
    [
        ("zh-CN,zh;q=0.9,en;q=0.8", None, "zh"),
        ("en-US,en;q=0.9,zh-CN;q=0.8", None, "en"),
        ("fr-FR,zh-TW;q=0.5", None, "zh"),
        ("de", None, "en"),
        (None, None, "en"),
        ("zh-CN", "en", "en"),
        ("en", "zh_CN.UTF-8", "zh"),
        ("zh;q=0, en;q=0.1", None, "en"),
    ],
)
def test_negotiate(header: str | None, setting: str | None, want: str) -> None:
    assert i18n.negotiate(header, setting) == want


# ---------------------------------------------------------------- the starter KB in Chinese
_CJK = re.compile(r"[\u4e00-\u9fff]")
_SPAN = re.compile(r"`([^`]+)`")


def test_every_starter_entry_has_chinese_for_every_text_field() -> None:
    entries = load_starter()
    assert len(entries) >= 37
    for e in entries:
        assert e.zh is not None, e.id
        for name in TEXT_FIELDS:
            en, zh = getattr(e, name), getattr(e.zh, name)
            assert zh.strip() and _CJK.search(zh), (e.id, name)
            # The translation mirrors the English: as many numbered steps, and every command or
            # value written as code kept as it is.
            assert len(re.findall(r"(?m)^\d+\. ", zh)) == len(re.findall(r"(?m)^\d+\. ", en)), (e.id, name)
            assert set(_SPAN.findall(en)) <= set(_SPAN.findall(zh)), (e.id, name)
        # Each command's "why" too; the commands themselves are not translated.
        assert len(e.zh.why) == len(e.commands) and all(_CJK.search(w) for w in e.zh.why), e.id
        shown = e.localized("zh")
        assert (shown.title, shown.cause, shown.advice) == (e.zh.title, e.zh.cause, e.zh.advice)
        assert [c.why for c in shown.commands] == list(e.zh.why)
        assert [c.run for c in shown.commands] == [c.run for c in e.commands]
        assert e.localized("en") == e


def test_a_translation_round_trips_and_falls_back_field_by_field() -> None:
    e = parse_entry(
        "schema: crashhub-kb/1\nid: op-entry\ntitle: Disk stall\nmatch: {kinds: [hung_task]}\n"
        "cause: The array stalls.\nadvice: Replace it.\nzh:\n  title: 磁盘停顿\n", "op.yaml")
    assert e.zh is not None and e.zh.title == "磁盘停顿"
    assert parse_entry(dump_entry(e), "again.yaml") == e
    zh = e.localized("zh")
    assert (zh.title, zh.cause, zh.advice) == ("磁盘停顿", "The array stalls.", "Replace it.")
    with pytest.raises(KbError, match=r"zh\.summary"):
        parse_entry("id: x\ntitle: t\nmatch: {kinds: [oom]}\nzh: {summary: 摘要}\n", "bad.yaml")
    with pytest.raises(KbError, match=r"zh\.why.*2 items for 1 commands"):
        parse_entry("id: x\ntitle: t\nmatch: {kinds: [oom]}\ncommands: [{tool: crash, run: bt}]\n"
                    "zh: {why: [栈, 多余]}\n", "bad.yaml")


# ---------------------------------------------------------------- findings in Chinese
# Claims as the checks write them for the lab's crashes (the expected strings of tests/analyze).
REAL_CLAIMS = (
    "hard lockup: CPU 1 ran crashmod_irqoff_spin() with interrupts off (pid 123 crashmod_irqoff); CPU 0 "
    "waits for it in csd_lock_wait (smp_call_function_single), csd 0xffff88803e82c9e0 dst=1",
    "NULL dereference: crashmod_null() wrote obj->refcount with obj == NULL (RAX = 0; CR2 = 0x20 = "
    "offsetof(struct crashmod_obj, refcount))",
    "NULL dereference: crashmod_null() wrote 4 bytes at NULL + 0x20 (RAX = 0; CR2 = 0x20)",
    "out of memory: the kernel panicked on OOM (panic_on_oom); biggest user dd:139 held 625 MiB of 1987 "
    "MiB (624 MiB anonymous), oom_score_adj 0",
    "hung task sh (148) waits for mutex crashmod_chain_lock in crashmod_hung_chain, held by "
    "crashmod_holder (151), which sleeps in msleep() in crashmod_hold_and_sleep (state D) holding "
    "crashmod_chain_lock",
    "ABBA deadlock: crashmod_a (164) holds crashmod_lock_a and waits for mutex crashmod_lock_b in "
    "crashmod_take_ab, held by crashmod_b (165), which waits for mutex crashmod_lock_a in "
    "crashmod_take_ba",
    "self-deadlock: hung task sh (120) waits for mutex crashmod_lock in crashmod_hung, which it already "
    "holds",
    "hung task cat (130) waits for mutex crashmod_lock in crashmod_read, held by sh (120), which is "
    "self-deadlocked",
    "hung task sh (148) waits for mutex crashmod_lock in crashmod_read, held by task 0xffff888002000000, "
    "whose task or stack is absent from the dump (not read by the engine)",
    "hung task sh:148 blocked over 122 s in D state, waiting in mutex_lock",
    "soft lockup: CPU 0 stuck for 23 s in crashmod_softlockup_loop() with preemption off (pid 150 sh)",
    "soft lockup: CPU 1 stuck for 22 s, spinning in native_queued_spin_lock_slowpath on "
    "crashmod_spin_lock (0xffffffffc0a01000), held by CPU 0, which runs crashmod_hold_spin() with "
    "preemption off (pid 140 x)",
    "RCU stall: CPU 1 holds up rcu_preempt grace period g=5213, started 5400 jiffies before the dump: it "
    "runs crashmod_rcu_loop() with interrupts on (pid 160 sh) and reports no quiescent state",
    "RCU stall: sh (pid 170) holds up rcu_preempt grace period g=-300: it sleeps in msleep() inside an "
    "RCU read-side critical section",
    "panic task sh:145 on CPU 1: task context (preempt count 1 at the dump); no lockdep in this kernel: "
    "held locks unknown",
    "general protection fault: crashmod_gpf() wrote obj->refcount with obj == LIST_POISON1 "
    "(0xdead000000000100): the entry was already taken off its list by list_del() (RAX = "
    "0xdead000000000100; address = 0xdead000000000120 = obj + offsetof(struct crashmod_obj, refcount))",
    "list corruption: list_del() of an entry already deleted: entry 0xffff8ae17ed42f90 (kmalloc-64 "
    "object 0xffff8ae17ed42f80 (64 bytes, allocated), entry at offset 0x10), deleted by "
    "crashmod_list_del()",
    "bad page state: pfn 0x3ff30 (nonzero mapcount), freed by crashmod_bad_page(); in the dump: flags "
    "0x100000000000000 [no flag bits set], mapcount 0, refcount 0, mapping 0x0",
    "kernel tainted: out-of-tree module loaded and unsigned module loaded (crashmod)",
    "assertion failed: BUG()/BUG_ON() in crashmod_bug() [crashmod] at crashmod/crashmod.c:53, run by sh:109 "
    "on CPU 0",
    "assertion failed: WARN() with panic_on_warn set in ida_free() at lib/idr.c:527, called from "
    "crashmod_ida_double_free() [crashmod], run by sh:110 on CPU 1",
    "deliberate crash: echo c > /proc/sysrq-trigger by sh:147 on CPU 0 (not a kernel fault)",
    "kernel stack overflow: crashmod_recurse() [crashmod] called itself until the task's stack ran into its "
    "guard page (29 of the trace's 35 frames are crashmod_recurse), run by sh:124 on CPU 1",
    "kernel stack overflow: f0() ran the call chain past the end of the task's stack",
    checks.PARTIAL_FIX,
)


@pytest.mark.parametrize("claim", REAL_CLAIMS)
def test_a_findings_claim_reads_in_chinese(claim: str) -> None:
    zh, _ = i18n.finding_text(claim, "", "zh")
    assert _CJK.search(zh), zh
    assert not ENGLISH.findall(zh), zh
    # What was read from the dump (functions, addresses, pids) is still there.
    for token in re.findall(r"\b(?:crashmod_\w+|0x[0-9a-f]{8,}|\d{3,})\b", claim):
        assert token in zh, (token, zh)
    assert i18n.finding_text(claim, "", "en") == (claim, "")


def test_every_fixed_detail_the_checks_write_has_chinese() -> None:
    fixed = {waits._SELF, *waits._DETAIL.values()} - {waits._DETAIL["too long"]}
    missing = sorted(d for d in fixed if d not in SENTENCES)
    assert not missing, missing
    for d in SENTENCES.values():
        assert _CJK.search(d) and not ENGLISH.findall(d), d


def test_stored_real_analysis_reads_in_chinese() -> None:
    row = json.loads((DATA / "analysis" / "stored-6.1-hung.json").read_text())
    findings = AnalysisRecord.from_dict(row).result.findings  # type: ignore[union-attr]
    assert findings
    for f in findings:
        if f.id.startswith("engine-"):
            continue  # an engine's own error message, shown as the engine gave it
        claim, detail = i18n.finding_text(f.claim, f.detail, "zh")
        assert _CJK.search(claim) and not ENGLISH.findall(claim), claim
        assert not detail or (_CJK.search(detail) and not ENGLISH.findall(detail)), detail


# ---------------------------------------------------------------- every page in Chinese
# What the walk does not read as a page: files and archives, static assets, redirects.
NOT_PAGES = ("/ui/static/{name}", "/ui/crashes/{crash_id}/files/{name}", "/ui/crashes/{crash_id}/bundle",
             "/ui/lang/{lang}", "/")
# Text that is data or code, not the UI's words: the oops, evidence, commands, YAML, ids.
_DATA_TAGS = frozenset({"code", "pre", "textarea", "script", "style", "svg"})
_SHOWN_ATTRS = ("placeholder", "title", "aria-label", "alt")


class _Visible(HTMLParser):
    """The text a reader sees: text nodes outside code/pre/textarea, and the labelling attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0
        self.texts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _DATA_TAGS:
            self.depth += 1
        a = dict(attrs)
        self.texts += [v for k in _SHOWN_ATTRS if (v := a.get(k))]
        if tag == "input" and a.get("type") in ("submit", "button") and a.get("value"):
            self.texts.append(str(a["value"]))

    def handle_endtag(self, tag: str) -> None:
        if tag in _DATA_TAGS and self.depth:
            self.depth -= 1

    def handle_data(self, data: str) -> None:
        text = " ".join(data.split())
        if text and not self.depth:
            self.texts.append(text)


def visible_texts(html: str) -> list[str]:
    p = _Visible()
    p.feed(html)
    return p.texts


def _english_matchers() -> list[tuple[str, re.Pattern[str]]]:
    """Every catalog message whose Chinese differs, as a pattern over one visible text: the whole
    text (a label, a status word, "Status:"), or inside it for a message of three words or more."""
    out = []
    words = {*ANALYSIS_STATUSES, *KB_ENTRY_STATUSES, *KB_STATUSES, *READINESS, "advice given", "known issue"}
    for msg in sorted({*(m for m, zh in ZH.items() if zh != m), *words}):
        if not re.search(r"[A-Za-z]", re.sub(r"{\w+}", "", msg)):
            continue  # "{what}: {error}": nothing English of its own
        body = re.sub(r"\\{\w+\\}", ".+?", re.escape(msg))
        if len(msg.split()) >= 3:
            out.append((msg, re.compile(rf"(?<![\w-]){body}(?![\w-])")))
        else:
            out.append((msg, re.compile(rf"{body}:?")))
    return out


def untranslated(html: str) -> list[str]:
    found = []
    matchers = _english_matchers()
    for text in visible_texts(html):
        if text in KINDS:
            continue  # a crash kind's code (the dashboard's kind filter), as KB rules spell it
        for msg, pat in matchers:
            if (pat.fullmatch(text) if len(msg.split()) < 3 else pat.search(text)):
                found.append(f"{msg!r} in {text[:80]!r}")
    return found


def _routes(routes: list[Any]) -> list[tuple[str, set[str]]]:
    out = []
    for r in routes:
        if hasattr(r, "original_router"):  # FastAPI's included router
            out += _routes(r.original_router.routes)
        elif getattr(r, "path", "").startswith("/ui") or getattr(r, "path", "") == "/":
            out.append((r.path, set(getattr(r, "methods", None) or ())))
    return out


def seed_readiness(uihub: UiHub) -> str:
    """A kernel check's report for the release the walk fills in, so its report page is walked whole
    (the runner's figures: tests/readiness_data.py); answers the release."""
    from tests.readiness_data import report_612  # noqa: PLC0415

    from crashhub.readiness import record_of  # noqa: PLC0415

    c = uihub.ctx.hub.store.crashes.get_crash(uihub.dump_crash)
    assert c is not None and c.release
    uihub.ctx.hub.store.readiness.save(record_of(report_612(release=c.release)))
    return c.release


def page_urls(uihub: UiHub) -> list[str]:
    """Every GET page of the app's router, its path parameters filled from the seeded hub: a page
    added later is walked without touching this test (a new parameter name fails it, on purpose)."""
    dump = uihub.dump_crash
    c = uihub.ctx.hub.store.crashes.get_crash(dump)
    assert c is not None
    hung = uihub.ctx.hub.store.crashes.get_crash(uihub.crashes["6.1/hung"])
    assert hung is not None
    values = {"crash_id": [dump, hung.id, uihub.crashes["6.1/sysrq"]],
              "bucket_id": [c.bucket_id, hung.bucket_id],
              "entry_id": ["generic-null_deref", "generic-oom", "crashmod-null-obj"],
              # No source tree is stored in this hub: the source page answers its 404 page.
              "release": [c.release or "6.1.0-57-cloud-amd64"], "path": ["kernel/panic.c?line=1"]}
    urls = []
    for path, methods in _routes(uihub.app.routes):
        if "GET" not in methods or path in NOT_PAGES:
            continue
        names = re.findall(r"{(\w+)(?::\w+)?}", path)
        unknown = [n for n in names if n not in values]
        assert not unknown, f"{path}: give the walk a value for {unknown}"
        combos: list[str] = [path]
        for n in names:
            combos = [re.sub(r"{" + n + r"(?::\w+)?}", v, p) for p in combos for v in values[n]]
        urls += combos
    return urls


# Pages that answer an error (each kind of PageError the UI raises for a GET) and the reports' HTML.
EXTRA = ("/ui/?sort=bogus", "/ui/?kb=bogus", "/ui/buckets/no-such-bucket", "/ui/crashes/no-such-crash",
         "/ui/kb/no-such-entry", "/ui/crashes/{dump}/report?format=bogus",
         "/ui/crashes/{dump}/report?format=html",
         "/ui/crashes/{dump}/files/no-such-file", "/ui/?kb=new&window=7d", "/ui/weekly?format=html")


def test_every_page_in_chinese_has_no_english_ui_text(uihub: UiHub) -> None:
    from tests.ui.findings import HARD_LOCKUP, TAINTED, store_analysis  # noqa: PLC0415

    store_analysis(uihub.ctx.hub.store, uihub.crashes["6.1/hung"], HARD_LOCKUP, TAINTED)
    checked = seed_readiness(uihub)
    zh = {"Accept-Language": "zh-CN,zh;q=0.9"}
    urls = page_urls(uihub) + [u.format(dump=uihub.dump_crash) for u in EXTRA]
    assert len(urls) > 20
    problems: dict[str, list[str]] = {}
    seen_ok = 0
    with TestClient(uihub.app) as anon, TestClient(uihub.app) as admin, TestClient(uihub.app) as viewer:
        login(admin, token=uihub.tokens["admin"])
        login(viewer, token=uihub.tokens["viewer"])
        pages = [("anon /ui/login", anon.get("/ui/login", headers=zh)),
                 ("viewer /ui/kb/new", viewer.get("/ui/kb/new", headers=zh))]  # 403: admins only
        pages += [(f"admin {u}", admin.get(u, headers=zh)) for u in urls]
        for name, r in pages:
            if r.status_code in (301, 302, 303, 307) or "text/html" not in r.headers.get("content-type", ""):
                continue
            seen_ok += r.status_code == 200
            assert "<html" in r.text and ('lang="zh-CN"' in r.text), name
            bad = untranslated(r.text)
            # A finding's claim and detail are English data made readable: no English phrase left.
            for part in re.findall(r'<span class="claim">(.*?)</span>|<p class="detail">(.*?)</p>', r.text):
                text = htmllib.unescape("".join(part))
                bad += [f"finding {text[:80]!r}" for _ in ENGLISH.findall(text)[:1]]
            if bad:
                problems[f"{name} ({r.status_code})"] = bad
    assert seen_ok >= 15
    readiness = dict(pages)[f"admin /ui/kernels/{checked}/readiness"]
    assert readiness.status_code == 200 and "分析需要但被丢弃的页" in readiness.text
    hung = dict(pages)[f"admin /ui/crashes/{uihub.crashes['6.1/hung']}"].text
    assert "硬死锁：CPU 1 在关中断状态下运行 crashmod_irqoff_spin() 超过 10 秒" in hung
    # The crash report gives its KB entry in Chinese: title, status, cause and advice.
    report = dict(pages)[f"admin /ui/crashes/{uihub.dump_crash}/report?format=html"].text
    assert "<strong>内核代码中的空指针解引用</strong>" in report and "已知)" in report, report[:3000]
    assert "Kernel code loaded or stored" not in report and "</code>, known)" not in report
    assert not problems, "\n".join(f"{k}: {v}" for k, v in problems.items())


def test_the_walk_finds_english(uihub: UiHub) -> None:
    # The check itself: an English page is full of catalog messages and status words; data is not.
    with TestClient(uihub.app) as admin:
        login(admin, token=uihub.tokens["admin"])
        en = admin.get("/ui/kb", headers={"Accept-Language": "en"}).text
    assert "'Knowledge base'" in " ".join(untranslated(en)) and "'known'" in " ".join(untranslated(en))
    assert untranslated("<p>Status: <b>done</b></p><pre>Status</pre><code>known</code>") == [
        "'Status' in 'Status:'", "'done' in 'done'"]


def test_editing_an_entry_in_the_form_keeps_its_chinese(uihub: UiHub) -> None:
    from crashhub.web.ui._kb import entry_to_form  # noqa: PLC0415

    before = uihub.ctx.kb.get("generic-oom")
    assert before is not None and before.zh is not None
    with TestClient(uihub.app) as admin:
        login(admin, token=uihub.tokens["admin"])
        page = admin.get("/ui/kb/generic-oom/edit")
        form = {**entry_to_form(before), "advice": before.advice + "6. Check the swap too.\n",
                "csrf": csrf_of(page.text)}
        r = admin.post("/ui/kb/save", data=form, follow_redirects=False)
        assert r.status_code == 303, r.text[:300]
        after = uihub.ctx.kb.get("generic-oom")
        assert after is not None and "6. Check the swap too." in after.advice
        assert after.zh is not None and (after.zh.title, after.zh.cause, after.zh.advice) == (
            before.zh.title, before.zh.cause, before.zh.advice)
        zh = admin.get("/ui/kb/generic-oom", headers={"Accept-Language": "zh-CN"}).text
        assert "<h1>内存耗尽：OOM killer 已运行，或按配置主动 panic</h1>" in zh


def test_the_login_pages_refusals_in_chinese(uihub: UiHub) -> None:
    zh = {"Accept-Language": "zh-CN"}
    with TestClient(uihub.app) as c:
        csrf = csrf_of(c.get("/ui/login", headers=zh).text)
        bad = c.post("/ui/login", headers=zh,
                     data={"csrf": csrf, "username": "alice", "password": "nope-nope"})
        assert bad.status_code == 401 and "用户名或密码错误" in bad.text and not untranslated(bad.text)
        token = c.post("/ui/login", headers=zh, data={"csrf": csrf, "token": "not-a-token"})
        assert token.status_code == 401 and "令牌未知或已被吊销" in token.text
        stale = c.post("/ui/login", headers=zh, data={"csrf": "stale", "username": "alice", "password": "x"})
        assert stale.status_code == 403 and "表单的 CSRF 令牌缺失或已过期" in stale.text
