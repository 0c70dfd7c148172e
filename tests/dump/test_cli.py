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


def test_dmesg_process_output_exit_and_imports(files: dict[str, Path], tmp_path: Path) -> None:
    """The script path (cli.script): the fast form leaves with os._exit after flushing, so the whole
    log must still arrive, through a pipe and into -o; errors keep exit 2; and the dmesg path loads
    none of the modules whose import would double its start-up."""
    want = dump.dmesg(files["flat"])
    cmd = [sys.executable, "-m", "crashhub.cli", "dump", "dmesg"]
    r = subprocess.run([*cmd, str(files["flat"])], check=False, capture_output=True)
    assert (r.returncode, r.stdout, r.stderr) == (0, want, b"")
    r = subprocess.run([*cmd, str(files["kdump"]), "-o", str(tmp_path / "log")], check=False,
                       capture_output=True)
    assert r.returncode == 0 and (tmp_path / "log").read_bytes() == dump.dmesg(files["kdump"])
    r = subprocess.run([*cmd, str(files["text"])], check=False, capture_output=True)
    assert r.returncode == 2 and r.stderr.count(b"\n") == 1 and b"DumpFormatError" in r.stderr
    # A reader that goes away early (| head -c 10) is not an error.
    p = subprocess.Popen([*cmd, str(files["kdump"])], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.stdout is not None and p.stderr is not None
    assert p.stdout.read(10) == want[:10]
    p.stdout.close()
    assert p.wait(30) == 0 and b"Traceback" not in p.stderr.read()
    heavy = ("re", "typing", "argparse", "collections", "array", "dataclasses", "contextlib", "importlib",
             "zlib")
    probe = ("import sys; from crashhub import cli; sys.argv[1:] = ['dump', 'dmesg', sys.argv[1], '-o', "
             f"sys.argv[2]]; cli.main(); print(' '.join(m for m in {heavy!r} if m in sys.modules))")
    for name in ("kdump", "flat"):
        r = subprocess.run([sys.executable, "-c", probe, str(files[name]), str(tmp_path / "p")], check=True,
                           capture_output=True, text=True)
        assert r.stdout.strip() == "", f"{name}: dump dmesg imported {r.stdout.strip()}"
