"""Find crash directories kdump left on this host, in the RHEL and Debian layouts.

* RHEL kexec-tools/kdump-utils: ``<path>/<ip>-<YYYY-MM-DD-HH:MM:SS>/`` holding ``vmcore`` (or
  ``vmcore.flat`` from an ssh dump, ``vmcore.1..n`` with ``--split``), ``vmcore-dmesg.txt`` and
  ``kexec-dmesg.log``; work in progress is ``vmcore-incomplete`` / ``vmcore-dmesg-incomplete.txt``.
* Debian kdump-tools: ``<KDUMP_COREDIR>/<YYYYmmddHHMM>/`` (``<ip|hostname>-<stamp>`` on network
  targets) holding ``dump.<stamp>[.gz|.bz2|.lz4|.xz]`` (``vmcore.<stamp>`` when it fell back to
  ``cp``) and ``dmesg.<stamp>``; work in progress is ``dump-incomplete*`` / ``vmcore-incomplete``.

A directory is *ready* when it has no ``*-incomplete`` entry and no file changed during the
settle time: kdump renames its files when done, but a dump copied in by hand has no marker.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("crashhub.agent")

RHEL_DIR = re.compile(r"^(?P<host>.+)-(?P<when>\d{4}-\d{2}-\d{2}-\d{2}:\d{2}:\d{2})$")
DEBIAN_DIR = re.compile(r"^(?:(?P<host>.+)-)?(?P<when>\d{12})$")
_DUMP_EXT = r"(?:\.gz|\.bz2|\.lz4|\.xz)?"
_MAX_ENTRIES = 256


@dataclass(frozen=True, slots=True)
class CrashDir:
    path: Path
    layout: str  # "rhel" or "debian"
    host_tag: str | None  # the ip/hostname prefix, "127.0.0.1" for RHEL local dumps
    when: str  # the directory's time stamp as written
    log: Path | None
    vmcore: Path | None
    kexec_log: Path | None
    incomplete: tuple[str, ...]  # names marking work in progress
    newest_mtime: float  # newest mtime among the files (seconds)

    @property
    def key(self) -> str:
        return str(self.path)

    def ready(self, now: float, settle: float) -> bool:
        return not self.incomplete and (self.log is not None or self.vmcore is not None) \
            and now - self.newest_mtime >= settle


def classify(path: Path) -> CrashDir | None:
    """Read one directory; None when its name is neither layout's."""
    name = path.name
    m = RHEL_DIR.match(name)
    layout = "rhel"
    if m is None:
        m = DEBIAN_DIR.match(name)
        layout = "debian"
    if m is None:
        return None
    try:
        entries = sorted(os.scandir(path), key=lambda e: e.name)[:_MAX_ENTRIES]
    except OSError:
        return None
    files: dict[str, Path] = {}
    newest = 0.0
    incomplete = []
    for e in entries:
        if "incomplete" in e.name:
            incomplete.append(e.name)
        try:
            st = e.stat(follow_symlinks=False)
        except OSError:
            continue
        if e.is_file(follow_symlinks=False):
            files[e.name] = Path(e.path)
            newest = max(newest, st.st_mtime)
    when = m.group("when")
    log = vmcore = kexec = None
    if layout == "rhel":
        log = files.get("vmcore-dmesg.txt")
        vmcore = files.get("vmcore") or files.get("vmcore.flat")
        kexec = files.get("kexec-dmesg.log")
    else:
        log = files.get(f"dmesg.{when}")
        dump_re = re.compile(rf"^(?:dump|vmcore)\.{when}{_DUMP_EXT}$")
        vmcore = next((p for n, p in files.items() if dump_re.match(n)), None)
    return CrashDir(path=path, layout=layout, host_tag=m.group("host"), when=when, log=log, vmcore=vmcore,
                    kexec_log=kexec, incomplete=tuple(incomplete), newest_mtime=newest)


def scan(dirs: list[str] | tuple[str, ...]) -> list[CrashDir]:
    """Every crash directory under ``dirs`` (one level deep), oldest name first."""
    out = []
    for d in dirs:
        try:
            entries = sorted(os.scandir(d), key=lambda e: e.name)
        except FileNotFoundError:
            continue
        except OSError as err:
            # /var/crash is root-only on RHEL: say so instead of finding nothing.
            log.warning("cannot read crash directory %s: %s", d, err.strerror)
            continue
        for e in entries:
            if e.is_dir(follow_symlinks=False):
                c = classify(Path(e.path))
                if c is not None:
                    out.append(c)
    return out
