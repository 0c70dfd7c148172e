"""Debian ``linux-image-*-dbg`` debs: ar members and data.tar.* read by libarchive.

A .deb (``deb(5)``) is an ar archive: ``debian-binary`` (``2.0``), ``control.tar.*``,
``data.tar{,.gz,.xz,.zst,.bz2}`` (zstd since dpkg 1.21.18).  libarchive reads the ar
archive; the data member's blocks feed a second libarchive reader, so the 5-6 GB
installed tree of a -dbg package streams through without being held or unpacked whole.
Its vmlinux is ``usr/lib/debug/boot/vmlinux-<release>``; the modules are unstripped
``.ko`` under ``usr/lib/debug/lib/modules/<release>/``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from crashhub.debuginfo._archive import BLOCK, BlockStream, Budget, Kept, Limits, entry_name, read_stream
from crashhub.errors import DebuginfoError

AR_MAGIC = b"!<arch>\n"
MAX_CONTROL = 16 << 20


@dataclass(frozen=True, slots=True)
class DebInfo:
    package: str
    version: str
    architecture: str


def _control_fields(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text.splitlines():
        if line[:1] in (" ", "\t") or ":" not in line:
            continue
        k, v = line.split(":", 1)
        out[k.strip()] = v.strip()
    return out


def _read_control(blocks: BlockStream, src: str) -> DebInfo | None:
    import libarchive  # noqa: PLC0415  (the optional 'analyze' extra)

    try:
        with libarchive.stream_reader(blocks, block_size=BLOCK) as inner:
            for entry in inner:
                name = entry_name(entry).lstrip("./")
                if name != "control":
                    continue
                data = b""
                for b in entry.get_blocks():
                    data += bytes(b)
                    if len(data) > MAX_CONTROL:
                        raise DebuginfoError("control file over 16 MiB", src)
                if blocks.error is not None:
                    raise DebuginfoError(f"cannot read control.tar: {blocks.error}", src)
                f = _control_fields(data.decode("utf-8", "replace"))
                return DebInfo(f.get("Package", "?"), f.get("Version", "?"), f.get("Architecture", "?"))
    except DebuginfoError:
        raise
    except Exception as e:
        if type(e).__name__ != "ArchiveError":
            raise
        raise DebuginfoError(f"cannot read control.tar: {e} (truncated or corrupt?)", src) from e
    return None


def extract(path: Path, dest: Path, limits: Limits) -> tuple[DebInfo | None, list[Kept]]:
    """Extract the vmlinux and module debug files of the .deb at ``path`` under ``dest``."""
    import libarchive  # noqa: PLC0415  (the optional 'analyze' extra)

    src = str(path)
    with path.open("rb") as f:
        if f.read(8) != AR_MAGIC:
            raise DebuginfoError("not a .deb (no ar magic '!<arch>')", src, 0)
    meta: DebInfo | None = None
    kept: list[Kept] | None = None
    seen: list[str] = []
    try:
        with libarchive.file_reader(src, format_name="ar", filter_name="none", block_size=BLOCK) as outer:
            for member in outer:
                name = entry_name(member).rstrip("/")
                seen.append(name)
                if name.startswith("control.tar"):
                    meta = _read_control(BlockStream(member.get_blocks(BLOCK)), src)
                elif name.startswith("data.tar"):
                    stream = BlockStream(member.get_blocks(BLOCK))
                    kept = read_stream(stream, dest, Budget(limits, src, stream))
    except DebuginfoError:
        raise
    except Exception as e:
        if type(e).__name__ != "ArchiveError":
            raise
        raise DebuginfoError(f"cannot read the .deb: {e} (truncated or corrupt?)", src) from e
    if kept is None:
        raise DebuginfoError(f"no data.tar member in the .deb (members: {', '.join(seen) or 'none'})", src)
    return meta, kept
