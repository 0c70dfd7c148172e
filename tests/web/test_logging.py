"""The hub's log: one access line per request (no secrets in it), one INFO line per ingest, spool
pickup, dump and analysis (start and end)."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.ingest.conftest import copy_dir
from tests.labdata import case

from crashhub import analyze as analyze_mod
from crashhub import config
from crashhub.analyze import Analysis
from crashhub.ingest import SpoolWatcher
from crashhub.jobs import _handlers as handlers
from crashhub.web import build_context, create_app, create_token


@pytest.fixture
def hub(tmp_path: Path) -> Any:
    settings = config.load(tmp_path / "data", env={}, spool_dir="", workers=0, analyze_first=0)
    ctx = build_context(settings)
    yield settings, ctx
    ctx.hub.close()


def _lines(caplog: pytest.LogCaptureFixture, logger: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == logger and r.levelno == logging.INFO]


def test_access_and_ingest_lines(hub: Any, caplog: pytest.LogCaptureFixture) -> None:
    settings, ctx = hub
    caplog.set_level(logging.INFO, logger="crashhub")
    token = create_token(ctx.hub.store, "host", "web1")[0]
    c = case("6.12", "null")
    with TestClient(create_app(settings, background=False, ctx=ctx)) as client:
        assert client.get("/healthz").status_code == 200
        client.get("/ui/lang/zh?next=/ui/&token=s3cr3t-in-url&csrf=abc", follow_redirects=False)
        r = client.post("/api/v1/crashes", headers={"Authorization": f"Bearer {token}"},
                        files={"log": ("vmcore-dmesg.txt", c.log.read_bytes(), "text/plain")},
                        data={"host": "web1"})
        assert r.status_code == 201, r.text
        assert client.get("/api/v1/hosts").status_code == 401
    access = _lines(caplog, "crashhub.access")
    assert len(access) == 4, access
    assert access[0].endswith(" ms") and " GET /healthz 200 " in access[0]
    assert "token=***" in access[1] and "csrf=***" in access[1] and "next=/ui/" in access[1]
    assert " POST /api/v1/crashes 201 " in access[2] and " GET /api/v1/hosts 401 " in access[3]
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "s3cr3t-in-url" not in text and token not in text
    crash = r.json()
    [line] = _lines(caplog, "crashhub.ingest")
    bucket = crash["bucket"]["id"]
    assert line.startswith(f"ingest (http): crash {crash['id']} host web1 bucket {bucket} (new)")
    assert line.endswith(crash["title"])


def test_spool_pickup_and_analysis_lines(hub: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    _settings, ctx = hub
    caplog.set_level(logging.INFO, logger="crashhub")
    spool = tmp_path / "spool"
    spool.mkdir()
    d = copy_dir(case("6.1", "null").crash_dir(tmp_path / "kept"), spool)
    t = time.time() - 60
    for f in d.iterdir():
        os.utime(f, (t, t))
    (o,) = SpoolWatcher(spool, ctx.pipeline, settle=0.5, interval=0.1, lease=60).scan_once()
    assert _lines(caplog, "crashhub.spool") == [f"spool: picked up {d}"]
    assert f"ingest (spool): crash {o.crash.id} " in _lines(caplog, "crashhub.ingest")[0]

    monkeypatch.setattr(analyze_mod, "analyze", lambda *_a, **_kw: Analysis(engine="drgn"))
    assert handlers.analyze_job(ctx.hub, {"crash_id": o.crash.id})["status"] == "done"
    start, end = _lines(caplog, "crashhub.analyze")
    assert start.startswith(f"analysis of crash {o.crash.id}: drgn started (kernel {o.crash.release}")
    assert end.startswith(f"analysis of crash {o.crash.id}: drgn done in ") and end.endswith(" s")
