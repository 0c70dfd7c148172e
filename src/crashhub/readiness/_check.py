"""STUB of the runner's entry point, for the hub's branch only (h-readyhub).

The runner branch brings the real ``check`` (boot the kernel under QEMU, crash it, read the dump).
The integrator drops this file at merge and keeps the runner's; the signature here is the agreed one,
so the hub's job, API and CLI are written against it and tested with it monkeypatched.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from crashhub.readiness._model import CheckKind, ReadinessReport


def check(
    packages: Sequence[Path],
    *,
    debuginfo: Path | None = None,
    makedumpfile: Path | None = None,
    core_collector: str = "makedumpfile -l --message-level 7 -d 31",
    crashkernel: str = "256M",
    kinds: Sequence[CheckKind] | None = None,
    memory_mib: int = 1024,
    work_dir: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> ReadinessReport:
    raise NotImplementedError("runner lands with the runner branch")
