"""Crash directories as kdump writes them: what a directory's name and its file names say.

* RHEL kexec-tools/kdump-utils (``kdump.sh``): ``<ip|host>-<YYYY-MM-DD-HH:MM:SS>/`` holding
  ``vmcore`` (``vmcore.flat`` from an ssh target, ``vmcore.1``... with makedumpfile ``--split``),
  ``vmcore-dmesg.txt`` and ``kexec-dmesg.log`` (the capture kernel's log, never the crash's); while
  written the names are ``vmcore-incomplete`` / ``vmcore-dmesg-incomplete.txt``.
* Debian/Ubuntu kdump-tools (``kdump-config``): ``[<ip|host>-]<YYYYmmddHHMM>/`` holding
  ``dmesg.<stamp>`` and ``dump.<stamp>[.gz|.bz2|.lz4|.xz]`` (``vmcore.<stamp>`` after its ``cp``
  fallback, ``dump-incomplete`` while written) plus ``*_link`` symlinks out of the directory.

Pure: the callers list the directory and hand the names in; nothing here touches a file.  Which
file really is a dump is the dump reader's call (magic bytes): a name only says what kdump meant.
"""

from __future__ import annotations

import calendar
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

Layout = Literal["rhel", "debian"]

RHEL_DIR = re.compile(r"^(?P<host>.+)-(?P<when>\d{4}-\d{2}-\d{2}-\d{2}:\d{2}:\d{2})$")
DEBIAN_DIR = re.compile(r"^(?:(?P<host>.+)-)?(?P<when>\d{12})$")
_TIME_FORMAT: dict[Layout, str] = {"rhel": "%Y-%m-%d-%H:%M:%S", "debian": "%Y%m%d%H%M"}

RHEL_LOG = "vmcore-dmesg.txt"
RHEL_LOG_INCOMPLETE = "vmcore-dmesg-incomplete.txt"
KEXEC_LOG = "kexec-dmesg.log"
# File names only RHEL's kdump writes, and the prefixes only Debian's does.
_RHEL_NAMES = frozenset(
    {RHEL_LOG, "vmcore", "vmcore.flat", KEXEC_LOG, "vmcore-incomplete", RHEL_LOG_INCOMPLETE}
)
_DEBIAN_PREFIXES = ("dmesg.", "dump.", "dump-incomplete")
_DEBIAN_LOG = re.compile(r"^dmesg\.\d{12}$")
_SPLIT_PART = re.compile(r"^vmcore\.\d+$")
# Every name kdump gives a dump: vmcore, vmcore.flat, vmcore.N (--split), vmcore.<stamp> and
# dump.<stamp> with the compressor's extension, if any.
DUMP_NAME = re.compile(r"^(vmcore(\.flat|\.\d+|\.\d{12})?|dump\.\d{12}(\.\w+)?)$")
_DEBIAN_DUMP_EXT = r"(?:\.gz|\.bz2|\.lz4|\.xz)?"


@dataclass(frozen=True, slots=True)
class DirName:
    """What a crash directory's name says: layout, the ip/host prefix and the stamp as written."""

    layout: Layout
    host: str | None  # "127.0.0.1" for RHEL local dumps; None for a local Debian dump
    when: str

    def time(self) -> float | None:
        """The stamp as seconds since the epoch (read as UTC: the capture kernel's clock), or None
        when it is shaped like a stamp but is not a time (``99:99:99``)."""
        try:
            return float(calendar.timegm(time.strptime(self.when, _TIME_FORMAT[self.layout])))
        except ValueError:
            return None

    def to_dict(self) -> dict[str, str | None]:
        return {"layout": self.layout, "host": self.host, "when": self.when}

    @classmethod
    def from_dict(cls, d: dict[str, str | None]) -> DirName:
        layout = d["layout"]
        if layout not in _TIME_FORMAT:
            raise ValueError(f"unknown crash directory layout {layout!r}")
        return cls("rhel" if layout == "rhel" else "debian", d.get("host"), str(d["when"]))


def parse_dir_name(name: str) -> DirName | None:
    """The layout, host and stamp a directory's name gives, or None for a name of neither layout."""
    m = RHEL_DIR.match(name)
    if m:
        return DirName("rhel", m["host"], m["when"])
    m = DEBIAN_DIR.match(name)
    if m:
        return DirName("debian", m["host"], m["when"])
    return None


def is_incomplete(name: str) -> bool:
    """A name kdump gives a file it is still writing (``vmcore-incomplete``, ``dump-incomplete``...)."""
    return "-incomplete" in name


def layout_of(names: Iterable[str]) -> Layout | None:
    """The layout the file names say (a directory renamed by hand keeps its files' names)."""
    listed = set(names)
    if listed & _RHEL_NAMES:
        return "rhel"
    if any(n.startswith(_DEBIAN_PREFIXES) for n in listed):
        return "debian"
    return None


def is_dump_name(name: str) -> bool:
    return DUMP_NAME.match(name) is not None


def is_split_part(name: str) -> bool:
    """``vmcore.1``, ``vmcore.2``...: one part of a makedumpfile ``--split`` dump."""
    return _SPLIT_PART.match(name) is not None


def is_kexec_log(name: str) -> bool:
    return name.startswith("kexec-dmesg")


def is_named_log(name: str) -> bool:
    """A name kdump gives the crashed kernel's log."""
    return name == RHEL_LOG or name.startswith("dmesg.")


def log_name(names: Iterable[str]) -> str | None:
    """The crash's kernel log among a directory's files, best first: ``vmcore-dmesg.txt``, what an
    interrupted capture left (``vmcore-dmesg-incomplete.txt``), the newest ``dmesg.<stamp>``."""
    listed = set(names)
    for name in (RHEL_LOG, RHEL_LOG_INCOMPLETE):
        if name in listed:
            return name
    debian = sorted(n for n in listed if _DEBIAN_LOG.match(n))
    return debian[-1] if debian else None


@dataclass(frozen=True, slots=True)
class CrashFiles:
    """The roles of a finished crash directory's files, by name (None: no such file)."""

    log: str | None
    dump: str | None
    kexec_log: str | None

    def to_dict(self) -> dict[str, str | None]:
        return {"log": self.log, "dump": self.dump, "kexec_log": self.kexec_log}

    @classmethod
    def from_dict(cls, d: dict[str, str | None]) -> CrashFiles:
        return cls(d.get("log"), d.get("dump"), d.get("kexec_log"))


def crash_files(dir_name: DirName, names: Iterable[str]) -> CrashFiles:
    """Which of the files kdump wrote into the directory ``dir_name`` are its log, dump and capture log.

    Only the finished names count: a ``*-incomplete`` file is work in progress, and a Debian file
    must carry the directory's own stamp.
    """
    listed = sorted(set(names))
    if dir_name.layout == "rhel":
        rhel_dump = next((n for n in listed if n in ("vmcore", "vmcore.flat")), None)
        return CrashFiles(RHEL_LOG if RHEL_LOG in listed else None, rhel_dump,
                          KEXEC_LOG if KEXEC_LOG in listed else None)
    log = f"dmesg.{dir_name.when}"
    dump_re = re.compile(rf"^(?:dump|vmcore)\.{dir_name.when}{_DEBIAN_DUMP_EXT}$")
    dump = next((n for n in listed if dump_re.match(n)), None)
    return CrashFiles(log if log in listed else None, dump, None)
