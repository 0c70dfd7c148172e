"""`crashhub dump info|dmesg|reassemble` through the CLI dispatcher."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from tests.dump import synth

from crashhub import dump
from crashhub.cli import main


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("cli")
    m = synth.standard_machine("lockless")
    kd = synth.to_kdump(m, "lzo", dump_level=31)
    out = {"kdump": tmp / "vmcore", "flat": tmp / "vmcore.flat", "text": tmp / "notes.txt"}
    out["kdump"].write_bytes(kd)
    out["flat"].write_bytes(synth.to_flat(kd, shuffle=4))
    out["text"].write_text("not a dump\n")
    return out


def test_info_json_keys(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dump", "info", str(files["flat"]), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    for key in ("format", "compression", "arch", "release", "build_id", "hostname", "crash_time", "cpus",
                "page_size", "dump_level", "partial", "incomplete"):
        assert key in info
    assert info["format"] == "flat-kdump" and info["compression"] == "lzo" and info["dump_level"] == 31
    assert main(["dump", "info", str(files["kdump"])]) == 0
    text = capsys.readouterr().out
    assert "release           6.1.0-56-cloud-amd64" in text and "(excludes zero pages" in text


def test_dmesg_to_file_and_stdout(files: dict[str, Path], tmp_path: Path,
                                  capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    assert main(["dump", "dmesg", str(files["flat"]), "-o", str(tmp_path / "log")]) == 0
    assert (tmp_path / "log").read_bytes() == dump.dmesg(files["kdump"])
    assert main(["dump", "dmesg", str(files["kdump"])]) == 0
    assert capsysbinary.readouterr().out == dump.dmesg(files["kdump"])


def test_reassemble_paths_and_stdin(files: dict[str, Path], tmp_path: Path) -> None:
    assert main(["dump", "reassemble", str(files["flat"]), "-o", str(tmp_path / "a")]) == 0
    assert (tmp_path / "a").read_bytes() == files["kdump"].read_bytes()
    with open(files["flat"], "rb") as f:
        r = subprocess.run([sys.executable, "-m", "crashhub.cli", "dump", "reassemble", "-", "-o",
                            str(tmp_path / "b")], check=False, stdin=f, capture_output=True)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "b").read_bytes() == files["kdump"].read_bytes()


def test_errors_are_one_line(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dump", "info", str(files["text"])]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "DumpFormatError" in err and str(files["text"]) in err
    assert main(["dump", "dmesg", "/nonexistent/vmcore"]) == 2
    assert "No such file" in capsys.readouterr().err
    assert main(["dump", "reassemble", str(files["kdump"]), "-o", "/tmp/x-never"]) == 2
    assert "not a flattened dump" in capsys.readouterr().err
