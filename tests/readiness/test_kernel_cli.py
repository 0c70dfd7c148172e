"""``crashhub kernel check``: parse, call the runner (monkeypatched here: the runner's end-to-end test
boots a kernel), print the report (a table per kind and the advice, or ``--json``), save it in the
hub's store unless ``--no-save``; exit 0 ready, 1 not ready, 2 bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tests.readiness_data import report_61, report_612, report_not_captured

from crashhub import config, readiness
from crashhub.cli import main as cli
from crashhub.readiness import ReadinessReport
from crashhub.store import open_store


@pytest.fixture
def deb(tmp_path: Path) -> Path:
    p = tmp_path / "linux-image-6.12.117+deb12-cloud-amd64_6.12.117-1~deb12u1_amd64.deb"
    p.write_bytes(b"!<arch>\n")
    return p


def _fake(monkeypatch: pytest.MonkeyPatch, report: ReadinessReport) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []

    def check(packages: list[Path], **kw: Any) -> ReadinessReport:
        kw["progress"]("booting the kernel under QEMU (tcg)")
        calls.append({"packages": list(packages), **kw})
        return report

    monkeypatch.setattr(readiness, "check", check)
    return calls


def _saved(data: Path) -> list[ReadinessReport]:
    hub = open_store(config.load(data, env={}))
    try:
        return [readiness.report_of(r) for r in hub.store.readiness.list()]
    finally:
        hub.close()


def test_json_of_a_kernel_not_ready(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                    deb: Path, tmp_path: Path) -> None:
    calls = _fake(monkeypatch, report_612())
    data = tmp_path / "data"
    rc = cli(["kernel", "check", str(deb), "--kind", "sysrq", "--kind", "null", "--crashkernel", "384M",
              "--json", "--data", str(data)])
    out, err = capsys.readouterr()
    assert rc == 1
    (call,) = calls
    assert call["packages"] == [deb] and call["kinds"] == ("sysrq", "null")
    assert call["crashkernel"] == "384M"
    assert call["core_collector"] == "makedumpfile -l --message-level 7 -d 31"
    assert "booting the kernel" in err and "saved the report" in err
    d = json.loads(out)
    assert d["release"] == "6.12.117+deb12-cloud-amd64" and d["ready"] is False
    for k in d["kinds"]:
        for key in ("captured", "dmesg_matches_log", "panic_task_readable", "stack_readable", "dump_bytes",
                    "ram_bytes", "dropped_needed_pages", "advice"):
            assert key in k, key
        assert k["panic_task_readable"] is False and k["dropped_needed_pages"]
    assert ReadinessReport.from_dict(d) == report_612()
    assert _saved(data) == [report_612()]


def test_human_report_of_a_ready_kernel(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                        deb: Path, tmp_path: Path) -> None:
    _fake(monkeypatch, report_61())
    assert cli(["kernel", "check", str(deb), "--no-save", "--data", str(tmp_path / "data")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("kernel 6.1.0-57-cloud-amd64: READY\n")
    lines = out.splitlines()
    header = next(x for x in lines if x.split()[:3] == ["sysrq", "null", "softlockup"])
    assert header.startswith(" ")
    row = {x.split("  ")[0]: x for x in lines}
    assert row["captured"].split()[1:] == ["yes", "yes", "yes"]
    assert "24.0 MiB / 1.0 GiB" in row["dump / RAM"] and "26.0 MiB / 1.0 GiB" in row["dump / RAM"]
    assert row["panic task readable"].split()[3:] == ["yes", "yes", "yes"]
    assert "crashmod_null / crashmod_null" in row["guilty / expected"]
    assert "what to change" not in out
    assert not (tmp_path / "data").exists()  # --no-save: the store is not even opened


def test_human_report_names_the_failure_and_the_advice(monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str], deb: Path,
                                                       tmp_path: Path) -> None:
    _fake(monkeypatch, report_not_captured())
    assert cli(["kernel", "check", str(deb), "--data", str(tmp_path / "data")]) == 1
    out = capsys.readouterr().out
    assert "NOT READY" in out.splitlines()[0]
    assert "sysrq: not captured: capture kernel: the dump disk /dev/vda never appeared" in out
    assert "what to change:\n  1. Add virtio_blk to the capture initramfs" in out
    _fake(monkeypatch, report_612())
    assert cli(["kernel", "check", str(deb), "--data", str(tmp_path / "data")]) == 1
    out = capsys.readouterr().out
    assert "sysrq: dropped: slab pages of task_struct" in out and "  1. Use dump level 23" in out
    assert {r.release for r in _saved(tmp_path / "data")} == {"6.1.0-57-cloud-amd64",
                                                             "6.12.117+deb12-cloud-amd64"}


@pytest.mark.parametrize("case", [
    (["/no/such/linux-image.deb"], "/no/such/linux-image.deb: no such package file or directory"),
    (["{deb}", "--debuginfo", "/no/dbg.deb"], "--debuginfo /no/dbg.deb: no such file"),
    (["{deb}", "--core-collector", "makedumpfile -d 31 | nc evil 1"], "core_collector"),
    (["{deb}", "--crashkernel", "a lot"], "crashkernel: 'a lot'"),
])
def test_bad_input_exits_2_with_one_line(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                         deb: Path, tmp_path: Path, case: tuple[list[str], str]) -> None:
    args, says = case
    calls = _fake(monkeypatch, report_61())
    argv = [a.format(deb=deb) for a in args]
    assert cli(["kernel", "check", *argv, "--data", str(tmp_path / "data")]) == 2
    err = capsys.readouterr().err
    assert says in err and err.count("\n") == 1 and err.startswith("crashhub kernel: InputError: ")
    assert calls == [] and not (tmp_path / "data").exists()


def test_an_unknown_kind_and_help(deb: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        cli(["kernel", "check", str(deb), "--kind", "oops"])
    assert e.value.code == 2 and "invalid choice: 'oops'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        cli(["kernel", "--help"])
    assert e.value.code == 0 and "check" in capsys.readouterr().out
    assert cli(["--help"]) == 0 and "kernel" in capsys.readouterr().out
