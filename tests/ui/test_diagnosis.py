"""The crash and bucket pages lead with the diagnosis, in English and Chinese; a dump's strings are
escaped; the API gives the findings in the shape docs/analysis.md documents."""

from __future__ import annotations

import html as htmllib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.ui.conftest import UiHub
from tests.ui.findings import HOSTILE, NULL_DEREF, TAINTED, store_analysis
from tests.ui.test_pages import login

from crashhub.analyze import AnalysisRecord

DOCS = Path(__file__).resolve().parents[2] / "docs" / "analysis.md"


@pytest.fixture
def client(uihub: UiHub) -> Iterator[TestClient]:
    store_analysis(uihub.ctx.hub.store, uihub.dump_crash, NULL_DEREF, TAINTED)
    with TestClient(uihub.app) as c:
        login(c, user="victor", password=uihub.password)
        yield c


def _zh(c: TestClient) -> None:
    assert c.get("/ui/lang/zh?next=/ui/", follow_redirects=False).status_code in (302, 303)


def _order(text: str, *marks: str) -> None:
    at = [text.index(m) for m in marks]
    assert at == sorted(at), dict(zip(marks, at, strict=True))


def _diagnosis(page: str) -> str:
    m = re.search(r'<section class="card diagnosis" id="diagnosis">.*?</section>', page, re.S)
    assert m, "no diagnosis card"
    return m[0]


def test_crash_page_leads_with_the_diagnosis(uihub: UiHub, client: TestClient) -> None:
    page = client.get(f"/ui/crashes/{uihub.dump_crash}").text
    _order(page, "<h1>", 'id="diagnosis"', "<h2>What happened</h2>", "<h2>Oops</h2>", "<h2>Frames</h2>")
    d = _diagnosis(page)
    _order(d, '<span class="badge sev-critical">critical</span>',
           htmllib.escape(NULL_DEREF.claim), htmllib.escape(NULL_DEREF.detail),
           "<dt>Culprit</dt>", "<code>crashmod_null</code> · CPU 1 · task 148 (<code>sh</code>)",
           "<dt>Evidence</dt>",
           "<li><code>RIP crashmod_null+0xc/0x20 [crashmod]: movl $0x1,0x20(%rax)</code></li>",
           "<dt>Command</dt>",
           '<pre class="cmd" data-copy="Copy" data-copied="Copied">'
           "<code>crash&gt; dis -l crashmod_null+0xc</code></pre>",
           '<span class="badge sev-warning">warning</span>', "kernel tainted OE")
    # A multi-line drgn snippet stays one block, its lines kept.
    assert ("<code>from drgn.helpers.linux.module import find_module\n"
            "m = find_module(prog, &#39;crashmod&#39;)\n") in d
    # The analysis card at the bottom points up instead of listing the findings again.
    assert page.count(htmllib.escape(NULL_DEREF.claim)) == 1 and "2 findings, in the diagnosis above" in page
    # The frames are the analysis's stack, after the diagnosis.
    _order(page, 'id="diagnosis"', "<code>crashmod_null</code></td>")
    assert '<script src="/ui/static/ui.js"></script>' in page


def test_crash_page_in_chinese(uihub: UiHub, client: TestClient) -> None:
    _zh(client)
    page = client.get(f"/ui/crashes/{uihub.dump_crash}").text
    _order(page, 'id="diagnosis"', "<h2>发生了什么</h2>", "<h2>栈帧</h2>")
    d = _diagnosis(page)
    # Labels and claims in Chinese; evidence and command as the dump gave them.
    for want in ("<h2>诊断</h2>", '<span class="badge sev-critical">严重</span>', "<dt>肇事者</dt>",
                 "任务 148", "<dt>证据</dt>", "<dt>复现命令</dt>", 'data-copy="复制"',
                 '<span class="badge sev-warning">警告</span>',
                 htmllib.escape("crashmod_null() 中的空指针解引用：通过 obj = NULL 写入 obj->refcount "
                                "(RAX 0)"),
                 "oops 信息：BUG: kernel NULL pointer dereference, address: 0000000000000020",
                 "内核被树外模块 crashmod 污染（OE），且崩溃时的调用栈经过该模块",
                 "crash&gt; dis -l crashmod_null+0xc"):
        assert want in d, want
    for english in ("<dt>Culprit</dt>", "<dt>Evidence</dt>", ">critical<", ">warning<",
                    htmllib.escape(NULL_DEREF.claim), "The oops:", TAINTED.claim):
        assert english not in d, english


def test_bucket_page_shows_its_newest_analysed_crash(uihub: UiHub, client: TestClient) -> None:
    store = uihub.ctx.hub.store
    c = store.crashes.get_crash(uihub.dump_crash)
    assert c is not None
    newest = store.crashes.list_crashes(bucket=c.bucket_id, limit=1)[0]
    page = client.get(f"/ui/buckets/{c.bucket_id}").text
    _order(page, "<h1>", 'id="diagnosis"', "<h2>Response</h2>", 'id="crashes"')  # the crash list
    d = _diagnosis(page)
    link = f'<a href="/ui/crashes/{c.id}"><code>{c.id}</code></a>'
    assert f"From crash {link}, the newest analysed crash of this bucket." in d
    assert htmllib.escape(NULL_DEREF.claim) in d and "<dt>Command</dt>" in d
    if newest.id != c.id:  # a newer crash without a dump does not hide the diagnosis
        assert newest.analysis is None

    _zh(client)
    d = _diagnosis(client.get(f"/ui/buckets/{c.bucket_id}").text)
    assert f"来自崩溃 {link}，即此问题桶中最新一次已分析的崩溃。" in d
    assert '<span class="badge sev-critical">严重</span>' in d and "中的空指针解引用" in d

    # A bucket none of whose crashes was analysed says so, and links nowhere.
    other = store.crashes.get_crash(uihub.crashes["6.1/sysrq"])
    assert other is not None and other.bucket_id != c.bucket_id and not other.analysis
    d = _diagnosis(client.get(f"/ui/buckets/{other.bucket_id}").text)
    assert "此问题桶中尚无已分析的崩溃。" in d and "/ui/crashes/" not in d


def test_a_dumps_strings_are_escaped(uihub: UiHub, client: TestClient) -> None:
    store_analysis(uihub.ctx.hub.store, uihub.dump_crash, HOSTILE)
    try:
        d = _diagnosis(client.get(f"/ui/crashes/{uihub.dump_crash}").text)
    finally:
        store_analysis(uihub.ctx.hub.store, uihub.dump_crash, NULL_DEREF, TAINTED)
    for raw in ("<script", "<img", "<svg", "<b>evil", "</pre><script"):
        assert raw not in d, raw
    for shown in ("&lt;b&gt;evil&lt;/b&gt; &#34;quoted&#34; &amp; more", "&lt;img src=x onerror=alert(1)&gt;",
                  "<code>spin&lt;script&gt;</code>", "(<code>&lt;svg onload=x&gt;</code>)",
                  "<code>crash&gt; p &#39;&lt;/code&gt;&lt;/pre&gt;"
                  "&lt;script&gt;alert(1)&lt;/script&gt;&#39;\n```",
                  "<code>{{ 7*7 }}</code>"):
        assert shown in d, shown


def test_api_gives_the_findings_as_documented(uihub: UiHub, client: TestClient) -> None:
    r = client.get(f"/api/v1/crashes/{uihub.dump_crash}",
                   headers={"Authorization": f"Bearer {uihub.tokens['viewer']}"})
    assert r.status_code == 200
    an = r.json()["analysis"]
    assert an["status"] == "done" and AnalysisRecord.from_dict(an).result is not None
    f = an["result"]["findings"][0]
    assert f == {"id": "null-deref", "severity": "critical", "title": NULL_DEREF.claim,
                 "detail": NULL_DEREF.detail, "evidence": list(NULL_DEREF.evidence),
                 "command": "crash> dis -l crashmod_null+0xc",
                 "culprit": {"function": "crashmod_null", "cpu": 1, "pid": 148, "comm": "sh"}}
    assert "culprit" not in an["result"]["findings"][1]  # absent when not known, never null
    # The documented keys are these (docs/analysis.md, "The diagnosis in JSON").
    doc = DOCS.read_text("utf-8")
    section = doc[doc.index("### The diagnosis in JSON"):doc.index("### Where the diagnosis is shown")]
    documented = re.findall(r"^\| `(\w+)` \|", section, re.M)
    assert documented == ["id", "severity", "title", "detail", "evidence", "command", "culprit"]
    assert set(f) == set(documented)
    for k in f["culprit"]:
        assert f"`{k}`" in section


def test_api_reads_old_rows_into_the_documented_shape(uihub: UiHub, client: TestClient) -> None:
    # A row from before findings had "title": its "claim" and an unknown severity come back typed.
    old = {"status": "done", "result": {"engine": "crash", "findings": [
        {"id": "engine-crash", "severity": "notice", "claim": "crash 8.0.2 cannot read 6.12 dumps"}]}}
    cid = uihub.crashes["6.12/null"]
    uihub.ctx.hub.store.crashes.set_crash_analysis(cid, old)
    try:
        r = client.get(f"/api/v1/crashes/{cid}",
                       headers={"Authorization": f"Bearer {uihub.tokens['viewer']}"})
    finally:
        uihub.ctx.hub.store.crashes.set_crash_analysis(cid, {})
    f = r.json()["analysis"]["result"]["findings"][0]
    assert f == {"id": "engine-crash", "severity": "info", "title": "crash 8.0.2 cannot read 6.12 dumps",
                 "detail": "", "evidence": []}
