"""The debuginfo store: RPM / deb / tree / bare vmlinux imports, matching, and hostile input."""

from __future__ import annotations

import gzip
import io
import lzma
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest
from tests.debuginfo.pkgs import RELEASE, ar, build_deb, build_kernel, build_rpm, write_archive

from crashhub.cli import main as cli
from crashhub.debuginfo import DebuginfoStore, Limits, check_vmlinux
from crashhub.debuginfo import _elf as elf
from crashhub.debuginfo import _rpm as rpm
from crashhub.errors import DebuginfoError

MOD = f"usr/lib/debug/lib/modules/{RELEASE}/kernel/drivers/test/crashmod.ko"


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return build_kernel(tmp_path_factory.mktemp("kernel"))


@pytest.fixture(scope="module")
def rpm_zstd(tmp_path_factory: pytest.TempPathFactory, kernel: tuple[Path, Path]) -> Path:
    return build_rpm(tmp_path_factory.mktemp("rpm"), kernel[0], [kernel[1]])


@pytest.fixture(scope="module")
def deb_xz(tmp_path_factory: pytest.TempPathFactory, kernel: tuple[Path, Path]) -> Path:
    return build_deb(tmp_path_factory.mktemp("deb"),
                     {f"usr/lib/debug/boot/vmlinux-{RELEASE}": kernel[0], MOD: kernel[1]})


def _clean(store: DebuginfoStore) -> None:
    """Nothing half-imported: no entry, and no staging left in .tmp."""
    assert store.list() == []
    tmp = store.root / ".tmp"
    assert not tmp.exists() or list(tmp.iterdir()) == []


def test_elf_build_id_and_release(kernel: tuple[Path, Path]) -> None:
    v, m = kernel
    out = subprocess.run(["readelf", "-n", str(v)], capture_output=True, text=True, check=True).stdout
    want = out.split("Build ID:")[1].split()[0]
    assert elf.build_id(v) == want
    assert elf.kernel_release(v) == RELEASE
    assert elf.kernel_release(m) == RELEASE  # from .modinfo vermagic=
    assert elf.read_elf(v).has_debug_info


@pytest.mark.parametrize(("payload", "compressor"), [("w3.zstdio", "zstd"), ("w6.xzdio", "xz"),
                                                     ("w9.gzdio", "gzip")])
def test_rpm_imports_and_matches_by_build_id(tmp_path: Path, kernel: tuple[Path, Path], payload: str,
                                             compressor: str) -> None:
    pkg = build_rpm(tmp_path, kernel[0], [kernel[1]], payload=payload)
    info = rpm.info(pkg)
    assert (info.name, info.version, info.release, info.arch) == (
        "kernel-debuginfo", "9.9.9", "1.test", "x86_64")
    assert info.payload_compressor == compressor
    store = DebuginfoStore(tmp_path / "store")
    [e] = store.import_path(pkg)
    bid = elf.build_id(kernel[0])
    assert e.id == bid and e.release == RELEASE and e.kind == "rpm"
    assert e.package == "kernel-debuginfo-9.9.9-1.test.x86_64"
    assert store.find(build_id=bid) == e.vmlinux
    assert e.vmlinux.read_bytes() == kernel[0].read_bytes()
    [(mrel, mbid)] = e.modules.items()
    assert mrel == "kernel/drivers/test/crashmod.ko.debug" and mbid == elf.build_id(kernel[1])
    assert store.find(build_id=mbid) == e.dir / "modules" / mrel
    assert store.find(release=RELEASE) == e.vmlinux
    m = store.check({"build_id": bid, "release": RELEASE})
    assert m.ok and m.by == "build-id" and m.entry == e


def test_mismatching_build_id_is_refused_with_reason(tmp_path: Path, kernel: tuple[Path, Path],
                                                     rpm_zstd: Path) -> None:
    store = DebuginfoStore(tmp_path / "store")
    store.import_path(rpm_zstd)
    m = store.check({"build_id": "ab" * 20, "release": RELEASE})
    assert not m.ok and "different build of the same version" in m.reason and "ab" * 20 in m.reason
    m = store.check({"build_id": "cd" * 20, "release": "1.2.3"})
    assert not m.ok and "no debuginfo" in m.reason
    m = store.check({"release": RELEASE})
    assert m.ok and m.by == "release"
    ready = store.readiness([{"release": RELEASE, "build_id": elf.build_id(kernel[0])},
                             {"release": "6.1.0-1-amd64", "build_id": None}])
    assert [(r["ok"], r["alert"]) for r in ready] == [(True, False), (False, True)]
    # A vmlinux given by hand is checked the same way.
    other, _ = build_kernel(tmp_path / "other", salt="rebuilt")
    m = check_vmlinux(other, elf.build_id(kernel[0]), RELEASE)
    assert not m.ok and "build-id mismatch" in m.reason and "a different build" in m.reason
    assert check_vmlinux(kernel[0], elf.build_id(kernel[0]), RELEASE).ok


def test_deb_imports(tmp_path: Path, deb_xz: Path, kernel: tuple[Path, Path]) -> None:
    store = DebuginfoStore(tmp_path / "store")
    [e] = store.import_path(deb_xz)
    assert e.kind == "deb" and e.package == "linux-image-test-dbg 9.9.9-1" and e.release == RELEASE
    assert list(e.modules) == ["kernel/drivers/test/crashmod.ko"]
    # Importing again gives the same entry, not a second copy.
    assert store.import_path(deb_xz) == [e] and len(store.list()) == 1


@pytest.mark.parametrize("compressor", ["gzip", "zstd", "none"])
def test_deb_compressors(tmp_path: Path, kernel: tuple[Path, Path], compressor: str) -> None:
    pkg = build_deb(tmp_path, {f"usr/lib/debug/boot/vmlinux-{RELEASE}": kernel[0]}, compressor=compressor)
    [e] = DebuginfoStore(tmp_path / "store").import_path(pkg)
    assert e.id == elf.build_id(kernel[0])


def test_tree_and_bare_vmlinux(tmp_path: Path, kernel: tuple[Path, Path]) -> None:
    tree = tmp_path / "tree"
    (tree / "boot").mkdir(parents=True)
    shutil.copy(kernel[0], tree / "boot" / f"vmlinux-{RELEASE}")
    (tree / f"lib/modules/{RELEASE}/extra").mkdir(parents=True)
    shutil.copy(kernel[1], tree / f"lib/modules/{RELEASE}/extra/crashmod.ko")
    (tree / "README").write_text("not kept")
    [e] = DebuginfoStore(tmp_path / "s1").import_path(tree)
    assert e.kind == "dir" and list(e.modules) == ["extra/crashmod.ko"]
    assert sorted(p.name for p in e.dir.rglob("*") if p.is_file()) == ["crashmod.ko", "meta.json", "vmlinux"]
    data = kernel[0].read_bytes()
    (tmp_path / "vmlinux.gz").write_bytes(gzip.compress(data))
    (tmp_path / "vmlinux.xz").write_bytes(lzma.compress(data))
    for i, name in enumerate(["vmlinux.gz", "vmlinux.xz"]):
        [b] = DebuginfoStore(tmp_path / f"b{i}").import_path(tmp_path / name)
        assert b.kind == "vmlinux" and b.id == e.id and b.vmlinux.read_bytes() == data


def test_stripped_or_foreign_files_are_refused(tmp_path: Path, kernel: tuple[Path, Path]) -> None:
    stripped = tmp_path / "vmlinux"
    subprocess.run(["objcopy", "--strip-debug", str(kernel[0]), str(stripped)], check=True)
    store = DebuginfoStore(tmp_path / "store")
    with pytest.raises(DebuginfoError, match="no DWARF"):
        store.import_path(stripped)
    (tmp_path / "junk").write_bytes(b"hello world, not a package")
    with pytest.raises(DebuginfoError, match=r"not an RPM, a \.deb"):
        store.import_path(tmp_path / "junk")
    _clean(store)


def test_truncated_rpm_and_deb(tmp_path: Path, rpm_zstd: Path, deb_xz: Path) -> None:
    store = DebuginfoStore(tmp_path / "store")
    for pkg in (rpm_zstd, deb_xz):
        data = pkg.read_bytes()
        for cut in (50, 200, len(data) // 2, len(data) - 40):
            bad = tmp_path / f"cut{cut}{pkg.suffix}"
            bad.write_bytes(data[:cut])
            with pytest.raises(DebuginfoError) as ei:
                store.import_path(bad)
            assert str(bad) in str(ei.value)
            _clean(store)


def _rpm_with_payload(tmp_path: Path, good: Path, payload: bytes) -> Path:
    off = rpm.info(good).payload_offset
    bad = tmp_path / "evil.rpm"
    bad.write_bytes(good.read_bytes()[:off] + payload)
    return bad


@pytest.mark.parametrize("name", ["./usr/lib/debug/../../../../etc/vmlinux", "/usr/lib/debug/vmlinux",
                                  "../vmlinux"])
def test_traversal_entries_refuse_the_package(tmp_path: Path, rpm_zstd: Path, kernel: tuple[Path, Path],
                                              name: str) -> None:
    store = DebuginfoStore(tmp_path / "store")
    body = kernel[0].read_bytes()
    cpio = write_archive(tmp_path / "p.cpio.gz", "cpio_newc", "gzip",
                         {"./usr/lib/debug/ok.ko": b"x", name: body})
    with pytest.raises(DebuginfoError, match=r"absolute path|climbs out"):
        store.import_path(_rpm_with_payload(tmp_path, rpm_zstd, cpio.read_bytes()))
    _clean(store)
    tar = write_archive(tmp_path / "data.tar.gz", "ustar", "gzip", {name: body})
    deb = ar(tmp_path / "evil.deb", {"debian-binary": b"2.0\n", "data.tar.gz": tar.read_bytes()})
    with pytest.raises(DebuginfoError, match=r"absolute path|climbs out"):
        store.import_path(deb)
    _clean(store)
    assert not (tmp_path.parent / "etc").exists()


def test_decompression_bomb_stops_early(tmp_path: Path, rpm_zstd: Path) -> None:
    limits = Limits(ratio_floor=1 << 20, max_ratio=50)
    store = DebuginfoStore(tmp_path / "store", limits)
    zeros = b"\0" * (64 << 20)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        ti = tarfile.TarInfo(f"./usr/lib/debug/boot/vmlinux-{RELEASE}")
        ti.size = len(zeros)
        t.addfile(ti, io.BytesIO(zeros))
    assert len(buf.getvalue()) < 200_000
    deb = ar(tmp_path / "bomb.deb", {"debian-binary": b"2.0\n", "data.tar.gz": buf.getvalue()})
    with pytest.raises(DebuginfoError, match="decompression bomb"):
        store.import_path(deb)
    _clean(store)
    (tmp_path / "vmlinux.gz").write_bytes(gzip.compress(zeros))
    with pytest.raises(DebuginfoError, match="decompression bomb"):
        store.import_path(tmp_path / "vmlinux.gz")
    _clean(store)
    cpio = write_archive(tmp_path / "b.cpio.gz", "cpio_newc", "gzip", {"./usr/lib/debug/vmlinux": zeros})
    with pytest.raises(DebuginfoError, match="decompression bomb"):
        store.import_path(_rpm_with_payload(tmp_path, rpm_zstd, cpio.read_bytes()))
    _clean(store)
    # And an absolute cap, whatever the ratio.
    small = DebuginfoStore(tmp_path / "s2", Limits(max_file=1 << 20))
    with pytest.raises(DebuginfoError, match="per-file limit"):
        small.import_path(tmp_path / "vmlinux.gz")
    _clean(small)


def test_remove_and_gc(tmp_path: Path, rpm_zstd: Path) -> None:
    store = DebuginfoStore(tmp_path / "store")
    [e] = store.import_path(rpm_zstd)
    leftover = store.root / ".tmp" / "999999999-deadbeef"  # a killed import (no such pid)
    (leftover / "files").mkdir(parents=True)
    broken = store.root / ("ab" * 20)
    broken.mkdir()
    gone = store.gc()
    assert "unfinished import 999999999-deadbeef" in gone and f"broken entry {'ab' * 20}" in gone
    assert not leftover.exists() and not broken.exists() and store.list() == [e]
    with pytest.raises(DebuginfoError, match="no debuginfo entry"):
        store.remove("0123456789")
    assert store.remove(e.id[:12]) == e
    _clean(store)


def test_cli(tmp_path: Path, rpm_zstd: Path, deb_xz: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = str(tmp_path / "data")
    assert cli(["debuginfo", "--data", data, "import", str(rpm_zstd)]) == 0
    bid = elf.build_id(Path(data) / "debuginfo" / capsys.readouterr().out.split()[0] / "vmlinux")
    assert cli(["debuginfo", "--data", data, "list"]) == 0
    out = capsys.readouterr().out
    assert bid is not None and bid in out and RELEASE in out and "kernel-debuginfo-9.9.9" in out
    assert cli(["debuginfo", "--data", data, "import", str(tmp_path / "missing.rpm")]) == 2
    assert "no such file" in capsys.readouterr().err
    os.environ["CRASHHUB_DATA"] = data
    try:
        assert cli(["debuginfo", "remove", bid]) == 0
    finally:
        del os.environ["CRASHHUB_DATA"]
    assert cli(["debuginfo", "--data", data, "gc"]) == 0
    assert cli(["debuginfo", "--data", data, "list"]) == 0
    assert "(no debuginfo)" in capsys.readouterr().out


def test_source_tarball(tmp_path: Path) -> None:
    store = DebuginfoStore(tmp_path / "store")
    tb = write_archive(tmp_path / "linux-9.9.tar.xz", "ustar", "xz",
                       {"linux-9.9/fs/ext4/inode.c": b"int x;\n", "linux-9.9/MAINTAINERS": b"EXT4\n",
                        "linux-9.9/Documentation/a.rst": b"skipped\n"})
    d = store.import_source(tb, RELEASE)
    assert store.source_dir(RELEASE) == d
    assert sorted(p.relative_to(d).as_posix() for p in d.rglob("*") if p.is_file()) == [
        "MAINTAINERS", "fs/ext4/inode.c"]
    bad = write_archive(tmp_path / "evil.tar.gz", "ustar", "gzip", {"linux/../../x.c": b"x"})
    with pytest.raises(DebuginfoError, match="climbs out"):
        store.import_source(bad, "other")
    assert store.source_dir("other") is None
    with pytest.raises(DebuginfoError, match="bad release"):
        store.import_source(tb, "../x")
