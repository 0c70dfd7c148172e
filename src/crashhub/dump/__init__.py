"""Read vmcores without debuginfo: what a dump is, its kernel log, its pages.

Public API (other parts of crashhub code against these names)::

    detect(path) -> str                 format by magic ("kdump", "flat-kdump", "qemu-elf", "kdump+gzip", ...)
    facts(path) -> DumpFacts            kernel, host, time, completeness, CPUs, panic registers
    dmesg(path) -> bytes                the kernel log, as `makedumpfile --dump-dmesg` writes it
    reassemble(src, dst) -> None        `makedumpfile -R`: flat → kdump/ELF, streaming and sparse
    open_dump(path) -> DumpReader       read_phys / read_page / read_virt / .vmcoreinfo / .close()
    open_split([path, ...]) -> reader   the parts of a `makedumpfile --split` dump, together

Every reader goes through a bounded byte source (``source.py``); bad input raises a
:class:`crashhub.errors.DumpError` subclass naming the file and offset.  Only the standard library is
imported here (no typing, no dataclasses: ``crashhub dump dmesg`` starts fast); page codecs (lzo,
zstd, snappy) load on first use.
"""

from __future__ import annotations

import os

from crashhub._face import face
from crashhub.dump._base import DumpReader
from crashhub.dump._detect import detect, open_dump
from crashhub.dump._printk import read_log
from crashhub.errors import DumpError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import BinaryIO

    from crashhub.dump._flat import Progress
    from crashhub.model import DumpFacts

__all__ = ["DumpReader", "detect", "dmesg", "facts", "open_dump", "open_split", "reassemble"]


def dmesg(path: str | os.PathLike[str], caller_id: bool = False) -> bytes:
    """The kernel log in the dump at ``path`` (flat files are read in place, wrappers unwrapped).

    ``caller_id`` adds the ``[  T123]`` column as makedumpfile >= 1.7.5 does (off: as 1.7.2–1.7.4).
    """
    with open_dump(path) as d:
        return read_log(d, caller_id).text


def reassemble(src: str | os.PathLike[str] | BinaryIO, dst: str | os.PathLike[str] | BinaryIO,
               progress: Progress | None = None) -> None:
    """Rebuild the dump a flat file encodes (``makedumpfile -R``): streaming, gaps left sparse.

    A flat file wrapped in gzip/xz/bzip2/zstd/lz4 (``detect`` says ``flat-kdump+gzip``) is decompressed
    on the way."""
    from crashhub.dump._flat import reassemble as _reassemble  # noqa: PLC0415 (fast start for dmesg)

    if isinstance(src, (str, os.PathLike)):
        from crashhub.dump._source import open_wrapped, wrapper_of  # noqa: PLC0415

        with open(src, "rb") as f:
            wrapper = wrapper_of(f.read(8))
        if wrapper is not None:
            with open_wrapped(str(src), wrapper) as stream:
                _reassemble(stream, dst, progress, name=f"{src} ({wrapper}-decompressed)")  # type: ignore[arg-type]
            return
    _reassemble(src, dst, progress)


def open_split(paths: list[str | os.PathLike[str]]) -> DumpReader:
    """The parts of a split dump (vmcore.1 … vmcore.N, any order) read as one dump."""
    from crashhub.dump._split import open_split as _open_split  # noqa: PLC0415

    return _open_split(paths)


def facts(path: str | os.PathLike[str]) -> DumpFacts:
    """What the dump at ``path`` is.  A log that cannot be read is a warning here, not an error."""
    import dataclasses  # noqa: PLC0415 (facts need the models; dmesg does not)

    from crashhub.dump._describe import facts_of  # noqa: PLC0415
    with open_dump(path) as d:
        log = layout = None
        problem = None
        try:
            kl = read_log(d)
            log, layout = kl.text, kl.layout
            if kl.corrupted:
                problem = f"kernel log partly unreadable: {kl.reason}"
        except DumpError as e:
            problem = f"kernel log not read: {e}"
        f = facts_of(d, str(path), log, layout)
    if problem:
        f = dataclasses.replace(f, warnings=(*f.warnings, problem))
    return f


# The public face (as httpx does): the names other parts use, loaded on first use so that importing
# crashhub.dump stays cheap and free of import cycles; the modules behind it are private (_x).
if TYPE_CHECKING:
    from crashhub.dump._detect import unwrap as unwrap
    from crashhub.dump._source import wrapper_of as wrapper_of

_FACE: dict[str, str] = {
    "unwrap": "crashhub.dump._detect",
    "wrapper_of": "crashhub.dump._source",
}
__all__ += ["read_log", "unwrap", "wrapper_of"]


__getattr__ = face(globals(), _FACE)
