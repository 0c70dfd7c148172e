"""``pip install crashhub`` alone reads every dump a fleet makes (issue #18).

A fresh venv gets the package with no extras, the way a host or a hub is installed; its ``crashhub dump
dmesg`` and ``dump info`` then read one crash-lab dump of each format and page codec.  The log must be the
capture kernel's ``makedumpfile --dump-dmesg /proc/vmcore`` (QEMU's dumps: this checkout's reader, as
test_lab checks them against makedumpfile) and the facts those of this checkout's reader.

The lab's makedumpfile (Debian 12's 1.7.2) is built without snappy and zstd, and its one non-flat kdump
file is lzo: the zlib kdump file is the Debian flat file rebuilt by ``dump.reassemble`` (byte-identical
to ``makedumpfile -R``, test_lab checks), the snappy and zstd ones are the lzo file's pages written
again (``synth.recompress``), so each holds a real dump's pages and has the capture kernel's log to match.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import lz4.frame
import pytest
import zstandard
from tests.dump import synth
from tests.need import missing

from crashhub import dump

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
KERNEL = "6.1"  # the lab's CI core set
# What an sdist of the checkout holds (pyproject.toml names the readme, licence and bin/crashhub).
SDIST = ("pyproject.toml", "README.md", "LICENSE", "src", "bin")
BUILD_LITTER = shutil.ignore_patterns("__pycache__", "*.egg-info")
# The dumps read (the `dumps` fixture): kdump files in each page codec, ELF, both flat files, QEMU's two,
# and the outer wrappers that need a package (gzip, xz and bzip2 are the standard library's).
NAMES = ("kdump-lzo", "kdump-zlib", "kdump-snappy", "kdump-zstd", "elf", "flat-ssh-lzo", "flat-debian-zlib",
         "qemu-elf", "qemu-kdump-zlib", "flat-debian+lz4", "kdump-lzo+zstd")
# pip's words for an index it cannot reach or that lacks a package: the machine, not the checkout.
OFFLINE = re.compile(r"No matching distribution|Could not find a version|NewConnectionError|"
                     r"Temporary failure in name resolution|Network is unreachable|ConnectTimeout")


def _env() -> dict[str, str]:
    # PYTHONPATH=src (how the suite is often run) would hand the new venv this checkout's code.
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bin/ of a venv made with ``python -m venv`` and ``pip install CHECKOUT`` (no extras)."""
    root = tmp_path_factory.mktemp("plain")
    src = root / "crashhub"
    src.mkdir()
    # A copy: pip builds in the tree it is given, which would leave build/ and egg-info in the checkout.
    for name in SDIST:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, src / name, ignore=BUILD_LITTER)
        else:
            shutil.copy2(REPO / name, src / name)
    venv = root / "venv"
    r = subprocess.run([sys.executable, "-m", "venv", str(venv)], capture_output=True, text=True,
                       env=_env(), check=False)
    if r.returncode:
        missing("python -m venv", (r.stderr or r.stdout).strip()[-400:])
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    r = subprocess.run([*pip, str(src)], capture_output=True, text=True, env=_env(), cwd=root, timeout=900,
                       check=False)
    if r.returncode:
        if OFFLINE.search(r.stderr):
            missing("the package index", r.stderr.strip()[-400:])
        pytest.fail(f"pip install of the checkout failed:\n{r.stderr[-4000:]}", pytrace=False)
    return venv / "bin"


@pytest.fixture(scope="module")
def dumps(lab: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, str, bytes]]:
    """name -> (dump, ``detect``'s answer, the log it must give)."""
    tmp = tmp_path_factory.mktemp("formats")
    run, qemu = lab.crash(KERNEL, "null"), lab.crash(KERNEL, "null", variant="qemu")
    rhel, debian = run.path("rhel/vmcore-dmesg.txt").read_bytes(), run.path("debian/dmesg").read_bytes()
    dump.reassemble(run.path("debian/dump"), tmp / "vmcore-zlib")
    for codec in ("snappy", "zstd"):
        synth.recompress(run.path("rhel/vmcore"), tmp / f"vmcore-{codec}", codec)
    (tmp / "dump.lz4").write_bytes(lz4.frame.compress(run.path("debian/dump").read_bytes()))
    (tmp / "vmcore.zst").write_bytes(zstandard.ZstdCompressor(level=1).compress(
        run.path("rhel/vmcore").read_bytes()))
    qemu_log = dump.dmesg(qemu.path("qemu/dump.elf"))
    return {
        "kdump-lzo": (run.path("rhel/vmcore"), "kdump", rhel),
        "kdump-zlib": (tmp / "vmcore-zlib", "kdump", debian),
        "kdump-snappy": (tmp / "vmcore-snappy", "kdump", rhel),
        "kdump-zstd": (tmp / "vmcore-zstd", "kdump", rhel),
        "elf": (run.path("elf/vmcore"), "elf", run.path("elf/vmcore-dmesg.txt").read_bytes()),
        "flat-ssh-lzo": (run.path("rhel-ssh/vmcore.flat"), "flat-kdump",
                         run.path("rhel-ssh/vmcore-dmesg.txt").read_bytes()),
        "flat-debian-zlib": (run.path("debian/dump"), "flat-kdump", debian),
        "qemu-elf": (qemu.path("qemu/dump.elf"), "qemu-elf", qemu_log),
        "qemu-kdump-zlib": (qemu.path("qemu/dump.kdump-zlib"), "flat-kdump", qemu_log),
        "flat-debian+lz4": (tmp / "dump.lz4", "flat-kdump+lz4", debian),
        "kdump-lzo+zstd": (tmp / "vmcore.zst", "kdump+zstd", rhel),
    }


def test_plain_install_has_no_extras(plain: Path) -> None:
    """The venv runs its own copy, and python-lzo (the sdist the codecs used to need) is not in it."""
    code = ("import crashhub, importlib.util as u; "
            "print(crashhub.__file__, u.find_spec('lzo') is None, u.find_spec('fastapi') is None)")
    r = subprocess.run([str(plain / "python"), "-c", code], capture_output=True, text=True, env=_env(),
                       check=True)
    where, no_lzo, no_hub = r.stdout.split()
    assert Path(where).is_relative_to(plain.parent) and no_lzo == no_hub == "True"


@pytest.mark.parametrize("name", NAMES)
def test_plain_install_reads(plain: Path, dumps: dict[str, tuple[Path, str, bytes]], name: str) -> None:
    path, fmt, log = dumps[name]
    assert dump.detect(path) == fmt
    r = subprocess.run([str(plain / "crashhub"), "dump", "dmesg", str(path)], capture_output=True,
                       env=_env(), check=False)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    assert r.stdout == log
    r = subprocess.run([str(plain / "crashhub"), "dump", "info", "--json", str(path)], capture_output=True,
                       text=True, env=_env(), check=False)
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info == json.loads(json.dumps(dump.facts(path).to_dict()))
    assert not info["warnings"]
