"""The reports lead with the diagnosis: `crashhub report CRASH`, the bucket report, the bundle's
report.md; a dump's strings stay text in Markdown and HTML; which crash speaks for a bucket."""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
from dataclasses import replace
from pathlib import Path

from tests.report.conftest import Lab
from tests.ui.findings import HOSTILE, NULL_DEREF, TAINTED, store_analysis

from crashhub.analyze import AnalysisRecord
from crashhub.model import JsonObject
from crashhub.report import _render as render
from crashhub.report import make_bundle, representative
from crashhub.report._diagnosis import code_block, code_span
from crashhub.store import CrashRecord


def _order(text: str, *marks: str) -> list[int]:
    at = [text.index(m) for m in marks]
    assert at == sorted(at), dict(zip(marks, at, strict=True))
    return at


def test_crash_report_leads_with_the_diagnosis_in_both_languages(hub: Lab) -> None:
    store_analysis(hub.ctx.hub.store, hub.planted, NULL_DEREF, TAINTED)
    doc = render.crash_doc(hub.ctx.hub, hub.ctx.kb, hub.planted)
    an = doc["analysis"]
    assert an["crash"] == hub.planted and an["status"] == "done"
    assert [f["id"] for f in an["findings"]] == ["null-deref", "tainted"]
    assert an["findings"][0]["culprit"] == {"function": "crashmod_null", "cpu": 1, "pid": 148, "comm": "sh"}

    md = render.to_markdown(doc)
    _order(md, f"# Crash {hub.planted}", "## Diagnosis", "### 1. CRITICAL: NULL pointer dereference",
           "**Culprit:** `crashmod_null` · CPU 1 · task 148 (sh)", "**Evidence:**",
           "- `RIP crashmod_null+0xc/0x20 [crashmod]: movl $0x1,0x20(%rax)`", "**Command:**",
           "```\ncrash> dis -l crashmod_null+0xc\n```", "### 2. WARNING: kernel tainted OE",
           "| Field | Value |", "## What happened", "## Oops", "## Frames")
    assert "## Findings" not in md  # the diagnosis is said once, first
    # The drgn snippet keeps its lines, in a fence.
    assert "```\nfrom drgn.helpers.linux.module import find_module\nm = find_module(prog, 'crashmod')\n" in md

    zh = render.to_markdown(doc, "zh")
    # Labels and claims translated; the values read from the dump kept as they are.
    _order(zh, "## 诊断",
           "### 1. 严重: crashmod\\_null() 中的空指针解引用：通过 obj = NULL 写入 obj-\\>refcount",
           "oops 信息：BUG: kernel NULL pointer dereference",
           "**肇事者:** `crashmod_null` · CPU 1 · 任务 148 (sh)",
           "**证据:**", "**复现命令:**", "### 2. 警告: 内核被树外模块 crashmod 污染（OE）", "## 发生了什么",
           "## 栈帧")
    assert "kernel tainted OE" not in zh

    html = render.to_html(doc)
    _order(html, "<h2>Diagnosis</h2>", "<code>crashmod_null</code>", "<pre><code>crash&gt; dis -l",
           "<h2>What happened</h2>", "<h2>Frames</h2>")


def test_a_crash_without_analysis_says_so(hub: Lab) -> None:
    doc = render.crash_doc(hub.ctx.hub, hub.ctx.kb, hub.other)
    assert doc["analysis"] is None
    md = render.to_markdown(doc)
    _order(md, "## Diagnosis\n\nNot analysed (no dump, or the analysis has not run yet).", "## What happened")
    failed = AnalysisRecord("failed", error="DebuginfoError: no vmlinux for 6.1.0-57-cloud-amd64")
    hub.ctx.hub.store.crashes.set_crash_analysis(hub.other, failed.to_dict())
    md = render.to_markdown(render.crash_doc(hub.ctx.hub, hub.ctx.kb, hub.other))
    assert "## Diagnosis\n\nStatus: failed: DebuginfoError: no vmlinux for 6.1.0-57-cloud-amd64" in md


def test_dump_strings_stay_text_in_markdown_and_html(hub: Lab) -> None:
    store_analysis(hub.ctx.hub.store, hub.planted, HOSTILE)
    doc = render.crash_doc(hub.ctx.hub, hub.ctx.kb, hub.planted)
    md = render.to_markdown(doc)
    # The command holds a ``` run: its fence is longer, so the rest of the report is not swallowed.
    assert "````\ncrash> p '</code></pre><script>alert(1)</script>'\n```\nstill the command\n````" in md
    assert "- ```` ``` not a fence ````" in md  # a span is one line, its ticks outnumber the text's
    html = render.to_html(doc)
    for raw in ("<script", "<img", "<svg", "<b>evil"):
        assert raw not in html, raw
    for shown in ("&lt;img src=x onerror=alert(1)&gt;", "&lt;b&gt;evil&lt;/b&gt;",
                  "&lt;/code&gt;&lt;/pre&gt;&lt;script&gt;alert(1)&lt;/script&gt;", "{{ 7*7 }}"):
        assert shown in html, shown
    _order(html, "still the command", "<h2>What happened</h2>")


def test_code_span_and_block_outrun_backticks() -> None:
    assert code_span("a`b") == "``a`b``"
    assert code_span("`x`") == "`` `x` ``"
    assert code_span("two\nlines") == "`two lines`"
    assert code_span("PID  148   sh") == "`PID  148   sh`"
    assert code_block("x\n````\ny") == ["`````", "x\n````\ny", "`````"]


def test_the_bucket_speaks_through_its_newest_analysed_crash(hub: Lab) -> None:
    base = hub.ctx.hub.store.crashes.get_crash(hub.planted)
    assert base is not None

    def crash(cid: str, analysis: JsonObject | None) -> CrashRecord:
        return replace(base, id=cid, analysis=analysis)

    done: JsonObject = {"status": "done", "result": {"engine": "drgn", "findings": []}}
    newest_no_dump = crash("c3", None)
    failed = crash("c2", {"status": "failed", "error": "DebuginfoError: x"})
    pick = representative([newest_no_dump, failed, crash("c1", done), crash("c0", done)])
    assert pick is not None and pick.id == "c1"
    assert representative([newest_no_dump, failed]) is None


def test_bucket_report_and_bundle_lead_with_the_diagnosis(hub: Lab, tmp_path: Path) -> None:
    store_analysis(hub.ctx.hub.store, hub.planted, NULL_DEREF, TAINTED)
    c = hub.ctx.hub.store.crashes.get_crash(hub.planted)
    assert c is not None
    b = render.bucket_doc(hub.ctx.hub, hub.ctx.kb, c.bucket_id)
    assert b["analysis"]["crash"] == hub.planted
    md = render.to_markdown(b)
    _order(md, "## Diagnosis", f"From crash {hub.planted}, the newest analysed crash of this bucket.",
           "### 1. CRITICAL: NULL pointer dereference", "| Field | Value |", "## Sample crashes")
    zh = render.to_markdown(b, "zh")
    assert f"来自崩溃 {hub.planted}，即此问题桶中最新一次已分析的崩溃。" in zh

    other = hub.ctx.hub.store.crashes.get_crash(hub.other)
    assert other is not None
    hub.ctx.hub.store.crashes.set_crash_analysis(hub.other, {})
    ob = render.bucket_doc(hub.ctx.hub, hub.ctx.kb, other.bucket_id)
    assert ob["analysis"] is None
    assert "## Diagnosis\n\nNo crash of this bucket has been analysed yet." in render.to_markdown(ob)

    out = tmp_path / "b.tar.gz"
    make_bundle(hub.ctx.hub, hub.ctx.kb, hub.planted, out)
    root = f"crashhub-{hub.planted}/"
    with tarfile.open(out) as tar:
        report = tar.extractfile(root + "report.md").read().decode()  # type: ignore[union-attr]
        summary = json.loads(tar.extractfile(root + "analysis/summary.json").read())  # type: ignore[union-attr]
    _order(report, "## Diagnosis", "NULL pointer dereference in crashmod\\_null()", "crash> dis -l",
           "## What happened")
    assert summary["findings"][0]["culprit"]["function"] == "crashmod_null"
    assert summary["findings"][0]["command"] == NULL_DEREF.command


def test_report_cli_leads_with_the_diagnosis(hub: Lab) -> None:
    store_analysis(hub.ctx.hub.store, hub.planted, replace(NULL_DEREF, evidence=()), TAINTED)
    r = subprocess.run([sys.executable, "-m", "crashhub.cli", "report", hub.planted, "--lang", "zh",
                        "--data", str(hub.data)], capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith(f"# 崩溃 {hub.planted}") and lines[2] == "## 诊断"
    assert lines[4] == ("### 1. 严重: crashmod\\_null() 中的空指针解引用：通过 obj = NULL 写入 "
                        "obj-\\>refcount (RAX 0)")
    r = subprocess.run([sys.executable, "-m", "crashhub.cli", "report", hub.planted, "--format", "json",
                        "--data", str(hub.data)], capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode == 0, r.stderr
    f = json.loads(r.stdout)["analysis"]["findings"][0]
    assert f == {**NULL_DEREF.to_dict(), "evidence": []}
