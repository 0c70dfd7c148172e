"""The kernel as the fleet gets it: unpack its packages and find the release, vmlinuz, modules and headers.

A Debian ``linux-image-*`` deb (with, optionally, its ``linux-headers-*`` and ``linux-kbuild-*`` debs),
RPMs (``kernel-core`` + ``kernel-modules``, optionally ``kernel-devel``), or a directory holding
vmlinuz, ``lib/modules/<release>`` and System.map. Packages are unpacked with the distribution's own
tools (``dpkg-deb -x``, ``rpm2cpio | cpio``) into the check's work directory, never onto the host.
"""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from crashhub.errors import InputError
from crashhub.readiness._guest import tool

DEB_MAGIC = b"!<arch>\n"
RPM_MAGIC = b"\xed\xab\xee\xdb"
MAX_PACKAGES = 16
# The packages' bytes; unpacked (modules, headers) a kernel is a few times its packages.
MAX_PACKAGE_BYTES = 4 << 30


@dataclass(frozen=True, slots=True)
class KernelTree:
    """One unpacked kernel."""

    release: str  # uname -r
    tree: Path  # where it was unpacked (or the directory given)
    vmlinuz: Path
    modules_dir: Path  # lib/modules/<release>
    system_map: Path | None
    headers: Path | None  # a build tree to make the test module against (None: no headers given)
    names: tuple[str, ...]  # the file names given
    digest: str  # sha256 over the packages' bytes (a directory: its vmlinuz, System.map, module list)


def _sha256(paths: Sequence[Path], h: hashlib._Hash | None = None) -> str:
    h = h or hashlib.sha256()
    for p in paths:
        h.update(p.name.encode() + b"\0")
        with p.open("rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
    return h.hexdigest()


def package_kind(path: Path) -> str:
    """"deb", "rpm" or "dir", or a one-line error naming the file."""
    if path.is_dir():
        return "dir"
    try:
        with path.open("rb") as f:
            head = f.read(8)
    except OSError as e:
        raise InputError(f"cannot read: {e.strerror}", path) from None
    if head == DEB_MAGIC:
        return "deb"
    if head[:4] == RPM_MAGIC:
        return "rpm"
    raise InputError("not a .deb, an RPM or a directory", path)


def unpack_deb(deb: Path, tree: Path) -> None:
    """``dpkg-deb -x`` (the lab unpacks its Debian kernels the same way)."""
    proc = subprocess.run([tool("dpkg-deb", "dpkg"), "-x", str(deb), str(tree)], capture_output=True,
                          text=True, check=False)
    if proc.returncode != 0:
        raise InputError(f"dpkg-deb -x failed: {proc.stderr.strip()[-300:]}", deb)


def _unpack_rpm(rpm: Path, tree: Path) -> None:
    rpm2cpio = tool("rpm2cpio", "rpm2cpio")
    cpio = tool("cpio", "cpio")
    with subprocess.Popen([rpm2cpio, str(rpm)], stdout=subprocess.PIPE, stderr=subprocess.PIPE) as src:
        proc = subprocess.run([cpio, "-idm", "--quiet", "--no-absolute-filenames"], cwd=tree,
                              stdin=src.stdout, capture_output=True, text=True, check=False)
        if src.stdout is not None:
            src.stdout.close()
        src.wait()
    if src.returncode != 0 or proc.returncode != 0:
        raise InputError(f"rpm2cpio | cpio failed: {proc.stderr.strip()[-300:]}", rpm)


def point_headers_at(tree: Path, release: str) -> None:
    """Debian's headers Makefile includes the -common tree by an absolute /usr/src path: point it here."""
    make = tree / "usr" / "src" / f"linux-headers-{release}" / "Makefile"
    if make.is_file():
        text = make.read_text()
        make.write_text(text.replace("include /usr/src/", f"include {tree}/usr/src/"))


def _inside(tree: Path, link: Path) -> Path | None:
    """Where a (possibly absolute, possibly dangling) link of the unpacked tree points inside it."""
    if not link.is_symlink():
        return link if link.is_dir() else None
    target = Path(str(link.readlink()))
    p = tree / target.relative_to("/") if target.is_absolute() else (link.parent / target)
    return p if p.is_dir() else None


def _release(tree: Path, given: Sequence[Path]) -> tuple[str, Path]:
    roots = [tree / "lib" / "modules", tree / "usr" / "lib" / "modules"]
    # A headers package makes lib/modules/<release>/build alone: a kernel's directory has modules.
    found = [d for r in roots if r.is_dir() for d in sorted(r.iterdir())
             if d.is_dir() and not d.is_symlink() and ((d / "kernel").is_dir() or (d / "vmlinuz").is_file())]
    releases = sorted({d.name for d in found})
    if len(releases) != 1:
        names = ", ".join(p.name for p in given)
        raise InputError(f"{names}: expected one kernel's lib/modules/<release>, found "
                         f"{', '.join(releases) or 'none'}")
    rel = releases[0]
    return rel, next(d for d in found if d.name == rel)


def _first(*paths: Path) -> Path | None:
    return next((p for p in paths if p.is_file()), None)


def find_kernel(tree: Path, given: Sequence[Path], digest: str) -> KernelTree:
    """The kernel an unpacked tree (or a directory given as it is) holds."""
    release, modules = _release(tree, given)
    vmlinuz = _first(tree / "boot" / f"vmlinuz-{release}", modules / "vmlinuz", tree / "vmlinuz",
                     tree / f"vmlinuz-{release}")
    if vmlinuz is None:
        raise InputError(f"no vmlinuz for {release} (boot/vmlinuz-{release} or "
                         f"lib/modules/{release}/vmlinuz)", tree if given[0].is_dir() else given[0])
    system_map = _first(tree / "boot" / f"System.map-{release}", modules / "System.map", tree / "System.map")
    headers = (_inside(tree, modules / "build")
               or next((p for p in (tree / "usr" / "src" / f"linux-headers-{release}",
                                    tree / "usr" / "src" / "kernels" / release) if p.is_dir()), None))
    if headers is not None and not (headers / "Makefile").is_file():
        headers = None
    return KernelTree(release, tree, vmlinuz, modules, system_map, headers,
                      tuple(p.name for p in given), digest)


def unpack(packages: Sequence[Path], work: Path) -> KernelTree:
    """Unpack the packages given into ``work/kernel`` (a directory is used where it is)."""
    if not packages:
        raise InputError("no kernel package given")
    if len(packages) > MAX_PACKAGES:
        raise InputError(f"{len(packages)} packages given; at most {MAX_PACKAGES}")
    kinds = {p: package_kind(p) for p in packages}
    size = sum(p.stat().st_size for p in packages if kinds[p] != "dir")
    if size > MAX_PACKAGE_BYTES:
        raise InputError(f"the packages hold {size >> 20} MiB; at most {MAX_PACKAGE_BYTES >> 20} MiB")
    if "dir" in kinds.values():
        if len(packages) != 1:
            raise InputError("a kernel directory is given alone", packages[0])
        d = packages[0]
        listing = "\n".join(sorted(str(p.relative_to(d)) for p in d.rglob("*.ko*"))).encode()
        h = hashlib.sha256(listing)
        kt = find_kernel(d, packages, "")
        return find_kernel(d, packages, _sha256([p for p in (kt.vmlinuz, kt.system_map) if p], h))
    tree = work / "kernel"
    tree.mkdir(parents=True, exist_ok=True)
    for p in packages:
        if kinds[p] == "deb":
            unpack_deb(p, tree)
        else:
            _unpack_rpm(p, tree)
    kt = find_kernel(tree, packages, _sha256(sorted(packages, key=lambda p: p.name)))
    point_headers_at(tree, kt.release)
    return kt
