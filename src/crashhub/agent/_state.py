"""The agent's memory of what it sent: one JSON file, replaced atomically on every change.

A crash directory's entry goes through: log sent (``crash_id`` known) → dump sent or not wanted
→ ``done``.  A crash that reached ``done`` is never sent again, even if the hub is reset; a
half-sent one resumes from the hub's offset, never from the state file's (the hub is the truth).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from crashhub.errors import ConfigError

STATE_VERSION = 1


@dataclass(slots=True)
class Entry:
    crash_id: str | None = None
    wants_vmcore: bool | None = None
    has_vmcore: bool = False  # the hub holds the whole dump (complete: true)
    vmcore: str | None = None  # file name of the dump inside the crash dir
    vmcore_size: int | None = None
    vmcore_deleted: bool = False
    done: bool = False
    attempts: int = 0
    last_error: str | None = None
    sent_at: float | None = None
    # The hub's reason when it refused the dump as not this crash's (409 DumpMismatchError): the
    # same bytes would be refused again, so the dump is not re-sent; it stays on disk.
    vmcore_refused: str | None = None
    # A pstore dump (key "pstore:..."): its records were erased from the backend after the hub
    # confirmed the crash.
    records_removed: bool = False


@dataclass(slots=True)
class State:
    path: Path
    crashes: dict[str, Entry] = field(default_factory=dict)

    def entry(self, key: str) -> Entry:
        return self.crashes.setdefault(key, Entry())

    def save(self) -> None:
        doc = {"version": STATE_VERSION, "crashes": {k: asdict(v) for k, v in sorted(self.crashes.items())}}
        data = json.dumps(doc, indent=1, sort_keys=True).encode()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".agent-state.", dir=self.path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        # The rename is durable only once the directory is synced.
        with contextlib.suppress(OSError):
            dfd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)


_ENTRY_FIELDS = set(Entry.__dataclass_fields__)


def load(path: str | Path) -> State:
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        return State(p)
    except OSError as e:
        raise ConfigError(f"cannot read the agent state: {e.strerror}", p) from e
    try:
        doc: Any = json.loads(raw)
    except ValueError as e:
        raise ConfigError(f"agent state is not JSON ({e}); move it away to start afresh", p) from e
    if not (isinstance(doc, dict) and doc.get("version") == STATE_VERSION
            and isinstance(doc.get("crashes"), dict)):
        raise ConfigError(f"agent state has an unknown layout (want version {STATE_VERSION})", p)
    crashes = {}
    for k, v in doc["crashes"].items():
        if isinstance(v, dict):
            crashes[str(k)] = Entry(**{n: x for n, x in v.items() if n in _ENTRY_FIELDS})
    return State(p, crashes)
