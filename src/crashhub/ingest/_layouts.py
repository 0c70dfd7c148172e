"""Crash directories as kdump writes them (RHEL kdump-utils, Debian kdump-tools), told apart by content.

The layouts' names are ``crashhub.kernel``'s (``parse_dir_name``, ``layout_of``...).  Newer
kdump-tools always pass ``-F``, so a Debian ``dump.<stamp>`` can be flattened: the format comes
from the magic bytes, never the name, and the role of each file (log, dump, capture-kernel log)
from what it holds.
"""

# ruff: noqa: PLC0415 - imports inside functions are deliberate: each command and stage loads
# only what it uses (the host agent installs without the hub's web and database stack).

from __future__ import annotations

import ipaddress
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

from crashhub import kernel
from crashhub.errors import DumpError, InputError

SNIFF = 64 * 1024
_TS_LINE = re.compile(rb"^(?:<\d{1,2}>)?\[\s*\d+\.\d{6}\]", re.M)
_JOURNAL_HINTS = (b"kdump[", b"systemd[", b"dracut", b"kdump.sh", b"kdump-tools")


@dataclass
class CrashDir:
    path: Path
    layout: str  # "rhel" | "debian" | "generic"
    log: Path | None = None
    dump: Path | None = None
    dump_format: str | None = None
    kexec_log: Path | None = None
    split_parts: tuple[Path, ...] = ()
    incomplete: tuple[str, ...] = ()  # names still carrying "-incomplete"
    name_host: str | None = None
    name_host_kind: str | None = None  # "ip" | "name"
    name_time: float | None = None  # the directory's stamp (capture kernel's clock, read as UTC)
    notes: list[str] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return not self.incomplete and (self.log is not None or self.dump is not None)


def parse_dir_name(name: str) -> tuple[str | None, str | None, float | None, str | None]:
    """(host, host kind, time, layout) from a crash directory's name; all None when it says nothing.

    Raises InputError for a RHEL-shaped name whose stamp is not a time.
    """
    d = kernel.parse_dir_name(name)
    if d is None:
        return None, None, None, None
    t = d.time()
    if t is None:
        if d.layout == "debian":
            return None, None, None, None  # twelve digits that are not a time: just a name
        # Shaped like kdump's stamp but not a time (99:99:99): bad input, refused once, never
        # retried (the spool records it failed; the API answers 400).
        raise InputError(f"directory name {name!r}: {d.when!r} is not a valid time")
    return d.host, (_host_kind(d.host) if d.host else None), t, d.layout


def _host_kind(host: str) -> str:
    try:
        ipaddress.ip_address(host)
        return "ip"
    except ValueError:
        return "name"


def looks_like_kernel_log(head: bytes) -> bool:
    """Kernel log text: printk timestamps on most of the first lines, or a 'Linux version' banner."""
    if b"\0" in head[:4096]:
        return False
    lines = head.splitlines()[:60]
    stamped = sum(1 for ln in lines if _TS_LINE.match(ln))
    return stamped >= max(2, len(lines) // 3) or b"Linux version " in head


def _is_capture_log(name: str, head: bytes) -> bool:
    # kexec-dmesg.log is the capture kernel's own dmesg followed by its journal: it looks like a
    # kernel log.  The capture kernel is the one booted with "elfcorehdr=" (kexec -p adds it to the
    # command line so the kernel finds the old memory); journal lines of the collector also tell.
    if kernel.is_kexec_log(name):
        return True
    cmdline = next((ln for ln in head.splitlines()[:400] if b"ommand line:" in ln), b"")
    return b"elfcorehdr=" in cmdline or sum(head.count(h) for h in _JOURNAL_HINTS) >= 3


def scan(path: Path, *, max_files: int = 64) -> CrashDir:
    """What a crash directory holds.

    Reads at most 64 KiB of each file, and never opens a file still named ``*-incomplete``.
    """
    if not path.is_dir():  # a link to a directory is refused by the spool watcher, not here (the CLI)
        raise InputError("not a directory", path)
    host, kind, t, layout_by_name = parse_dir_name(path.name)
    cd = CrashDir(path=path, layout="generic", name_host=host, name_host_kind=kind, name_time=t)
    entries = sorted(path.iterdir(), key=lambda p: p.name)
    if len(entries) > max_files:
        cd.notes.append(f"{len(entries)} entries; only the first {max_files} were looked at")
        entries = entries[:max_files]
    cd.incomplete = tuple(e.name for e in entries if kernel.is_incomplete(e.name))
    logs: list[tuple[int, Path]] = []
    dumps: list[tuple[int, Path, str]] = []
    parts: list[Path] = []
    for e in entries:
        if kernel.is_incomplete(e.name):
            continue  # never opened while being written
        if e.is_symlink():
            # kernel_link & co. (Debian) point outside the directory: never followed, so a link planted
            # in the spool cannot make a file elsewhere on the hub downloadable.
            if not e.name.endswith("_link"):
                cd.notes.append(f"{e.name}: a symbolic link, not read")
            continue
        head = _read_head(e)
        if not head:
            continue  # not a regular file, unreadable, or empty
        fmt, why = dump_format(e)
        if fmt is None and kernel.is_dump_name(e.name) and not looks_like_kernel_log(head):
            cd.notes.append(f"{e.name}: named like a dump but not readable as one ({why})")
        if fmt is not None:
            if kernel.is_split_part(e.name):
                parts.append(e)
            # Prefer the plain dump over a flat copy of the same crash, and either over a wrapper.
            rank = 0 if not fmt.startswith("flat-") else 1
            dumps.append((rank, e, fmt))
            continue
        if looks_like_kernel_log(head):
            if _is_capture_log(e.name, head):
                cd.kexec_log = cd.kexec_log or e
                continue
            rank = 0 if kernel.is_named_log(e.name) else 1
            logs.append((rank, e))
    if logs:
        cd.log = sorted(logs, key=lambda x: (x[0], x[1].name))[0][1]
    if len(parts) > 1:
        cd.split_parts = tuple(parts)
        cd.notes.append("a makedumpfile --split dump: parts are kept, the log comes from the log file")
        dumps = [d for d in dumps if d[1] not in parts]
    if dumps:
        _, cd.dump, cd.dump_format = sorted(dumps, key=lambda x: (x[0], x[1].name))[0]
    cd.layout = kernel.layout_of(e.name for e in entries) or layout_by_name or "generic"
    return cd


def _read_head(path: Path) -> bytes | None:
    """The first bytes of a regular file, opened without following a link (None for anything else).

    O_NOFOLLOW closes the window between the listing and the open in which a file could be swapped
    for a link.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            return None
        return f.read(SNIFF)


def dump_format(path: Path) -> tuple[str | None, str | None]:
    """(format, None) for a dump, (None, why not) for anything else."""
    from crashhub.dump import detect

    try:
        return detect(path), None
    except (DumpError, OSError) as e:
        return None, str(e)
