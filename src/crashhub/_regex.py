"""Compiled regexps kept between runs, as Python keeps a module's bytecode between runs.

``crashhub triage`` uses some 210 regexps (the oops table's titles, the skip list, the line
prefixes).  Compiling them is ~24 ms of every run, as much as reading 40 logs; the compiled form
depends only on the pattern, the flags and the Python that compiled it.  So, in a process whose
entry point asked for it (``bin/crashhub``: :func:`use`), :func:`compile` takes the compiled form
from a file of earlier runs' and writes the file again when the run compiled anything new
(:func:`save`).  Everywhere else (the hub, tests, a program importing crashhub) it is
``re.compile``.

What is kept is what CPython's regexp compiler hands its engine: the arguments of ``_sre.compile``
(pattern, flags, opcode list, group count and names), as ``re._compiler.compile`` makes them
(CPython 3.11 to 3.13).  The engine checks an opcode list before running it (``_validate`` in
``_sre.c``) and this module checks the group tables, but neither would see a changed character:
so the file carries a CRC-32 of its contents, and a damaged file is read as no file.  A file from
another Python never loads: its name holds ``sys.implementation.cache_tag`` and ``_sre.MAGIC``, and
its header ``sys.version`` (a patch release may fix the compiler).  Should a later CPython change
these internals, every pattern is compiled by ``re.compile`` and nothing is written.

The file is trusted as ``__pycache__`` is, and no further: it is read only when it is a regular
file of the process's own user that no one else may write, in a directory of that user's (root
running with another user's ``HOME`` neither reads nor writes it), and it is written 0600.
"""

from __future__ import annotations

import marshal
import os
import stat
import sys

TYPE_CHECKING = False  # not typing's: bin/crashhub's fast paths import no typing
if TYPE_CHECKING:
    import re
    from typing import Any

FORMAT = 2  # this file's layout; a new layout is a new number and old files are ignored
PREFIX = b"crashhub regexps\n"  # then the payload's CRC-32 (4 bytes, big-endian), then the payload
MAX_BYTES = 16 << 20  # a bigger file is not ours (the whole package's regexps take ~0.3 MiB)
MAX_ENTRIES = 4096  # patterns kept; past it, a save keeps only what its own run used

# (pattern, flags) -> the arguments of _sre.compile after the pattern.
Entry = tuple[int, list[int], int, dict[str, int], tuple["str | None", ...]]


class _Cache:
    """One process's view of the cache file: what it read, what it compiled anew, where it lives."""

    def __init__(self) -> None:
        self.path: str | None = None  # None: no cache (use() was not called)
        self.loaded = False
        self.entries: dict[tuple[str, int], Entry] = {}
        self.used: set[tuple[str, int]] = set()
        self.new = 0  # patterns compiled here that the file did not hold, since the last save
        self.hits = 0  # patterns taken from the file
        self.misses = 0  # patterns compiled here


_CACHE = _Cache()


def _find_internals() -> tuple[Any, Any, Any] | None:
    """(``_sre``, ``re._parser``, ``re._compiler``) when they have the shape this module knows
    (``re`` has loaded all three already)."""
    try:
        import _sre  # type: ignore[import-not-found]  # noqa: PLC0415 (built in: no file to load)
        from re import _compiler, _parser  # type: ignore[attr-defined]  # noqa: PLC0415 (re has them)
    except ImportError:
        return None
    needed = (callable(getattr(_sre, "compile", None)), isinstance(getattr(_sre, "MAGIC", None), int),
              callable(getattr(_parser, "parse", None)), callable(getattr(_compiler, "_code", None)))
    return (_sre, _parser, _compiler) if all(needed) else None


_INTERNALS: list[tuple[Any, Any, Any] | None] = []  # found on first use: bin/crashhub loads this
# module for every command, and ``crashhub dump dmesg`` never loads ``re``


def _internals() -> tuple[Any, Any, Any] | None:
    if not _INTERNALS:
        _INTERNALS.append(_find_internals())
    return _INTERNALS[0]


def _magic() -> int | None:
    """The regexp engine's version (``_sre.MAGIC``, built in: no ``re`` needed to ask)."""
    try:
        import _sre  # noqa: PLC0415
    except ImportError:
        return None
    magic = getattr(_sre, "MAGIC", None)
    return magic if isinstance(magic, int) else None


def file_name() -> str | None:
    """The cache file's name for this interpreter (None where its regexp engine is unknown)."""
    magic = _magic()
    if magic is None:
        return None
    return f"regex-{sys.implementation.cache_tag or 'none'}-{magic}-v{FORMAT}.marshal"


def use(directory: str) -> None:
    """Keep compiled regexps in ``directory`` for this process (read when first needed)."""
    name = file_name()
    reset()  # a new start: what an earlier use() read or compiled is forgotten
    _CACHE.path = None if name is None else os.path.join(directory, name)


def reset() -> None:
    """Forget the cache: ``compile`` is ``re.compile`` again (until the next ``use``)."""
    global _CACHE  # noqa: PLW0603 (the process's one cache view, replaced whole)
    _CACHE = _Cache()


def compile(pattern: str, flags: int = 0) -> re.Pattern[str]:
    """``re.compile(pattern, flags)``, from the cache file when this process uses one."""
    import re  # noqa: PLC0415 (loaded by whoever compiles; see _INTERNALS)

    if _CACHE.path is None or type(pattern) is not str or not isinstance(flags, int):
        return re.compile(pattern, flags)  # (a str subclass, bytes or odd flags: re's own answer)
    if not _CACHE.loaded:
        _load()
    key = (pattern, int(flags))
    entry = _CACHE.entries.get(key)
    if entry is not None:
        rx = _from_entry(pattern, entry)
        if rx is not None:
            _CACHE.used.add(key)
            _CACHE.hits += 1
            return rx
    made = _compile_entry(pattern, int(flags))
    if made is None:
        return re.compile(pattern, flags)
    rx, entry = made
    _CACHE.entries[key] = entry
    _CACHE.used.add(key)
    _CACHE.new += 1
    _CACHE.misses += 1
    return rx


def _from_entry(pattern: str, entry: Entry) -> re.Pattern[str] | None:
    parts = _internals()
    if parts is None or not _sound(entry):
        return None
    try:
        rx: re.Pattern[str] = parts[0].compile(pattern, *entry)
    except Exception:  # the engine's check refused it (RuntimeError), or worse: compiled again
        return None
    return rx


def _sound(entry: object) -> bool:
    """An entry of the shape ``_compile_entry`` makes: the group count, names and numbers agree (the
    engine checks the opcodes, not these; a wrong count would size every match's groups)."""
    if not (isinstance(entry, tuple) and len(entry) == 5):
        return False
    flags, code, groups, groupindex, indexgroup = entry
    if not (type(flags) is int and type(code) is list and type(groups) is int
            and type(groupindex) is dict and type(indexgroup) is tuple):
        return False
    if groups != len(indexgroup) - 1 or len(groupindex) > groups:
        return False
    named = {i: name for name, i in groupindex.items() if type(name) is str and type(i) is int}
    return len(named) == len(groupindex) and all(
        indexgroup[i] == named.get(i) for i in range(len(indexgroup)))


def _compile_entry(pattern: str, flags: int) -> tuple[re.Pattern[str], Entry] | None:
    """``re._compiler.compile``'s steps, keeping the engine's arguments (CPython 3.11–3.13)."""
    import re  # noqa: PLC0415

    parts = _internals()
    if parts is None or flags & re.DEBUG:
        return None
    sre, parser, compiler = parts
    try:
        p = parser.parse(pattern, flags)
        code = [int(op) for op in compiler._code(p, flags)]  # opcodes are int subclasses
        groupindex = dict(p.state.groupdict)
        indexgroup: list[str | None] = [None] * p.state.groups
        for name, i in groupindex.items():
            indexgroup[i] = name
        entry: Entry = (int(flags | p.state.flags), code, p.state.groups - 1, groupindex, tuple(indexgroup))
        rx: re.Pattern[str] = sre.compile(pattern, *entry)
    except re.error:
        raise  # a bad pattern is the caller's error, as re.compile says it
    except Exception:  # internals other than this module knows: re.compile does the work
        return None
    return rx, entry


def _load() -> None:
    _CACHE.loaded = True
    path = _CACHE.path
    if path is None or not _own_directory(os.path.dirname(path)):
        return
    data = _read_own_file(path)
    if data is None or not data.startswith(PREFIX) or len(data) < len(PREFIX) + 4:
        return  # no file yet, or not ours: every pattern is compiled and the file written anew
    import zlib  # noqa: PLC0415

    crc, payload = data[len(PREFIX) : len(PREFIX) + 4], data[len(PREFIX) + 4 :]
    if int.from_bytes(crc, "big") != zlib.crc32(payload):
        return  # damaged on the way (a full disk, a bad block): read as no file
    try:
        header, entries = marshal.loads(payload)
    except (EOFError, ValueError, TypeError):
        return
    if header == _header() and isinstance(entries, dict):
        _CACHE.entries = entries


def _own_directory(path: str) -> bool:
    """A directory of this process's user that no one else may write into."""
    try:
        st = os.stat(path)
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.geteuid() and not st.st_mode & 0o022


def _read_own_file(path: str) -> bytes | None:
    """The file's bytes when it is a regular file of this user, writable by no one else, and not
    too big; else None (a FIFO, a symlink, another user's file are not opened or not read)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if (not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o022
                or st.st_size > MAX_BYTES):
            return None
        with os.fdopen(fd, "rb", closefd=False) as fh:
            data = fh.read(MAX_BYTES + 1)
    except OSError:
        return None
    finally:
        os.close(fd)
    return data if len(data) <= MAX_BYTES else None


def _header() -> tuple[int, str, int, str]:
    return (FORMAT, sys.implementation.cache_tag or "none", _magic() or 0, sys.version)


def save() -> bool:
    """Write the cache file when this run compiled a pattern it did not hold; whether it wrote.

    Atomic (a temporary file renamed over the old one): two runs saving at once leave one whole
    file.  A directory that cannot be written leaves the run as it was, only slower next time.
    """
    path = _CACHE.path
    if path is None or not _CACHE.new:
        return False
    entries = _CACHE.entries
    if len(entries) > MAX_ENTRIES:
        entries = {k: v for k, v in entries.items() if k in _CACHE.used}
    directory = os.path.dirname(path)
    import tempfile  # noqa: PLC0415 (only when writing: it loads random and shutil, ~2 ms)
    import zlib  # noqa: PLC0415

    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        if not _own_directory(directory):
            return False
        payload = marshal.dumps((_header(), entries))
        fd, tmp = tempfile.mkstemp(prefix=".regex-", dir=directory)  # 0600
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(PREFIX + zlib.crc32(payload).to_bytes(4, "big") + payload)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except (OSError, ValueError):
        return False
    _CACHE.new = 0
    return True


def stats() -> tuple[int, int]:
    """(patterns taken from the file, patterns compiled) in this process so far."""
    return _CACHE.hits, _CACHE.misses
