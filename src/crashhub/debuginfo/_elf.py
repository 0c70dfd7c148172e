"""Just enough ELF to identify a debuginfo file: its GNU build-id and kernel release.

Every count and offset read from the file is bounded, since imports are untrusted.
The build-id is the ``NT_GNU_BUILD_ID`` (type 3, name ``GNU``) note, normally in
``.note.gnu.build-id``; the kernel's release is the word after ``Linux version `` in
vmlinux's ``linux_banner`` (``.rodata``), a module's comes from ``vermagic=`` in
``.modinfo``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from crashhub.errors import DebuginfoError

ELF_MAGIC = b"\x7fELF"
SHT_NOTE = 7
SHT_NOBITS = 8
NT_GNU_BUILD_ID = 3
MAX_SECTIONS = 65536
MAX_NOTE_SECTION = 1 << 20
MAX_MODINFO = 1 << 20
# A vmlinux's .rodata is ~10-30 MiB; the banner sits early in it, but read up to this much.
MAX_RODATA_SCAN = 256 << 20


@dataclass(frozen=True, slots=True)
class Section:
    name: str
    type: int
    offset: int
    size: int


@dataclass(frozen=True, slots=True)
class ElfInfo:
    path: str
    elf_class: int  # 1 = 32-bit, 2 = 64-bit
    machine: int
    etype: int  # 1 REL (a .ko), 2 EXEC (vmlinux), 3 DYN
    sections: tuple[Section, ...]
    has_debug_info: bool

    def section(self, name: str) -> Section | None:
        for s in self.sections:
            if s.name == name:
                return s
        return None


def is_elf(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            return f.read(4) == ELF_MAGIC
    except OSError:
        return False


def _read_at(f: BinaryIO, offset: int, size: int, file_size: int, path: str) -> bytes:
    if offset < 0 or size < 0 or offset + size > file_size:
        raise DebuginfoError(f"ELF structure of {size} bytes at {offset:#x} lies past the end "
                             f"of the file ({file_size} bytes)", path, offset)
    f.seek(offset)
    data = f.read(size)
    if len(data) != size:
        raise DebuginfoError("short read inside the ELF file", path, offset)
    return data


def read_elf(path: Path) -> ElfInfo:
    """Parse the ELF and section headers of ``path`` (raises DebuginfoError)."""
    p = str(path)
    try:
        f = path.open("rb")
    except OSError as e:
        raise DebuginfoError(f"cannot open: {e.strerror}", p) from e
    with f:
        file_size = path.stat().st_size
        ident = _read_at(f, 0, 16, file_size, p) if file_size >= 16 else b""
        if ident[:4] != ELF_MAGIC:
            raise DebuginfoError("not an ELF file (no \\x7fELF magic)", p, 0)
        elf_class, data_enc = ident[4], ident[5]
        if elf_class not in (1, 2) or data_enc not in (1, 2):
            raise DebuginfoError(f"bad ELF class {elf_class} or encoding {data_enc}", p, 4)
        en = "<" if data_enc == 1 else ">"
        if elf_class == 2:
            hdr = _read_at(f, 0, 64, file_size, p)
            etype, machine = struct.unpack_from(en + "HH", hdr, 16)
            shoff = struct.unpack_from(en + "Q", hdr, 40)[0]
            shentsize, shnum, shstrndx = struct.unpack_from(en + "HHH", hdr, 58)
            want_ent = 64
        else:
            hdr = _read_at(f, 0, 52, file_size, p)
            etype, machine = struct.unpack_from(en + "HH", hdr, 16)
            shoff = struct.unpack_from(en + "I", hdr, 32)[0]
            shentsize, shnum, shstrndx = struct.unpack_from(en + "HHH", hdr, 46)
            want_ent = 40
        if shoff == 0 or shnum == 0:
            return ElfInfo(p, elf_class, machine, etype, (), False)
        if shentsize != want_ent or shnum > MAX_SECTIONS:
            raise DebuginfoError(f"bad section header table (entsize {shentsize}, count {shnum})", p, shoff)
        table = _read_at(f, shoff, shentsize * shnum, file_size, p)
        raw: list[tuple[int, int, int, int]] = []
        for i in range(shnum):
            o = i * shentsize
            if elf_class == 2:
                name, stype, _fl, _addr, off, size = struct.unpack_from(en + "IIQQQQ", table, o)
            else:
                name, stype, _fl, _addr, off, size = struct.unpack_from(en + "IIIIII", table, o)
            raw.append((name, stype, off, size))
        names = b""
        if shstrndx < shnum:
            _n, _t, off, size = raw[shstrndx]
            names = _read_at(f, off, min(size, 1 << 20), file_size, p)
        sections: list[Section] = []
        for name_off, stype, off, size in raw:
            end = names.find(b"\0", name_off) if name_off < len(names) else -1
            name = names[name_off:end].decode("ascii", "replace") if end >= 0 else ""
            sections.append(Section(name, stype, off, size))
        has_debug = any(s.name == ".debug_info" and s.type != SHT_NOBITS and s.size > 0 for s in sections)
        return ElfInfo(p, elf_class, machine, etype, tuple(sections), has_debug)


def parse_build_id_note(data: bytes, endian: str = "<") -> str | None:
    """The hex build-id from a run of ELF notes, or None."""
    pos = 0
    while pos + 12 <= len(data):
        namesz, descsz, ntype = struct.unpack_from(endian + "III", data, pos)
        pos += 12
        name_end = pos + ((namesz + 3) & ~3)
        desc_end = name_end + ((descsz + 3) & ~3)
        if desc_end > len(data) or namesz > 256 or descsz > 1024:
            return None
        if ntype == NT_GNU_BUILD_ID and data[pos:pos + namesz].rstrip(b"\0") == b"GNU" and descsz >= 8:
            return data[name_end:name_end + descsz].hex()
        pos = desc_end
    return None


def build_id(path: Path, info: ElfInfo | None = None) -> str | None:
    """The GNU build-id of the ELF file at ``path``, lower-case hex, or None when it has none."""
    info = info or read_elf(path)
    file_size = path.stat().st_size
    notes = [s for s in info.sections if s.type == SHT_NOTE]
    notes.sort(key=lambda s: s.name != ".note.gnu.build-id")
    with path.open("rb") as f:
        for s in notes:
            data = _read_at(f, s.offset, min(s.size, MAX_NOTE_SECTION), file_size, info.path)
            bid = parse_build_id_note(data)
            if bid:
                return bid
    return None


def _release_from_banner(chunk: bytes) -> str | None:
    i = chunk.find(b"Linux version ")
    while i >= 0:
        parts = chunk[i + 14:i + 14 + 80].split(b" ", 1)
        word = parts[0]
        # The banner is "Linux version <release> (<builder>) ..."; a format string such as
        # "Linux version %s" is skipped, and a word cut by the chunk's end is read again.
        if len(parts) == 2 and word and b"%" not in word and all(33 <= c < 127 for c in word):
            return word.decode("ascii")
        i = chunk.find(b"Linux version ", i + 1)
    return None


def modinfo(path: Path, info: ElfInfo | None = None) -> dict[str, str]:
    """A module's ``.modinfo`` (``name``, ``vermagic``, ...); empty for a file without one."""
    info = info or read_elf(path)
    sec = info.section(".modinfo")
    if sec is None or sec.type == SHT_NOBITS:
        return {}
    with path.open("rb") as f:
        data = _read_at(f, sec.offset, min(sec.size, MAX_MODINFO), path.stat().st_size, info.path)
    out: dict[str, str] = {}
    for item in data.split(b"\0"):
        key, eq, val = item.partition(b"=")
        if eq and key:
            out.setdefault(key.decode("ascii", "replace"), val.decode("utf-8", "replace"))
    return out


def kernel_release(path: Path, info: ElfInfo | None = None) -> str | None:
    """The release a vmlinux (banner) or module (vermagic) was built for, or None."""
    info = info or read_elf(path)
    file_size = path.stat().st_size
    with path.open("rb") as f:
        modinfo = info.section(".modinfo")
        if modinfo is not None and modinfo.type != SHT_NOBITS:
            data = _read_at(f, modinfo.offset, min(modinfo.size, MAX_MODINFO), file_size, info.path)
            for item in data.split(b"\0"):
                if item.startswith(b"vermagic="):
                    return item[9:].split(b" ", 1)[0].decode("ascii", "replace") or None
            return None
        rodata = info.section(".rodata")
        if rodata is None or rodata.type == SHT_NOBITS or not 0 <= rodata.offset < file_size:
            return None  # an offset past the end (or past what seek takes) holds no banner
        f.seek(rodata.offset)
        left = min(rodata.size, MAX_RODATA_SCAN, max(0, file_size - rodata.offset))
        tail = b""
        while left > 0:
            chunk = f.read(min(left, 4 << 20))
            if not chunk:
                break
            left -= len(chunk)
            buf = tail + chunk
            rel = _release_from_banner(buf)
            if rel is not None:
                return rel
            tail = buf[-120:]
    return None
