"""Builders for test debuginfo: a tiny kernel-like ELF pair, RPMs (rpmbuild), debs (dpkg-deb) and
hand-made hostile archives (libarchive's writer)."""

from __future__ import annotations

import shutil
import subprocess
import textwrap
from pathlib import Path

RELEASE = "9.9.9-1.test.x86_64"


def build_kernel(d: Path, release: str = RELEASE, salt: str = "") -> tuple[Path, Path]:
    """A ``vmlinux`` (linked, with DWARF, build-id and a Linux banner) and a module ``.ko``."""
    d.mkdir(parents=True, exist_ok=True)
    (d / "v.c").write_text(
        f'const char linux_banner[] = "Linux version {release} (me@build) (gcc) #1 SMP {salt}\\n";\n'
        "int main(void) { return linux_banner[0]; }\n")
    (d / "m.c").write_text(
        '__attribute__((section(".modinfo"), used)) static const char vm[] = '
        f'"vermagic={release} SMP mod_unload ";\n'
        "int crashmod_fn(int x) { return x + 1; }\n")
    subprocess.run(["gcc", "-g", "-O0", "-Wl,--build-id", "-o", str(d / "vmlinux"), str(d / "v.c")],
                   check=True)
    subprocess.run(["gcc", "-g", "-c", "-o", str(d / "m.o"), str(d / "m.c")], check=True)
    subprocess.run(["ld", "-r", "--build-id", "-o", str(d / "crashmod.ko"), str(d / "m.o")], check=True)
    return d / "vmlinux", d / "crashmod.ko"


def build_rpm(work: Path, vmlinux: Path, modules: list[Path], *, version: str = "9.9.9",
              release: str = "1.test", payload: str = "w3.zstdio") -> Path:
    """kernel-debuginfo-<version>-<release>.x86_64.rpm with the files where RHEL puts them."""
    if shutil.which("rpmbuild") is None:
        raise RuntimeError("rpmbuild is not installed (Debian package 'rpm')")
    krel = f"{version}-{release}.x86_64"
    top = work / "rpmbuild"
    for sub in ("SPECS", "SOURCES", "BUILD", "RPMS", "SRPMS", "BUILDROOT"):
        (top / sub).mkdir(parents=True, exist_ok=True)
    installs = [f"install -D -m 0644 {vmlinux} %{{buildroot}}/usr/lib/debug/lib/modules/{krel}/vmlinux"]
    files = [f"/usr/lib/debug/lib/modules/{krel}/vmlinux"]
    for m in modules:
        dst = f"/usr/lib/debug/lib/modules/{krel}/kernel/drivers/test/{m.name}.debug"
        installs.append(f"install -D -m 0644 {m} %{{buildroot}}{dst}")
        files.append(dst)
    spec = top / "SPECS" / "kdi.spec"
    spec.write_text(textwrap.dedent("""\
        %global debug_package %{nil}
        %global __os_install_post %{nil}
        %global __strip /bin/true
        %global _build_id_links none
        Name: kernel-debuginfo
        Version: VERSION
        Release: RELEASE
        Summary: test kernel debuginfo
        License: GPL-2.0
        BuildArch: x86_64
        AutoReqProv: no
        %description
        test
        %install
        INSTALLS
        %files
        FILES
        """).replace("VERSION", version).replace("RELEASE", release)
        .replace("INSTALLS", "\n".join(installs)).replace("FILES", "\n".join(files)))
    subprocess.run(["rpmbuild", "-bb", "--quiet", "--define", f"_topdir {top}",
                    "--define", f"_binary_payload {payload}", "--target", "x86_64", str(spec)],
                   check=True, capture_output=True)
    return next((top / "RPMS").rglob("*.rpm"))


def build_deb(work: Path, files: dict[str, Path], *, name: str = "linux-image-test-dbg",
              compressor: str = "xz") -> Path:
    """A .deb whose data.tar holds ``files`` (path in the package -> source file)."""
    root = work / f"debroot-{name}"
    (root / "DEBIAN").mkdir(parents=True, exist_ok=True)
    (root / "DEBIAN" / "control").write_text(
        f"Package: {name}\nVersion: 9.9.9-1\nArchitecture: amd64\nMaintainer: t <t@t>\n"
        "Description: test\n")
    for rel, src in files.items():
        dst = root / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
    out = work / f"{name}.deb"
    subprocess.run(["dpkg-deb", f"-Z{compressor}", "--root-owner-group", "--build", str(root), str(out)],
                   check=True, capture_output=True)
    return out


def write_archive(path: Path, fmt: str, filt: str, entries: dict[str, bytes]) -> Path:
    """An archive (``cpio_newc``/``ustar``, ``gzip``/``none``) with entries named exactly as given."""
    import libarchive  # noqa: PLC0415  (only the tests that write archives need it)

    with libarchive.file_writer(str(path), fmt, filt) as a:
        for name, data in entries.items():
            a.add_file_from_memory(name, len(data), data)
    return path


def ar(path: Path, members: dict[str, bytes]) -> Path:
    """An ar archive (the .deb container) with the given members, in order."""
    out = bytearray(b"!<arch>\n")
    for name, data in members.items():
        hdr = f"{name:<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(data):<10}`\n".encode()
        out += hdr + data + (b"\n" if len(data) % 2 else b"")
    path.write_bytes(bytes(out))
    return path
