"""Files of the hub's data directory, created readable by the hub's user (and group) only.

Dumps are the whole memory of production servers and the database holds token hashes and sessions:
under the usual umask 022 a plain ``open(path, "wb")`` made them world-readable (0644), temp files
and resumable ``.part`` uploads included.  The mode is given at creation, so no window exists in
which another local user could open the file; a stricter umask only makes it stricter.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path
from typing import BinaryIO

log = logging.getLogger("crashhub.store")

FILE_MODE = 0o640  # blobs, temp files, uploads: the hub's group may read (a backup user, say)
DB_MODE = 0o600  # the database: token hashes, sessions, users
DIR_MODE = 0o750


def create(path: Path, *, mode: int = FILE_MODE) -> BinaryIO:
    """``open(path, "wb")`` with ``mode`` (through the umask) for a file it creates."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
    return os.fdopen(fd, "wb")


def sqlite_file(db_url: str) -> Path | None:
    """The database file of a ``sqlite:///`` URL (None for another database or an in-memory one)."""
    if not db_url.startswith("sqlite:///"):
        return None
    name = db_url[len("sqlite:///"):].split("?", 1)[0]
    return Path(name) if name and name != ":memory:" else None


def prepare_sqlite(db_url: str) -> None:
    """Create the SQLite file 0600 before SQLite does (it would use 0644 under umask 022; its WAL and
    shared-memory files copy the database's mode), and take the world's bits off an older one."""
    path = sqlite_file(db_url)
    if path is None:
        return
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, DB_MODE)
        os.close(fd)
        return
    except FileExistsError:
        pass
    except OSError as e:  # a read-only or missing directory: SQLite will say so in its own words
        log.debug("could not create %s ahead of SQLite: %s", path, e)
        return
    for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            st = p.stat()
        except FileNotFoundError:
            continue
        if st.st_mode & 0o007 and stat.S_ISREG(st.st_mode):
            os.chmod(p, stat.S_IMODE(st.st_mode) & ~0o007)
            log.info("%s was readable by every local user; now %o", p, stat.S_IMODE(st.st_mode) & ~0o007)
