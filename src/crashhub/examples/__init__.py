"""Example crash directories for the README and demos: real logs from the project's crash lab.

Each sub-directory is laid out as a distribution's kdump leaves it: ``rhel-*`` hold RHEL
kdump-utils' ``vmcore-dmesg.txt``, ``debian-*`` hold kdump-tools' ``dmesg.<stamp>``.  They were
made by ``python -m lab crash`` (Debian 6.1.0-56 and 6.12.117 cloud kernels in QEMU, crashed by
the lab's test module); the vmcores themselves are not shipped.

    crashhub triage src/crashhub/examples/

``fleet.py`` and ``_fleet/`` are ``crashhub serve --demo``'s fleet: 30 lab logs (gzipped, 6.1.0-56,
6.1.0-57, 6.12.117), its KB entries, and the plan that spreads them over 200 hosts and 30 days;
``crashhub.commands._demo`` loads them into a hub.
"""

from __future__ import annotations

from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent


def crash_dirs() -> list[Path]:
    """The example crash directories, sorted by name."""
    return sorted(p for p in EXAMPLES.iterdir() if p.is_dir() and not p.name.startswith("_"))
