"""Out-of-tree modules in the debuginfo store: a ``.ko`` with debug info, kept by build-id and name.

An in-tree module's debug file comes with its kernel (Debian's ``-dbg`` deb and RHEL's
``kernel-debuginfo`` RPM carry every one; :meth:`DebuginfoStore.import_path` keeps them in the
kernel's entry).  A module built elsewhere (a vendor driver, the crash lab's ``crashmod``) is
imported alone, ``crashhub debuginfo import crashmod.ko``, and kept as::

    modules/<build-id>/<name>.ko

drgn is handed every kept file whose name a dump lists among its loaded modules; it matches each
to the module in the dump by build-id and leaves a file of another build aside, so two builds of
one module can be kept side by side.
"""

from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

from crashhub.debuginfo import _elf as elf
from crashhub.errors import DebuginfoError

MODULES = "modules"
ET_REL = 1


@dataclass(frozen=True, slots=True)
class ModuleFile:
    name: str  # as the kernel names it (modinfo "name", dashes as underscores)
    build_id: str
    release: str | None  # from vermagic
    path: Path


def is_module(p: Path) -> bool:
    """A relocatable ELF with a ``.modinfo``: a kernel module rather than a vmlinux."""
    if not p.is_file() or not elf.is_elf(p):
        return False
    info = elf.read_elf(p)
    return info.etype == ET_REL and info.section(".modinfo") is not None


def _name(p: Path, info: elf.ElfInfo) -> str:
    name = elf.modinfo(p, info).get("name") or p.name.split(".ko", 1)[0]
    name = name.replace("-", "_")
    if not name or "/" in name or name.startswith("."):
        raise DebuginfoError(f"bad module name {name!r}", p)
    return name


def import_module(root: Path, p: Path, tmp: Path) -> ModuleFile:
    """Keep the module file ``p`` under ``root/modules``; ``tmp`` is a staging directory on the same
    file system.  A module without DWARF or build-id is refused: drgn could neither use nor match it."""
    info = elf.read_elf(p)
    if info.etype != ET_REL or info.section(".modinfo") is None:
        raise DebuginfoError("not a kernel module (no .modinfo in a relocatable ELF)", p)
    if not info.has_debug_info:
        raise DebuginfoError("this module has no DWARF (.debug_info): import the unstripped .ko", p)
    bid = elf.build_id(p, info)
    if bid is None:
        raise DebuginfoError("this module has no GNU build-id note: drgn cannot match it to a dump", p)
    name = _name(p, info)
    final = root / MODULES / bid / f"{name}.ko"
    if not final.is_file():
        staged = tmp / f"{uuid.uuid4().hex}.ko"
        shutil.copyfile(p, staged)
        with staged.open("rb") as f:
            os.fsync(f.fileno())
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged, final)  # whole or absent, also with a concurrent import of the same file
    return ModuleFile(name, bid, elf.kernel_release(p, info), final)


def module_files(root: Path) -> list[ModuleFile]:
    """The out-of-tree modules kept in the store."""
    base = root / MODULES
    if not base.is_dir():
        return []
    out = []
    for d in sorted(base.iterdir()):
        for f in sorted(d.glob("*.ko")) if d.is_dir() else ():
            out.append(ModuleFile(f.name[:-3], d.name, None, f))
    return out
