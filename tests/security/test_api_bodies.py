"""The request bodies the OpenAPI document cannot describe, fuzzed through the app: the upload form
(multipart), host reports (JSON) and KB writes (YAML and JSON).  A 2xx or a 4xx, never a 5xx; a refused
upload stores nothing."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.security import targets
from tests.security.conftest import SecHub
from tests.security.mutate import near

FUZZ = settings(max_examples=120, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40)
JSON = st.recursive(
    SCALARS,
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=12), kids, max_size=4),
    max_leaves=20)
REPORT_KEYS = ("host", "release", "build_id", "hardware", "machine", "agent_version", "kdump")


def _no_5xx(r: Any, what: object) -> None:
    assert r.status_code < 500, (what, r.status_code, r.text[:300])


def _form_seeds() -> tuple[bytes, ...]:
    kdump, _flat, gz, *_ = targets.seeds("dump")
    log = ("vmcore-dmesg.txt", targets.OOPS.encode())
    return (targets.MULTIPART,
            targets.multipart_body({"host": "web-02", "crash_dir": "127.0.0.1-2026-12-01-08:00:00"},
                                   {"log": log, "vmcore": ("vmcore", kdump)}),
            targets.multipart_body({}, {"vmcore": ("vmcore", gz), "kexec_log": log}))


@FUZZ
@given(body=near(_form_seeds()))
def test_upload_form(sechub: SecHub, body: bytes) -> None:
    temp = sechub.app.state.ctx.hub.blobs.temp_path("x").parent
    with sechub.client("host") as c:
        r = c.post("/api/v1/crashes", content=body,
                   headers={"Content-Type": f"multipart/form-data; boundary={targets.BOUNDARY}"})
    _no_5xx(r, body[:200])
    if r.status_code >= 400:
        assert not [p for p in temp.iterdir() if p.is_file()], "a refused upload left temp files"


@FUZZ
@given(report=st.dictionaries(st.sampled_from(REPORT_KEYS), JSON, max_size=7) | JSON)
def test_host_report(sechub: SecHub, report: Any) -> None:
    with sechub.client("host") as c:
        _no_5xx(c.post("/api/v1/hosts/report", content=json.dumps(report)), report)


@FUZZ
@given(text=near(targets.seeds("kb")), as_json=st.booleans())
def test_kb_write(sechub: SecHub, text: bytes, as_json: bool) -> None:
    with sechub.client("admin") as c:
        if as_json:
            import yaml  # noqa: PLC0415

            try:
                data = yaml.safe_load(text.decode("utf-8", "replace"))
                body = json.dumps(data, default=str)
            except (yaml.YAMLError, ValueError, RecursionError):
                return
            r = c.post("/api/v1/kb", content=body, headers={"Content-Type": "application/json"})
        else:
            r = c.post("/api/v1/kb", content=text, headers={"Content-Type": "application/yaml"})
    _no_5xx(r, text[:200])


def test_crash_dir_with_an_impossible_time_is_a_400(sechub: SecHub) -> None:
    with sechub.client("host") as c:
        r = c.post("/api/v1/crashes", data={"crash_dir": "x-2026-12-04-99:99:99"},
                   files={"log": ("vmcore-dmesg.txt", targets.OOPS.encode())})
    assert r.status_code == 400, r.status_code


def test_deeply_nested_host_report_is_a_4xx(sechub: SecHub) -> None:
    with sechub.client("host") as c:
        big = c.post("/api/v1/hosts/report", content=b"[" * 100_000)  # past max_host_report_bytes
        deep = c.post("/api/v1/hosts/report", content=b"[" * 10_000)  # under it, far past the depth
    assert big.status_code == 413 and "max_host_report_bytes" in big.text, big.text
    assert deep.status_code == 400 and "nested" in deep.text, deep.text
