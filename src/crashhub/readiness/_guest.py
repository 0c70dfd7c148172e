"""Build the guest: the crashmod test module and the busybox initramfs.

Shared by the kernel check and the crash lab (lab/build.py caches these per kernel). The initramfs
holds busybox, kexec, makedumpfile and their libraries, the disk's driver modules, the kernel and the
capture image; ``/init`` is ``init.sh`` (both kernels' roles), the test module's source ``crashmod/``.
"""

from __future__ import annotations

import hashlib
import lzma
import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from crashhub.errors import CheckUnavailable

HERE = Path(__file__).resolve().parent
MODULE_SRC = HERE / "crashmod"
INIT_SH = HERE / "init.sh"

# Loaded in this order by /init when they are modules (built-in ones are skipped).
GUEST_MODULES = ("virtio", "virtio_ring", "virtio_pci_legacy_dev", "virtio_pci_modern_dev",
                 "virtio_pci", "virtio_blk", "qemu_fw_cfg")
MAKEDUMPFILE = "/usr/bin/makedumpfile"
HOST_BINARIES = (MAKEDUMPFILE, "/usr/sbin/kexec")
# Optional modules a boot loads only when its lab.conf asks (the lab's crash channels, issue 19:
# netconsole over a virtio NIC, ramoops): listed in /etc/lab-modules-channels, so boots that do not
# ask load exactly what they did before.
CHANNEL_MODULES = ("virtio_net", "netconsole", "ramoops")


def tool(name: str, package: str) -> str:
    """Absolute path of a host tool; /usr/sbin and /sbin are searched too (often not in a user's PATH)."""
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if found is None:
        raise CheckUnavailable(f"{name} is not installed (Debian package {package})")
    return found


def digest(*paths: Path, extra: str = "") -> str:
    h = hashlib.sha256(extra.encode())
    for p in paths:
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:12]


def _cc_override(headers: Path) -> list[str]:
    """``CC=gcc`` when the compiler Debian's headers name (gcc-10 for bullseye's 5.10) is not installed.

    The module is small and plain C; the host's gcc builds it (the kernel warns nothing about it).
    """
    try:
        text = (headers / ".kernelvariables").read_text()
    except OSError:
        return []
    m = re.search(r"^CC = .*?(gcc-\d+)\s*$", text, re.M)
    if m and shutil.which(m.group(1)) is None:
        return ["CC=gcc"]
    return []


def module_sources() -> list[Path]:
    return sorted(p for p in MODULE_SRC.iterdir() if p.is_file())


def build_module(headers: Path, out: Path) -> Path:
    """crashmod.ko built against ``headers`` (a kernel's build tree) into the new directory ``out``."""
    work = out.with_name(out.name + ".tmp")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    for s in module_sources():
        shutil.copy2(s, work / s.name)
    if shutil.which("make") is None or shutil.which("gcc") is None:
        raise CheckUnavailable("make/gcc are needed to build the test module")
    cmd = ["make", "-C", str(headers), f"M={work}", *_cc_override(headers), "modules"]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0 or not (work / "crashmod.ko").exists():
        shutil.rmtree(work, ignore_errors=True)
        raise CheckUnavailable(f"building crashmod.ko failed: {proc.stderr[-800:]}")
    shutil.rmtree(out, ignore_errors=True)
    work.rename(out)
    return out / "crashmod.ko"


def _module_file(modules_dir: Path, name: str) -> Path | None:
    hits = [p for p in modules_dir.rglob(f"{name}.ko*")
            if p.name in (f"{name}.ko", f"{name}.ko.xz")]
    return hits[0] if hits else None


def _module_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    # Debian's 6.12 packages ship modules as .ko.xz; busybox insmod wants them plain.
    return lzma.decompress(data) if path.suffix == ".xz" else data


def _depends(ko: bytes) -> list[str]:
    m = re.search(rb"\x00depends=([^\x00]*)\x00", ko)
    return [d for d in m.group(1).decode().split(",") if d] if m else []


def guest_modules(modules_dir: Path, names: Sequence[str] = GUEST_MODULES,
                  skip: Sequence[str] = ()) -> list[tuple[str, bytes]]:
    """The wanted modules that this kernel builds as modules, dependencies first (minus ``skip``)."""
    ordered: list[tuple[str, bytes]] = []
    seen: set[str] = set(skip)

    def add(name: str) -> None:
        if name in seen:
            return
        seen.add(name)
        path = _module_file(modules_dir, name)
        if path is None:  # built in (6.12 has virtio built in)
            return
        data = _module_bytes(path)
        for dep in _depends(data):
            add(dep)
        ordered.append((name, data))

    for name in names:
        add(name)
    return ordered


def _libs(binary: str) -> list[Path]:
    out = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
    libs = [Path(m.group(1)) for m in re.finditer(r"(/\S+) \(0x", out)]
    return [p for p in libs if p.exists()]


def _copy(src: Path, root: Path) -> None:
    dest = root / src.relative_to("/")
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src.resolve(), dest)


def _cpio(root: Path, out: Path) -> None:
    files = subprocess.run(["find", "."], cwd=root, capture_output=True, text=True, check=True).stdout
    with out.open("wb") as fh:
        subprocess.run(["cpio", "-o", "-H", "newc", "--quiet", "--owner", "0:0"], cwd=root,
                       input=files.encode(), stdout=fh, check=True)


def _base_tree(root: Path, modules: list[tuple[str, bytes]], binaries: Sequence[str],
               optional: list[tuple[str, bytes]]) -> None:
    for d in ("bin", "sbin", "proc", "sys", "dev", "tmp", "mnt", "etc", "lib/modules"):
        (root / d).mkdir(parents=True, exist_ok=True)
    busybox = shutil.which("busybox")
    if busybox is None:
        raise CheckUnavailable("busybox (busybox-static) is not installed")
    shutil.copy2(busybox, root / "bin" / "busybox")
    applets = subprocess.run([busybox, "--list"], capture_output=True, text=True, check=True).stdout.split()
    for a in applets:
        link = root / "bin" / a
        if not link.exists():
            link.symlink_to("busybox")
    for b in binaries:
        # A binary outside the usual places (the fleet's makedumpfile unpacked from its package)
        # keeps its path in the image; /bin/<name> points at it.
        if not Path(b).exists():
            raise CheckUnavailable(f"{b} is not installed")
        _copy(Path(b), root)
        (root / "bin" / Path(b).name).unlink(missing_ok=True)
        (root / "bin" / Path(b).name).symlink_to(b)
        for lib in _libs(b):
            _copy(lib, root)
    names = []
    for name, data in modules:
        (root / "lib" / "modules" / f"{name}.ko").write_bytes(data)
        names.append(name)
    (root / "etc" / "lab-modules").write_text("\n".join(names) + "\n")
    optional_names = []
    for name, data in optional:
        (root / "lib" / "modules" / f"{name}.ko").write_bytes(data)
        optional_names.append(name)
    (root / "etc" / "lab-modules-channels").write_text("\n".join(optional_names) + "\n")
    init = root / "init"
    shutil.copy2(INIT_SH, init)
    init.chmod(0o755)


def build_initramfs(out: Path, *, vmlinuz: Path, modules_dir: Path, module: Path | None,
                    makedumpfile: str = MAKEDUMPFILE, capture_modules: Sequence[str] = GUEST_MODULES,
                    optional_modules: Sequence[str] = ()) -> Path:
    """An uncompressed newc initramfs: busybox, kexec, makedumpfile, modules, the kernel, a capture image.

    The capture kernel gets the same /init without kexec and the kernel (``/boot/capture.img``), with
    ``capture_modules`` (a check leaves the disk driver out to show what its absence looks like).
    ``optional_modules`` (the lab's CHANNEL_MODULES) go in both images, loaded only when lab.conf asks.
    A run appends a small cpio with ``/lab.conf`` (the kernel unpacks concatenated archives).
    """
    work = out.with_suffix(".d")
    shutil.rmtree(work, ignore_errors=True)
    try:
        cap = work / "capture"
        for root, wanted, binaries in ((work / "capture", capture_modules, (makedumpfile,)),
                                       (work / "main", GUEST_MODULES, (makedumpfile, HOST_BINARIES[1]))):
            modules = guest_modules(modules_dir, wanted)
            optional = guest_modules(modules_dir, optional_modules, skip=[n for n, _ in modules])
            _base_tree(root, modules, binaries, optional)
        cap, main = work / "capture", work / "main"
        (main / "boot").mkdir()
        _cpio(cap, main / "boot" / "capture.img")
        shutil.copy2(vmlinuz, main / "boot" / "vmlinuz")
        if module is not None:
            shutil.copy2(module, main / "lib" / "modules" / "crashmod.ko")
        tmp = out.with_suffix(".tmp")
        _cpio(main, tmp)
        tmp.rename(out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return out


def conf_cpio(conf: str) -> bytes:
    """A one-file newc archive holding /lab.conf, appended to the cached initramfs."""
    def entry(name: str, data: bytes, mode: int, ino: int) -> bytes:
        fields = [ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name) + 1, 0]
        head = b"070701" + b"".join(f"{f:08X}".encode() for f in fields)
        blob = head + name.encode() + b"\0"
        blob += b"\0" * (-len(blob) % 4)
        blob += data + b"\0" * (-len(data) % 4)
        return blob

    body = entry("lab.conf", conf.encode(), 0o100644, 1) + entry("TRAILER!!!", b"", 0, 0)
    return body + b"\0" * (-len(body) % 512)
