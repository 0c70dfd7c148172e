"""Build the guest: the crashmod test module and the busybox initramfs (cached per kernel)."""

from __future__ import annotations

import hashlib
import lzma
import re
import shutil
import subprocess
from pathlib import Path

from lab.config import LAB_VERSION, cache_dir
from lab.debs import Kernel, LabUnavailable, locked

HERE = Path(__file__).resolve().parent
MODULE_SRC = HERE / "crashmod"
INIT_SH = HERE / "init.sh"

# Loaded in this order by /init when they are modules (built-in ones are skipped).
GUEST_MODULES = ("virtio", "virtio_ring", "virtio_pci_legacy_dev", "virtio_pci_modern_dev",
                 "virtio_pci", "virtio_blk", "qemu_fw_cfg")
HOST_BINARIES = ("/usr/bin/makedumpfile", "/usr/sbin/kexec")


def _digest(*paths: Path, extra: str = "") -> str:
    h = hashlib.sha256(extra.encode())
    for p in paths:
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:12]


def _cc_override(kernel: Kernel) -> list[str]:
    """``CC=gcc`` when the compiler Debian's headers name (gcc-10 for bullseye's 5.10) is not installed.

    The module is small and plain C; the host's gcc builds it (the kernel warns nothing about it).
    """
    try:
        text = (kernel.headers / ".kernelvariables").read_text()
    except OSError:
        return []
    m = re.search(r"^CC = .*?(gcc-\d+)\s*$", text, re.M)
    if m and shutil.which(m.group(1)) is None:
        return ["CC=gcc"]
    return []


def build_module(kernel: Kernel) -> Path:
    """crashmod.ko for this kernel, rebuilt when its source changes."""
    sources = sorted(p for p in MODULE_SRC.iterdir() if p.is_file())
    tag = _digest(*sources, extra=kernel.release)
    out = cache_dir() / "build" / kernel.release / f"crashmod-{tag}"
    ko = out / "crashmod.ko"
    with locked(cache_dir() / "locks" / f"module-{kernel.release}.lock"):
        if ko.exists():
            return ko
        work = out.with_name(out.name + ".tmp")
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        for s in sources:
            shutil.copy2(s, work / s.name)
        if shutil.which("make") is None or shutil.which("gcc") is None:
            raise LabUnavailable("make/gcc are needed to build the lab's test module")
        cmd = ["make", "-C", str(kernel.headers), f"M={work}", *_cc_override(kernel), "modules"]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0 or not (work / "crashmod.ko").exists():
            raise LabUnavailable(f"building crashmod.ko failed: {proc.stderr[-800:]}")
        shutil.rmtree(out, ignore_errors=True)
        work.rename(out)
    return ko


def _module_file(kernel: Kernel, name: str) -> Path | None:
    hits = [p for p in kernel.modules_dir().rglob(f"{name}.ko*")
            if p.name in (f"{name}.ko", f"{name}.ko.xz")]
    return hits[0] if hits else None


def _module_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    # Debian's 6.12 packages ship modules as .ko.xz; busybox insmod wants them plain.
    return lzma.decompress(data) if path.suffix == ".xz" else data


def _depends(ko: bytes) -> list[str]:
    m = re.search(rb"\x00depends=([^\x00]*)\x00", ko)
    return [d for d in m.group(1).decode().split(",") if d] if m else []


def _guest_modules(kernel: Kernel) -> list[tuple[str, bytes]]:
    """The wanted modules that this kernel builds as modules, dependencies first."""
    ordered: list[tuple[str, bytes]] = []
    seen: set[str] = set()

    def add(name: str) -> None:
        if name in seen:
            return
        seen.add(name)
        path = _module_file(kernel, name)
        if path is None:  # built in (6.12 has virtio built in)
            return
        data = _module_bytes(path)
        for dep in _depends(data):
            add(dep)
        ordered.append((name, data))

    for name in GUEST_MODULES:
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


def _base_tree(root: Path, kernel: Kernel, binaries: tuple[str, ...]) -> None:
    for d in ("bin", "sbin", "proc", "sys", "dev", "tmp", "mnt", "etc", "lib/modules"):
        (root / d).mkdir(parents=True, exist_ok=True)
    busybox = shutil.which("busybox")
    if busybox is None:
        raise LabUnavailable("busybox (busybox-static) is not installed")
    shutil.copy2(busybox, root / "bin" / "busybox")
    applets = subprocess.run([busybox, "--list"], capture_output=True, text=True, check=True).stdout.split()
    for a in applets:
        link = root / "bin" / a
        if not link.exists():
            link.symlink_to("busybox")
    for b in binaries:
        if not Path(b).exists():
            raise LabUnavailable(f"{b} is not installed")
        _copy(Path(b), root)
        (root / "bin" / Path(b).name).unlink(missing_ok=True)
        (root / "bin" / Path(b).name).symlink_to(b)
        for lib in _libs(b):
            _copy(lib, root)
    names = []
    for name, data in _guest_modules(kernel):
        (root / "lib" / "modules" / f"{name}.ko").write_bytes(data)
        names.append(name)
    (root / "etc" / "lab-modules").write_text("\n".join(names) + "\n")
    init = root / "init"
    shutil.copy2(INIT_SH, init)
    init.chmod(0o755)


def build_initramfs(kernel: Kernel, module: Path) -> Path:
    """An uncompressed newc initramfs: busybox, kexec, makedumpfile, modules, the kernel, a capture image.

    The capture kernel gets the same /init without kexec and the kernel (``/boot/capture.img``).
    A run appends a small cpio with ``/lab.conf`` (the kernel unpacks concatenated archives).
    """
    tag = _digest(INIT_SH, module, extra=f"{LAB_VERSION} {kernel.release} {kernel.version}")
    out = cache_dir() / "build" / kernel.release / f"initramfs-{tag}.cpio"
    with locked(cache_dir() / "locks" / f"initramfs-{kernel.release}.lock"):
        if out.exists():
            return out
        work = out.with_suffix(".d")
        shutil.rmtree(work, ignore_errors=True)
        cap = work / "capture"
        _base_tree(cap, kernel, ("/usr/bin/makedumpfile",))
        main = work / "main"
        _base_tree(main, kernel, HOST_BINARIES)
        (main / "boot").mkdir()
        _cpio(cap, main / "boot" / "capture.img")
        shutil.copy2(kernel.vmlinuz, main / "boot" / "vmlinuz")
        shutil.copy2(module, main / "lib" / "modules" / "crashmod.ko")
        tmp = out.with_suffix(".tmp")
        _cpio(main, tmp)
        tmp.rename(out)
        shutil.rmtree(work)
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
