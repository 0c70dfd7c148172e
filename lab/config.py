"""Where the lab keeps things, and which Debian kernels it knows."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

# Bumped when a change makes older cached runs unfit (layout, manifest keys, capture commands).
LAB_VERSION = 2


def accel() -> str | None:
    """``$CRASHHUB_LAB_ACCEL`` (``tcg`` or ``kvm``) forces QEMU's accelerator; None: detected."""
    value = os.environ.get("CRASHHUB_LAB_ACCEL")
    return value if value in ("tcg", "kvm") else None


def cache_dir() -> Path:
    """``$CRASHHUB_LAB_CACHE`` or ``~/.cache/crashhub-lab``: downloads, extracted trees, builds and runs."""
    env = os.environ.get("CRASHHUB_LAB_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "crashhub-lab"


@dataclass(frozen=True)
class KernelFamily:
    """A Debian kernel line; the exact package is resolved from its meta-package when the lab runs."""

    key: str  # the name tests use: "6.1", "6.12", "5.10"
    suite: str  # the Debian suite it comes from (documentation only: apt decides)
    image_meta: str  # meta-package whose dependency names the current image package
    compressed_modules: bool  # Debian's 6.12 packages ship .ko.xz
    # The releases this family may resolve to (Debian moves the meta-package every few weeks:
    # 6.1.0-56 -> 57 in a week); a release outside it is a new kind of kernel the tests do not know.
    release_pattern: str
    # A suite the machine's apt does not list: read through a private apt state in the cache, with
    # the host's own Debian mirror (bullseye for 5.10). None: the machine's apt as configured.
    private_suite: str | None = None


FAMILIES: dict[str, KernelFamily] = {
    "6.1": KernelFamily("6.1", "bookworm", "linux-image-cloud-amd64", False, r"6\.1\.0-\d+-cloud-amd64"),
    "6.12": KernelFamily("6.12", "bookworm", "linux-image-6.12-cloud-amd64", True,
                         r"6\.12\.\d+\+deb12-cloud-amd64"),
    "5.10": KernelFamily("5.10", "bullseye", "linux-image-cloud-amd64", False, r"5\.10\.0-\d+-cloud-amd64",
                         private_suite="bullseye"),
}


def family(key: str) -> KernelFamily:
    try:
        return FAMILIES[key]
    except KeyError:
        raise ValueError(f"unknown lab kernel {key!r}; known: {', '.join(FAMILIES)}") from None
