"""The packages of the lab's Debian kernels, as a fleet would give them to ``crashhub kernel check``.

Releases come from the lab (lab.debs.fetch_kernel: Debian moves them every few weeks); boots are kept
in the lab's cache (``<cache>/readiness-boots``) by every input, and the evaluation runs every time.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lab.config import cache_dir, family
from lab.debs import Kernel, LabUnavailable, fetch_kernel, package_debs
from tests.need import missing

from crashhub.readiness import ReadinessReport, check


@dataclass(frozen=True)
class Debs:
    kernel: Kernel  # the lab's unpacked kernel (its -dbg vmlinux is the debuginfo)
    image: Path
    headers: list[Path]  # linux-headers-<release>, its -common and linux-kbuild

    @property
    def all(self) -> list[Path]:
        return [self.image, *self.headers]


def debs(key: str) -> Debs:
    """The deb files of the lab's kernel ``key`` ("6.1", "6.12", "5.10"), downloaded by the lab."""
    try:
        k = fetch_kernel(family(key))
        image, headers = package_debs(k)
    except LabUnavailable as e:
        missing(f"the crash lab's {key} kernel", str(e))
    return Debs(k, image, headers)


def boot_cache() -> Path:
    return cache_dir() / "readiness-boots"


_REPORTS: dict[tuple[object, ...], ReadinessReport] = {}


def checked(packages: list[Path], **kw: object) -> ReadinessReport:
    """``check`` with the lab's boot cache; one report per set of arguments in a session."""
    key = (tuple(packages), tuple(sorted((k, repr(v)) for k, v in kw.items())))
    if key not in _REPORTS:
        try:
            _REPORTS[key] = check(packages, boot_cache=boot_cache(), **kw)  # type: ignore[arg-type]
        except LabUnavailable as e:
            missing("the kernel check's tools", str(e))
    return _REPORTS[key]
