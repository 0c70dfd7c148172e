"""The KB's answer is derived when read: after a KB edit every consumer says the same (issue 18).

Real lab crashes (tests/ui/conftest.py's hub: the crashmod NULL bug on Debian 6.1.0-57 and on
6.12.117+deb12, a hung task, a sysrq crash); the entry is written as an admin writes one, through the
API, and the crash page, the bucket page, the API, ``crashhub crash``, ``crashhub report`` and the
vendor bundle are read afterwards.
"""

from __future__ import annotations

import json
import re
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.labdata import case
from tests.ui.conftest import UiHub, build_hub
from tests.ui.test_pages import login

from crashhub.alerts._engine import AlertConfig, AlertEngine
from crashhub.cli import main
from crashhub.kb import kb_view, parse_entry
from crashhub.model import CrashReport
from crashhub.report import make_bundle
from crashhub.triage import parse_file

# Fixed upstream in 6.12.115: the 6.12.117+deb12 crash is past it, the 6.1 ones (upstream 6.1.192,
# from their "Debian 6.1.192-3" version line) are inside the range.
REGRESSED = """id: lab-null
title: crashmod writes through NULL
status: known
match:
  kinds: [null_deref]
  function: ^crashmod_
  releases:
    - introduced_in: "6.1"
      fixed_in: "6.12.115"
advice: Unload crashmod.
"""
KNOWN = REGRESSED.replace('      fixed_in: "6.12.115"\n', "")
COMPARISON = "6.12.117+deb12 ≥ fixed_in 6.12.115 (series deb12, as upstream 6.12.117)"


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiHub]:
    h = build_hub(tmp_path_factory.mktemp("derived") / "data")
    yield h
    h.ctx.hub.close()


@pytest.fixture(scope="module")
def client(hub: UiHub) -> Iterator[TestClient]:
    with TestClient(hub.app) as c:
        login(c, token=hub.tokens["admin"])
        c.headers["Authorization"] = f"Bearer {hub.tokens['admin']}"
        yield c


def put_entry(client: TestClient, text: str) -> None:
    r = client.put("/api/v1/kb/lab-null", content=text, headers={"Content-Type": "application/yaml"})
    assert r.status_code in (200, 201), r.text


def cli_out(hub: UiHub, capsys: pytest.CaptureFixture[str], *args: str) -> str:
    capsys.readouterr()
    assert main([*args, "--data", str(hub.data)]) == 0
    return capsys.readouterr().out


def everything(hub: UiHub, client: TestClient, capsys: pytest.CaptureFixture[str], crash: str,
               tmp: Path) -> dict[str, str]:
    """What each consumer answers for ``crash`` (page texts, JSON answers, command output)."""
    c = hub.ctx.hub.store.crashes.get_crash(crash)
    assert c is not None
    page = client.get(f"/ui/crashes/{crash}").text
    bpage = client.get(f"/ui/buckets/{c.bucket_id}").text
    api = client.get(f"/api/v1/crashes/{crash}").json()
    bapi = client.get(f"/api/v1/buckets/{c.bucket_id}").json()
    report = json.loads(cli_out(hub, capsys, "report", crash, "--format", "json"))
    out = tmp / f"{crash}.tar.gz"
    make_bundle(hub.ctx.hub, hub.ctx.kb, crash, out)
    with tarfile.open(out) as tar:
        names = tar.getnames()
        member = tar.extractfile(f"crashhub-{crash}/report.md")
        assert member is not None
        bundle_md = member.read().decode()
    return {
        "page": page, "bucket_page": bpage, "api": api["kb_view"]["answer"], "bucket_api": bapi["kb_status"],
        "bucket_regressed": str(bapi["regressed"]),
        "bucket_by": json.dumps(bapi["regressed_by"], ensure_ascii=False),
        "cli": cli_out(hub, capsys, "crash", crash), "report": report["kb_status"],
        "report_md": cli_out(hub, capsys, "report", crash), "bundle_md": bundle_md,
        "bundle_kb": str(f"crashhub-{crash}/kb/lab-null.yaml" in names),
    }


def test_generic_matches_are_new_in_the_cli_as_in_the_ui(hub: UiHub, client: TestClient,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """The hung task matches only the starter KB's generic entry: 'new' everywhere, never '[known]'."""
    crash = hub.crashes["6.1/hung"]
    page = client.get(f"/ui/crashes/{crash}").text
    assert "Not known yet" in page and 'kb-new">new<' in page
    out = cli_out(hub, capsys, "crash", crash)
    assert "answer   new" in out and "[new] (generic)" in out and "[known]" not in out
    assert client.get(f"/api/v1/crashes/{crash}").json()["kb_view"]["answer"] == "new"


def test_a_kb_edit_is_seen_by_every_consumer(hub: UiHub, client: TestClient,
                                             capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    crash = hub.crashes["6.1/null"]
    before = everything(hub, client, capsys, crash, tmp_path)
    assert "Not known yet" in before["page"] and before["api"] == before["report"] == "new"
    assert before["bundle_kb"] == "False"

    put_entry(client, KNOWN)
    got = everything(hub, client, capsys, crash, tmp_path)
    assert "Not known yet" not in got["page"] and "crashmod writes through NULL" in got["page"]
    assert 'kb-known">known<' in got["page"] and 'kb-known">known<' in got["bucket_page"]
    assert got["api"] == got["bucket_api"] == got["report"] == "known"
    assert "answer   known  (lab-null)" in got["cli"]
    assert "lab-null: crashmod writes through NULL [known]" in got["cli"]
    assert "Unload crashmod." in got["report_md"] and "Unload crashmod." in got["bundle_md"]
    assert got["bundle_kb"] == "True"
    # The entry answers the bucket nobody had answered: its workflow moves on, with the event.
    c = hub.ctx.hub.store.crashes.get_crash(crash)
    assert c is not None
    b = client.get(f"/api/v1/buckets/{c.bucket_id}").json()
    assert b["status"] == "known_issue"
    assert any(e["detail"].get("kb_entry") == "lab-null" for e in b["events"])


def test_past_fixed_in_is_regressed_everywhere_and_stays_so(
    hub: UiHub, client: TestClient, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    store = hub.ctx.hub.store
    engine = AlertEngine(hub.data, config=AlertConfig(channels=[]), cluster=store.cluster)
    put_entry(client, KNOWN)
    assert not [d for d in engine.tick(store) if d.rule == "regression"]
    put_entry(client, REGRESSED)  # the KB edit makes the bucket regressed: no crash arrives
    # The edit re-matched only what the entry can concern; every entry on every bucket agrees.
    assert hub.ctx.kb.reapply(store, full=True) == 0
    # The crash on 6.1.0-57 is inside the range itself: its bucket (which also ran 6.12.117) is not.
    for crash in (hub.crashes["6.1/null"], hub.crashes["6.12/null"]):
        got = everything(hub, client, capsys, crash, tmp_path)
        assert got["api"] == got["bucket_api"] == got["report"] == "regression", crash
        assert got["bucket_regressed"] == "True" and COMPARISON in got["bucket_by"]
        for where in ("page", "bucket_page"):
            assert 'kb-regression">Regressed<' in got[where] and COMPARISON in got[where], where
        assert "answer   regressed" in got["cli"] and COMPARISON in got["cli"]
        assert COMPARISON in got["report_md"] and COMPARISON in got["bundle_md"]
    sent = [d for d in engine.tick(store) if d.rule == "regression"]
    bucket = store.crashes.get_crash(hub.crashes["6.1/null"]).bucket_id  # type: ignore[union-attr]
    assert [d.key for d in sent] == [f"regressed:{bucket}:lab-null:6.12.115"]
    rep = json.loads(cli_out(hub, capsys, "report", "--bucket", bucket, "--format", "json"))
    assert rep["kb_status"] == "regression" and rep["kb_view"]["comparison"] == COMPARISON
    assert not [d for d in engine.tick(store) if d.rule == "regression"]  # once per transition

    # A later crash of the bug on an older kernel (6.1.0-56), through `crashhub ingest`, keeps the
    # bucket regressed, and the command says so as the pages do.
    older = case("6.1", "null", 2)
    printed = cli_out(hub, capsys, "ingest", str(older.log))
    assert f"bucket {bucket} " in printed and f"kb answer: regressed ({COMPARISON})" in printed
    assert "kb lab-null: crashmod writes through NULL [regression]" in printed
    assert "[known]" not in printed
    assert not [d for d in engine.tick(store) if d.rule == "regression"]  # already sent, once
    assert "kb: regressed (lab-null" in cli_out(hub, capsys, "buckets")
    assert client.get(f"/api/v1/buckets/{bucket}").json()["regressed"] is True
    hub.ctx.kb.reapply(store)  # and a re-match from the KB keeps it too (any kernel of the bucket)
    assert client.get(f"/api/v1/buckets/{bucket}").json()["regressed"] is True
    dash = client.get("/ui/", params={"kb": "regression"}).text
    assert f"/ui/buckets/{bucket}" in dash
    listed = client.get("/api/v1/buckets", params={"kb": "regression"}).json()["buckets"]
    assert [b["id"] for b in listed] == [bucket]


def test_bounds_of_another_series_are_said_not_silent() -> None:
    """A Debian ABI bound against a +deb12 kernel is not compared: the view says so and why."""
    (report,) = [r for r in parse_file(case("6.12", "null").log)][:1]
    text = KNOWN.replace('    - introduced_in: "6.1"\n', '    - fixed_in: "6.1.0-58"\n')
    entry = parse_entry(text, "x.yaml")
    v = kb_view([entry], report, release=report.release)
    assert v.answer == "new" and not v.matches
    assert v.skipped == (
        "lab-null: 6.12.117+deb12-cloud-amd64 (series deb12) not compared with fixed_in 6.1.0-58 "
        "(series abi-6.1)",
    )
    # The same bound against the bucket's Debian 6.1.0-58 crash is compared, and regressed.
    v = kb_view([entry], report, release=report.release, releases=["6.1.0-58-cloud-amd64"])
    assert v.regressed and v.comparison == "6.1.0-58 ≥ fixed_in 6.1.0-58 (series abi-6.1)"
    assert CrashReport.from_dict(report.to_dict()) == report
    assert re.search(r"not compared", " ".join(v.skipped))
