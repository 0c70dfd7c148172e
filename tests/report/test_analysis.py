"""A real analysis of a lab dump (drgn + crash with the lab's vmlinux) in the bundle and on the crash page."""

from __future__ import annotations

import json
import re
import tarfile
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.report.conftest import Lab, leaked

from crashhub.analyze import analyze
from crashhub.report import make_bundle
from crashhub.web import create_app, create_token


@pytest.mark.slow
def test_analysis_outputs_reach_bundle_and_page(lab_hub: Lab, lab: Any, tmp_path: Path) -> None:
    hub = lab_hub
    run = lab.crash("6.1", "null")
    c = hub.ctx.hub.store.crashes.get_crash(hub.planted)
    assert c is not None
    dump = next(f for f in c.files if f.role == "vmcore")
    res = analyze(hub.ctx.hub.blobs.local_path(dump.digest), vmlinux=run.vmlinux, timeout=300).to_dict()
    outputs = ((res.get("engines") or {}).get("crash") or {}).get("outputs") or {}
    # crash 8.0.2 reads the lab's 6.1 dumps: no output is the failure this test is here to catch.
    failure = res.get("engines", {}).get("crash", {}).get("failure")
    assert outputs.get("sys"), f"crash gave no outputs: {failure}"
    hub.ctx.hub.store.crashes.set_crash_analysis(
        hub.planted, {"status": "done", "result": res, "seconds": 1.0}
    )

    out = tmp_path / "a.tar.gz"
    make_bundle(hub.ctx.hub, hub.ctx.kb, hub.planted, out, patterns=[r"4a11ce-[a-z-]+"])
    with tarfile.open(out) as tar:
        files = {m.name.split("/", 1)[1]: tar.extractfile(m).read() for m in tar if m.isfile()}  # type: ignore[union-attr]
    for name in ("sys", "bt", "mod", "log"):
        if outputs.get(name):
            assert f"analysis/{name}.txt" in files, name
    assert b"KERNEL:" in files["analysis/sys.txt"] or b"RELEASE:" in files["analysis/sys.txt"]
    summary = json.loads(files["analysis/summary.json"])
    assert summary["engine"] in ("drgn", "crash") and summary["findings"] == res["findings"]
    blob = b"\n".join(files.values()).decode(errors="replace")
    assert leaked(blob) == []

    app = create_app(hub.ctx.settings, background=False, ctx=hub.ctx)  # UI mounted
    token, _ = create_token(hub.ctx.hub.store, "viewer", "analysis")
    with TestClient(app) as client:
        page = client.get("/ui/login").text
        csrf = re.search(r'name="csrf" value="([^"]+)"', page)[1]  # type: ignore[index]
        client.post("/ui/login", data={"csrf": csrf, "token": token})
        html = client.get(f"/ui/crashes/{hub.planted}").text
    assert "<summary>crash sys</summary>" in html and "<summary>crash bt</summary>" in html
    for f in res["findings"]:
        assert str(f["title"]).replace("'", "&#39;").replace('"', "&#34;") in html
    # Frames now come from the analysis, with file:line where the debuginfo had them.
    if any(fr.get("file") for fr in res.get("stack") or []):
        assert re.search(r"<td>[\w/.-]+\.[ch]:\d+</td>", html)
