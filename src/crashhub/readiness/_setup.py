"""The capture set up as the fleet's kdump has it: its core_collector line and its makedumpfile."""

from __future__ import annotations

import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

from crashhub.errors import InputError

# Compression options of makedumpfile (1.7.x): lzo, zlib, snappy, zstd (-z is zstd's short form since 1.7.0).
_COMPRESSION = {"-l": "lzo", "-c": "zlib", "-p": "snappy", "-z": "zstd", "--zstd": "zstd"}
MAX_DUMP_LEVEL = 31

# What RHEL's kdump.sysconfig (KDUMP_COMMANDLINE_APPEND) gives the capture kernel, minus what needs
# systemd; ``lab.*`` tell the guest's /init how to collect.
CAPTURE_CMDLINE = ("console=ttyS0 irqpoll nr_cpus=1 reset_devices cgroup_disable=memory mce=off "
                   "numa=off panic=10 transparent_hugepage=never novmcoredd")


@dataclass(frozen=True, slots=True)
class Collector:
    """A parsed ``core_collector`` line (only makedumpfile, with the options a fleet's kdump uses)."""

    line: str
    dump_level: int
    compression: str | None  # "-l", "-c", "-p", "-z", "--zstd"; None: none
    elf: bool  # -E: an ELF vmcore
    flat: bool  # -F: the flattened stream (an ssh target)

    @property
    def comp_arg(self) -> str:
        """The one word /init puts before ``--message-level 7 -d N`` ("none" for no option)."""
        if self.elf:
            return "-E"
        return self.compression or "none"

    def capture_cmdline(self) -> str:
        # cv=check: the RHEL local layout only (cv=default adds the ssh, ELF and Debian dumps, which
        # a -F line needs for its flattened file).
        cv = "default" if self.flat else "check"
        return f"{CAPTURE_CMDLINE} lab.dl={self.dump_level} lab.cv={cv} lab.comp={self.comp_arg}"


def parse_collector(line: str) -> Collector:
    """The collector line, or a one-line error naming what is not supported."""
    try:
        words = shlex.split(line)
    except ValueError as e:
        raise InputError(f"core_collector {line!r}: {e}") from None
    if not words or Path(words[0]).name != "makedumpfile":
        raise InputError(f"core_collector {line!r}: only makedumpfile collectors can be checked")
    level, comp, elf, flat = 31, None, False, False
    i = 1
    while i < len(words):
        w = words[i]
        value = words[i + 1] if i + 1 < len(words) else ""
        if w in _COMPRESSION:
            comp = w
        elif w == "-E":
            elf = True
        elif w == "-F":
            flat = True
        elif w in ("-d", "--message-level"):
            if not value.isdigit():
                raise InputError(f"core_collector {line!r}: {w} needs a number")
            level = int(value) if w == "-d" else level
            i += 1
        elif w.startswith("-d") and w[2:].isdigit():
            level = int(w[2:])
        else:
            raise InputError(f"core_collector {line!r}: option {w!r} is not supported "
                             "(-l, -c, -p, -z, --zstd, -E, -F, -d N, --message-level N)")
        i += 1
    if level > MAX_DUMP_LEVEL:
        raise InputError(f"core_collector {line!r}: dump level {level} is not 0-{MAX_DUMP_LEVEL}")
    if elf and (flat or comp):
        raise InputError(f"core_collector {line!r}: -E writes an uncompressed ELF file; "
                         "drop -F and the compression")
    return Collector(line, level, comp, elf, flat)


def makedumpfile_version(binary: Path, shown: str | None = None) -> str:
    """``makedumpfile 1.7.2 (/usr/bin/makedumpfile)`` (``shown`` in the brackets: the package it came
    from), or the binary with why its version is unknown."""
    try:
        proc = subprocess.run([str(binary), "-v"], capture_output=True, text=True, timeout=30, check=False)
    except OSError as e:
        raise InputError(f"makedumpfile does not run: {e.strerror}", binary) from None
    out = (proc.stdout + proc.stderr).split()
    # "makedumpfile: version 1.7.2 (released on 20 Oct 2022)"
    version = out[out.index("version") + 1] if "version" in out[:-1] else None
    return f"makedumpfile {version or '(unknown version)'} ({shown or binary})"
