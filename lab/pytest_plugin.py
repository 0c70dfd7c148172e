"""pytest fixtures for the crash lab: ``lab`` (session) gives real crash dumps, made once and cached.

    run = lab.crash("6.1", "null")                 # LabRun (lab/run.py)
    run.path("rhel/vmcore"), run.vmlinux, run.manifest["expected"]

Skips when the lab cannot run here (no QEMU, no apt, a package missing), unless
``CRASHHUB_REQUIRE_ALL=1`` (CI), when it fails instead. A run that goes wrong where the lab can run
(no panic, capture unfinished) fails the test.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

from lab.debs import LabUnavailable, RunFailed
from lab.run import LabRun, cached, crash


def _required() -> bool:
    return os.environ.get("CRASHHUB_REQUIRE_ALL", "") not in ("", "0")


class Lab:
    """The session's handle on the crash lab."""

    def __init__(self) -> None:
        self._runs: dict[tuple[str, str, str | None, int], LabRun] = {}
        self._broken: dict[str, str] = {}  # kernel key -> why the lab cannot make its runs

    def _give_up(self, reason: str) -> NoReturn:
        if _required():
            pytest.fail(f"crash lab required (CRASHHUB_REQUIRE_ALL=1) but unusable: {reason}")
        pytest.skip(f"crash lab unusable: {reason}")

    def cached(self) -> list[LabRun]:
        """The runs already in the cache (none are made): for tests that use whatever exists."""
        return cached()

    def crash(self, kernel: str = "6.1", kind: str = "null", variant: str | None = None,
              instance: int = 1) -> LabRun:
        """The run of ``kind`` on ``kernel`` (``variant``: None, "d23", "incomplete", "qemu", "large").

        ``instance`` > 1 gives another boot of the same crash (new KASLR offset, new pids).
        """
        key = (kernel, kind, variant, instance)
        if key in self._runs:
            return self._runs[key]
        if kernel in self._broken:
            self._give_up(self._broken[kernel])
        try:
            run = crash(kernel, kind, variant, instance)
        except RunFailed as exc:
            # QEMU and the packages work but this crash did not come out right: a lab bug, not a skip.
            pytest.fail(f"crash lab run {kernel}/{kind}/{variant}/{instance} failed: {exc}")
        except LabUnavailable as exc:
            # Missing tools or packages will not come back within this session: skip the rest fast.
            self._broken[kernel] = str(exc)
            self._give_up(str(exc))
        self._runs[key] = run
        return run


@pytest.fixture(scope="session")
def lab() -> Lab:
    return Lab()
