"""Reports (crash, bucket, weekly; JSON/Markdown/HTML) and the vendor bundle, on lab crashes.

The bundle test plants a host name, IP addresses and a user name in a real lab log and checks that
the archive has the listed files, that none of the planted values survives anywhere in it, and that
nothing from outside the crash (another bucket's crash, local paths) is included.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tarfile
from pathlib import Path

from tests.report.conftest import HOST, Lab, leaked

from crashhub.kb import KbEntry
from crashhub.report import _render as render
from crashhub.report import make_bundle


def members(path: Path) -> dict[str, bytes]:
    with tarfile.open(path) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]


def test_bundle_has_the_files_and_no_planted_values(hub: Lab, tmp_path: Path) -> None:
    out = tmp_path / "b.tar.gz"
    res = make_bundle(hub.ctx.hub, hub.ctx.kb, hub.planted, out, patterns=[r"4a11ce-[a-z-]+"])
    files = members(out)
    root = f"crashhub-{hub.planted}/"
    assert all(n.startswith(root) for n in files)
    names = {n[len(root):] for n in files}
    for need in ("MANIFEST.json", "README.txt", "report.md", "kernel.json", "dump-facts.json",
                 "log/vmcore-dmesg.txt", "bucket/history.json", "redactions.json",
                 "kb/generic-null_deref.yaml"):
        assert need in names, need
    assert "vmcore" not in names
    blob = b"\n".join(files.values()).decode()
    assert leaked(blob) == []
    # Nothing from outside the crash: no local paths, no crash of another bucket.
    for outside in (str(hub.data), str(hub.data.parent), "/root/.cache", hub.other):
        assert outside not in blob, outside
    kernel = json.loads(files[root + "kernel.json"])
    assert kernel["release"] == hub.release and len(kernel["build_id"]) == 40
    assert kernel["taint"]["letters"] == "OE"
    red = json.loads(files[root + "redactions.json"])["redacted"]
    kinds = {r["kind"] for r in red}
    assert {"host", "ip", "user", "redacted"} <= kinds
    assert res.mapping[HOST][0] == "host" and res.mapping["10.20.30.40"][0] == "ip"
    log = files[root + "log/vmcore-dmesg.txt"].decode()
    assert "Set hostname to <host-" in log and "session opened for user user-1" in log
    assert "crashmod_null+0xc/0x20" in log  # the oops itself is untouched
    man = json.loads(files[root + "MANIFEST.json"])
    for name, meta in man["files"].items():
        assert hashlib.sha256(files[root + name]).hexdigest() == meta["sha256"]


def test_bundle_with_dump_via_cli(hub: Lab, tmp_path: Path) -> None:
    out = tmp_path / "d.tar.gz"
    r = subprocess.run(
        [sys.executable, "-m", "crashhub.cli", "bundle", hub.planted, "-o", str(out), "--with-dump",
         "--data", str(hub.data), "--redact", "4a11ce-[a-z-]+"],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert r.returncode == 0, r.stderr
    assert "redacted host" in r.stdout and "redacted ip" in r.stdout
    files = members(out)
    dump = files[f"crashhub-{hub.planted}/vmcore"]
    c = hub.ctx.hub.store.crashes.get_crash(hub.planted)
    assert c is not None
    vm = next(f for f in c.files if f.role == "vmcore")
    assert hashlib.sha256(dump).hexdigest() == vm.digest
    r = subprocess.run([sys.executable, "-m", "crashhub.cli", "bundle", hub.other, "-o", str(out),
                        "--with-dump", "--data", str(hub.data)],
                       capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode == 2 and "no dump" in r.stderr


def test_crash_report_three_formats(hub: Lab) -> None:
    doc = render.crash_doc(hub.ctx.hub, hub.ctx.kb, hub.planted)
    assert doc["guilty"] == "crashmod_null" and doc["crash"]["release"] == hub.release
    assert json.loads(render.to_json(doc))["crash"]["id"] == hub.planted
    md = render.to_markdown(doc)
    assert md.startswith(f"# Crash {hub.planted}") and "## What happened" in md and "crashmod\\_null" in md
    zh = render.to_markdown(doc, "zh")
    assert "## 发生了什么" in zh and "空指针" in zh
    html = render.to_html(doc)
    assert "<table>" in html and "<pre><code>" in html and "<script" not in html


def test_bucket_and_weekly_reports_with_a_regression(hub: Lab) -> None:
    c = hub.ctx.hub.store.crashes.get_crash(hub.planted)
    assert c is not None
    entry = KbEntry.from_dict({
        "id": "lab-null-fixed", "title": "crashmod NULL, fixed in 6.1.0-50", "match": {
            "function": "^crashmod_null$", "releases": [{"fixed_in": "6.1.0-50"}]},
        "advice": "Upgrade.",
    })
    hub.ctx.kb.put(entry)
    hub.ctx.kb.reapply(hub.ctx.hub.store)
    b = render.bucket_doc(hub.ctx.hub, hub.ctx.kb, c.bucket_id)
    assert b["kb_status"] == "regression" and b["entry"]["id"] == "lab-null-fixed"
    assert "Upgrade." in render.to_markdown(b)
    w = render.weekly_doc(hub.ctx.hub)
    assert {x["id"] for x in w["new_buckets"]} >= {c.bucket_id}
    assert [x["id"] for x in w["regressions"]] == [c.bucket_id]
    assert {k["release"] for k in w["kernels"]} == {hub.release, hub.other_release}
    md = render.to_markdown(w, "en")
    assert "## Regressions" in md and "## Kernels by crash rate" in md


def test_report_cli(hub: Lab) -> None:
    r = subprocess.run([sys.executable, "-m", "crashhub.cli", "report", hub.planted, "--format", "json",
                        "--data", str(hub.data)], capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["crash"]["id"] == hub.planted
    r = subprocess.run([sys.executable, "-m", "crashhub.cli", "report", "--weekly", "--lang", "zh",
                        "--data", str(hub.data)], capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode == 0 and "每周摘要" in r.stdout
    r = subprocess.run([sys.executable, "-m", "crashhub.cli", "report", "nope", "--data", str(hub.data)],
                       capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode == 2 and "no crash" in r.stderr
