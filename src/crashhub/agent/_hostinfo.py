"""What the hub should know about a host before it crashes: kernel, build-id, hardware.

The build-id is the running kernel's ``NT_GNU_BUILD_ID`` note, which the kernel exports in
``/sys/kernel/notes`` (readable by anyone); it matches the ``-dbg``/``-debuginfo`` vmlinux exactly,
where a release string can be shared by rebuilt kernels.  The hardware string is built the way the
kernel builds its "Hardware name:" oops line (``dmi_format_ids`` in ``lib/dump_stack.c`` era code:
vendor, product, ``/board``, ``, BIOS`` version and date), so the hub can match it to crash logs.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

from crashhub import __version__
from crashhub.model import HostInfo

NT_GNU_BUILD_ID = 3
_MAX_NOTES = 64 * 1024


def build_id_from_notes(data: bytes) -> str | None:
    """The GNU build-id (hex) in a blob of ELF notes (4-byte aligned, native little-endian)."""
    off = 0
    data = data[:_MAX_NOTES]
    while off + 12 <= len(data):
        namesz, descsz, ntype = struct.unpack_from("<III", data, off)
        off += 12
        name_end = off + namesz
        desc_off = off + ((namesz + 3) & ~3)
        desc_end = desc_off + descsz
        if desc_end > len(data) or namesz > 256:
            return None
        name = data[off:name_end].rstrip(b"\0")
        if name == b"GNU" and ntype == NT_GNU_BUILD_ID and 0 < descsz <= 64:
            return data[desc_off:desc_end].hex()
        off = desc_off + ((descsz + 3) & ~3)
    return None


def _read(root: Path, path: str, limit: int = 4096) -> str | None:
    try:
        with (root / path.lstrip("/")).open("rb") as f:
            return f.read(limit).decode("utf-8", "replace").strip()
    except OSError:
        return None


def hardware(root: Path) -> str | None:
    dmi = "/sys/class/dmi/id/"
    vendor, product, board = (_read(root, dmi + n) for n in ("sys_vendor", "product_name", "board_name"))
    bios_v, bios_d = _read(root, dmi + "bios_version"), _read(root, dmi + "bios_date")
    if not (vendor or product):
        return None
    s = " ".join(x for x in (vendor, product) if x)
    if board:
        s += f"/{board}"
    if bios_v or bios_d:
        s += ", BIOS " + " ".join(x for x in (bios_v, bios_d) if x)
    return s


def host_info(root: str | Path = "/") -> HostInfo:
    """Kernel release, build-id, machine and hardware of the host under ``root``."""
    r = Path(root)
    live = r.resolve() == Path("/")
    release = _read(r, "/proc/sys/kernel/osrelease") or (os.uname().release if live else None)
    notes = None
    try:
        with (r / "sys/kernel/notes").open("rb") as f:
            notes = f.read(_MAX_NOTES)
    except OSError:
        pass
    return HostInfo(
        release=release,
        build_id=build_id_from_notes(notes) if notes else None,
        machine=os.uname().machine if live else None,
        hardware=hardware(r),
        version=_read(r, "/proc/version"),
        agent_version=__version__,
    )
