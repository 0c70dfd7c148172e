"""``crashhub triage``: human and JSON output, crash directories, exit codes 0/1/2."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from crashhub.cli import main
from crashhub.examples import EXAMPLES, crash_dirs

LAB = Path(__file__).resolve().parent / "data" / "lab"
NULL_LOG = LAB / "6.1-null-1.vmcore-dmesg.txt"


def test_human_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["triage", str(NULL_LOG)]) == 0
    out = capsys.readouterr().out
    assert "null_deref: BUG: unable to handle kernel NULL pointer dereference in crashmod_null" in out
    assert "guilty:   crashmod_null [crashmod]" in out
    assert "O: externally-built (out-of-tree) module was loaded" in out
    assert "release:  6.1.0-56-cloud-amd64" in out and "bucket:   sig:" in out


def test_json_and_crash_directories(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rhel = tmp_path / "127.0.0.1-2026-11-26-05:08:13"
    rhel.mkdir()
    shutil.copy(NULL_LOG, rhel / "vmcore-dmesg.txt")
    (rhel / "kexec-dmesg.log").write_text("capture kernel log: BUG: not this one\n")
    deb = tmp_path / "202611260508"
    deb.mkdir()
    shutil.copy(NULL_LOG, deb / "dmesg.202611260508")
    assert main(["triage", "--json", str(rhel), str(deb)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    for line in lines:
        doc = json.loads(line)
        (crash,) = doc["crashes"]
        assert crash["kind"] == "null_deref"
        assert crash["guilty"] == {"function": "crashmod_null", "module": "crashmod"}
        assert crash["process"] == {"comm": "sh", "pid": 124}
        assert crash["signature"]["algorithm"].startswith("sig:") and len(crash["signature"]["key"]) == 32
        for k in ("path", "crashes"):
            assert k in doc
        for k in ("title", "frames", "cpu", "taint", "release", "hardware", "corrupted", "corrupted_reason"):
            assert k in crash
    assert json.loads(lines[0])["log"].endswith("vmcore-dmesg.txt")


def test_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    clean = tmp_path / "clean.log"
    clean.write_text("[    0.000000] Linux version 6.1.0\n[    1.000000] systemd started\n")
    assert main(["triage", str(NULL_LOG), str(clean)]) == 1
    binary = tmp_path / "vmcore"
    binary.write_bytes(b"KDUMP   " + bytes(range(256)) * 64)
    assert main(["triage", str(binary)]) == 2
    assert main(["triage", str(tmp_path / "missing.log")]) == 2
    empty_dir = tmp_path / "empty"
    empty_dir.mkdir()
    assert main(["triage", str(empty_dir)]) == 2
    err = capsys.readouterr().err
    assert "LogError" in err and "vmcore" in err and "missing.log" in err


def test_examples_directory_of_crash_directories(capsys: pytest.CaptureFixture[str]) -> None:
    """The README's command: every bundled example is a crash directory with a crash in it."""
    assert main(["triage", "--json", str(EXAMPLES)]) == 0
    docs = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [Path(d["path"]).name for d in docs] == [p.name for p in crash_dirs()]
    kinds = {Path(d["path"]).name: d["crashes"][0]["kind"] for d in docs}
    assert kinds == {"debian-6.1-warn": "warning", "rhel-6.1-null": "null_deref",
                     "rhel-6.1-softlockup": "soft_lockup", "rhel-6.12-gpf": "gpf"}
