"""``crashhub buckets`` and its sub-commands on kept lab logs: similar buckets across kernels,
rules listed and deleted, a re-key (dry run and real) and its ledger."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.labdata import LOGS

from crashhub import config
from crashhub.classify import Condition
from crashhub.cli import main
from crashhub.store import open_store


def _run(capsys: pytest.CaptureFixture[str], data: Path, *args: str) -> tuple[int, str, str]:
    rc = main([*args, "--data", str(data)])
    out = capsys.readouterr()
    return rc, out.out, out.err


@pytest.fixture
def data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    d = tmp_path / "data"
    logs = [str(Path(LOGS) / f"{n}.vmcore-dmesg.txt") for n in ("6.1-null-1", "6.12-null-1", "6.1-warn-1")]
    rc, _, err = _run(capsys, d, "ingest", *logs)
    assert rc == 0, err
    return d


def _null_bucket(data: Path) -> str:
    hub = open_store(config.load(data, env={}))
    try:
        (b,) = [b for b in hub.store.buckets.list_buckets() if b.kind == "null_deref"]
        hub.store.buckets.split_bucket(b.id, [], "ana", "6.12", [Condition("release", "6.12.*")])
        return b.id
    finally:
        hub.close()


def test_similar_rules_and_their_deletion(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    null = _null_bucket(data)
    rc, out, _ = _run(capsys, data, "buckets", "similar", null, "--json")
    first = json.loads(out)["similar"][0]
    assert rc == 0 and first["bucket"]["title"] == "6.12" and first["score"] > 0.9
    rc, out, _ = _run(capsys, data, "buckets", "similar", null)
    assert rc == 0 and "6.12" in out.splitlines()[1]
    rc, out, _ = _run(capsys, data, "buckets", "rules", "--json")
    (rule,) = json.loads(out)
    assert rule["action"] == "split" and rule["created_by"] == "ana"
    rc, out, _ = _run(capsys, data, "buckets", "rules")
    assert rule["id"] in out and "release=6.12.*" in out
    rc, out, _ = _run(capsys, data, "buckets", "rules", "delete", rule["id"])
    assert rc == 0 and "deleted" in out
    rc, _, err = _run(capsys, data, "buckets", "rules", "delete", rule["id"])
    assert rc == 2 and "no live rule" in err
    rc, out, _ = _run(capsys, data, "buckets", "rules", "--all", "--json")
    assert [r["id"] for r in json.loads(out)] == [rule["id"]]


def test_rekey_dry_run_and_ledger(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = _run(capsys, data, "buckets", "rekey", "--dry-run")
    assert rc == 0 and "buckets of older algorithms: none" in out and "applied" not in out
    rc, out, _ = _run(capsys, data, "buckets", "rekey", "--json")
    assert rc == 0 and json.loads(out)["rounds"] == []
    rc, out, _ = _run(capsys, data, "buckets", "rekeys")
    assert rc == 0 and out.strip() == "no re-keys"
    rc, out, _ = _run(capsys, data, "buckets", "--json")  # the plain list is still there
    assert rc == 0 and len(json.loads(out)) == 2


def test_list_filters_mirror_the_api(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def keys(*args: str) -> list[str]:
        rc, out, err = _run(capsys, data, "buckets", "--json", *args)
        assert rc == 0, err
        return sorted(b["kind"] for b in json.loads(out))

    assert keys() == ["null_deref", "warning"]
    hub = open_store(config.load(data, env={}))
    try:
        null = next(b for b in hub.store.buckets.list_buckets() if b.kind == "null_deref")
        warn = next(b for b in hub.store.buckets.list_buckets() if b.kind == "warning")
        hub.store.buckets.set_bucket_workflow(null.id, status="investigating", actor="t")
    finally:
        hub.close()
    k612 = next(k for k in null.kernels if k.startswith("6.12"))
    assert keys("--kernel", k612) == ["null_deref"]
    assert keys("--kernel", k612[:4]) == []  # a kernel is a whole release
    host = warn.hosts[0]
    assert keys("--host", host) == sorted(b.kind for b in (null, warn) if host in b.hosts)
    assert keys("--host", host[:-1]) == []  # a host is a whole name
    assert keys("--status", "investigating") == ["null_deref"]
    assert keys("--status", "new") == ["warning"]
    assert keys("--kb", "regression") == []
    assert keys("--q", "CRASHMOD_WARN") == ["warning"]  # the title, any case
    assert keys("--q", k612) == ["null_deref"]  # a kernel, in part or whole
    assert keys("--since", "1d") == ["null_deref", "warning"]  # ingested just now
    assert keys("--since", "0") == ["null_deref", "warning"]
    assert keys("--since", "4102444800") == []  # 2100: nothing seen since
    rc, out, _ = _run(capsys, data, "buckets", "--q", "no-such-text")
    assert rc == 0 and out.strip() == "no buckets"
    with pytest.raises(SystemExit):
        main(["buckets", "--since", "soon", "--data", str(data)])
