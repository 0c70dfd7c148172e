"""The lab's pure parts, without QEMU: kind table, file names, the appended cpio, module deps."""

from __future__ import annotations

import re
import struct
import subprocess
from pathlib import Path

import pytest
from lab.config import FAMILIES
from lab.debs import RunFailed, known
from lab.kinds import KINDS
from lab.run import ALIASES, CI_CORE, FILE_GLOBS, FORMATS, VARIANTS, LabRun, _link_text

from crashhub.readiness import _guest as guest

README = Path(__file__).resolve().parents[2] / "lab" / "README.md"


def test_every_kind_has_patterns_and_a_readme_row() -> None:
    text = README.read_text()
    for name, k in KINDS.items():
        assert k.name == name
        assert k.log_patterns, name
        for p in k.log_patterns:
            re.compile(p)
        assert f"| {name} |" in text, f"{name} missing from lab/README.md's kind table"
        assert not k.needs_module or "/proc/crashmod" in k.trigger or k.needs_module is False
        assert k.kernels and set(k.kernels) <= set(FAMILIES), name
        assert k.nmi_after is None or re.compile(k.nmi_after)


def test_logical_names_are_documented() -> None:
    text = README.read_text()
    for name in [*FILE_GLOBS, *ALIASES]:
        if name not in ("console.log", "crashmod.ko"):
            assert f"`{name}`" in text, f"{name} missing from lab/README.md"
    assert set(FORMATS) <= set(FILE_GLOBS)
    for kern, kind, variant, _ in CI_CORE:
        assert kind in KINDS and variant in VARIANTS and kern in ("6.1", "6.12")


def test_conf_cpio_is_read_by_cpio(tmp_path: Path) -> None:
    blob = guest.conf_cpio("MODE=kdump\nTRIGGER='echo c > /proc/sysrq-trigger'\n")
    assert len(blob) % 512 == 0
    out = subprocess.run(["cpio", "-i", "--quiet", "-d"], cwd=tmp_path, input=blob, check=True,
                         capture_output=True)
    assert out.returncode == 0
    assert (tmp_path / "lab.conf").read_text().startswith("MODE=kdump\n")


def test_module_depends_from_modinfo() -> None:
    ko = b"\x7fELF....\x00license=GPL\x00depends=virtio,virtio_ring\x00retpoline=Y\x00"
    assert guest._depends(ko) == ["virtio", "virtio_ring"]
    assert guest._depends(b"\x00depends=\x00") == []
    assert guest._depends(b"no modinfo") == []


def test_link_text_reads_first_pt_load(tmp_path: Path) -> None:
    ehdr = bytearray(64)
    ehdr[:5] = b"\x7fELF\x02"
    struct.pack_into("<Q", ehdr, 0x20, 64)  # e_phoff
    struct.pack_into("<HH", ehdr, 0x36, 56, 2)  # e_phentsize, e_phnum
    note = struct.pack("<II6Q", 4, 0, 0, 0xFFFFFFFF80000000, 0, 0, 0, 0)
    load = struct.pack("<II6Q", 1, 5, 0x200000, 0xFFFFFFFF81000000, 0x1000000, 0, 0, 0)
    f = tmp_path / "vmlinux"
    f.write_bytes(bytes(ehdr) + note + load)
    assert _link_text(f) == 0xFFFFFFFF81000000
    f.write_bytes(b"not an elf")
    assert _link_text(f) is None


def test_labrun_path_names_missing_file(tmp_path: Path) -> None:
    run = LabRun(tmp_path, {"kind": "null", "variant": None, "kernel": {"key": "6.1", "vmlinux": "/x"},
                            "files": {"elf/vmcore": {"path": "elf/127.0.0.1-x/vmcore", "size": 1}}})
    assert run.path("elf/vmcore.elf") == tmp_path / "elf/127.0.0.1-x/vmcore"
    with pytest.raises(FileNotFoundError, match=r"qemu/dump\.elf"):
        run.path("qemu/dump.elf")


@pytest.mark.parametrize(("key", "good", "bad"), [
    ("6.1", "6.1.0-57-cloud-amd64", "6.2.0-1-cloud-amd64"),
    ("6.12", "6.12.118+deb12-cloud-amd64", "6.12.118-cloud-amd64"),
    ("5.10", "5.10.0-32-cloud-amd64", "5.10.0-32-amd64"),
])
def test_a_kernel_the_lab_does_not_know_fails(key: str, good: str, bad: str) -> None:
    """Debian moves each family's meta-package (6.1.0-56 -> 57 in a week): a new release of the same
    line is data; a release of another line is a failure that names the family, never a skip."""
    known(FAMILIES[key], good)
    with pytest.raises(RunFailed, match=f"family {key} now resolves to"):
        known(FAMILIES[key], bad)
