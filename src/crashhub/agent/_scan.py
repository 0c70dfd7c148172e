"""Find crash directories kdump left on this host, in the RHEL and Debian layouts.

The layouts (names, files, work-in-progress markers) are ``crashhub.kernel``'s; this module lists
the directories and stats their files.

A directory is *ready* when it has no ``*-incomplete`` entry and no file changed during the
settle time: kdump renames its files when done, but a dump copied in by hand has no marker.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from crashhub.kernel import crash_files, is_incomplete, parse_dir_name

log = logging.getLogger("crashhub.agent")

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
    name = parse_dir_name(path.name)
    if name is None:
        return None
    try:
        entries = sorted(os.scandir(path), key=lambda e: e.name)[:_MAX_ENTRIES]
    except OSError:
        return None
    files: dict[str, Path] = {}
    newest = 0.0
    incomplete = []
    for e in entries:
        if is_incomplete(e.name):
            incomplete.append(e.name)
        try:
            st = e.stat(follow_symlinks=False)
        except OSError:
            continue
        if e.is_file(follow_symlinks=False):
            files[e.name] = Path(e.path)
            newest = max(newest, st.st_mtime)
    roles = crash_files(name, files)
    return CrashDir(path=path, layout=name.layout, host_tag=name.host, when=name.when,
                    log=files[roles.log] if roles.log else None,
                    vmcore=files[roles.dump] if roles.dump else None,
                    kexec_log=files[roles.kexec_log] if roles.kexec_log else None,
                    incomplete=tuple(incomplete), newest_mtime=newest)


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
