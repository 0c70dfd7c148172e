"""The lab's builds of the guest, cached per kernel: the test module and the initramfs.

The builders are crashhub's (``crashhub.readiness``, shared with ``crashhub kernel check``); the lab
keeps their results in ``<cache>/build/<release>/`` under digests of what went in, so a cached
initramfs stays valid as long as ``init.sh``, the module and LAB_VERSION are unchanged.
"""

from __future__ import annotations

from pathlib import Path

from crashhub.readiness import CHANNEL_MODULES, INIT_SH, conf_cpio, digest, module_sources
from crashhub.readiness import build_initramfs as _build_initramfs
from crashhub.readiness import build_module as _build_module
from lab.config import LAB_VERSION, cache_dir
from lab.debs import Kernel, locked

__all__ = ["build_initramfs", "build_module", "conf_cpio"]


def build_module(kernel: Kernel) -> Path:
    """crashmod.ko for this kernel, rebuilt when its source changes."""
    tag = digest(*module_sources(), extra=kernel.release)
    out = cache_dir() / "build" / kernel.release / f"crashmod-{tag}"
    ko = out / "crashmod.ko"
    with locked(cache_dir() / "locks" / f"module-{kernel.release}.lock"):
        if ko.exists():
            return ko
        return _build_module(kernel.headers, out)


def build_initramfs(kernel: Kernel, module: Path) -> Path:
    """The lab's initramfs for this kernel (see crashhub.readiness.build_initramfs), cached."""
    tag = digest(INIT_SH, module, extra=f"{LAB_VERSION} {kernel.release} {kernel.version} {CHANNEL_MODULES}")
    out = cache_dir() / "build" / kernel.release / f"initramfs-{tag}.cpio"
    with locked(cache_dir() / "locks" / f"initramfs-{kernel.release}.lock"):
        if out.exists():
            return out
        return _build_initramfs(out, vmlinuz=kernel.vmlinuz, modules_dir=kernel.modules_dir(), module=module,
                                optional_modules=CHANNEL_MODULES)
