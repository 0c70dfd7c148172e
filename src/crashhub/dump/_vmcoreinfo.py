"""VMCOREINFO: the kernel's ``KEY=value`` description of itself, written at boot and at crash time.

Formats (``include/linux/vmcore_info.h``): ``SYMBOL(x)=%lx`` without ``0x``; ``SIZE``/``OFFSET``/``LENGTH``
``=%lu``; ``NUMBER(x)=%ld`` (some are written as hex with ``0x``, e.g. ``NUMBER(VMALLOC_START)``, so they
go through ``int(v, 0)``); ``KERNELOFFSET=%lx``; ``CRASHTIME=%lld`` appended last at crash time.
"""

from __future__ import annotations

# No re here: this module loads on every `crashhub dump dmesg`, and re costs ~2 ms of its start-up.
from crashhub.kernel import kernel_version

_HEX = frozenset("0123456789abcdef")

# Text bound: the kernel reserves one page for it (VMCOREINFO_BYTES); allow larger pages.
MAX_VMCOREINFO = 1 << 16

# Stable kernels whose BUILD-ID line is garbage: the note was read before it was filled in
# (drgn libdrgn/linux_kernel.c, "vmcoreinfo BUILD-ID is broken" list).  (major, minor, first, last).
_BAD_BUILD_ID: tuple[tuple[int, int, int, int], ...] = (
    (6, 11, 3, 9),
    (6, 10, 14, 1 << 30),
    (6, 6, 55, 62),
    (6, 1, 113, 118),
    (5, 15, 168, 1 << 30),
)

def build_id_is_broken(release: str) -> bool:
    """True when ``release`` is a stable kernel known to write a wrong VMCOREINFO BUILD-ID."""
    v = kernel_version(release)
    if v is None:
        return False
    major, minor, sub = v  # a release without a sublevel reads as .0, which no range holds
    return any(major == a and minor == b and lo <= sub <= hi for a, b, lo, hi in _BAD_BUILD_ID)


def _int(v: str, base: int) -> int | None:
    try:
        return int(v, base)
    except ValueError:
        return None


class VmcoreInfo:
    """Parsed VMCOREINFO.  Lookups return ``None`` for a missing or unparsable key."""

    __slots__ = ("lengths", "numbers", "offsets", "raw", "sizes", "symbols")

    def __init__(self, raw: dict[str, str] | None = None, *, symbols: dict[str, int] | None = None,
                 sizes: dict[str, int] | None = None, offsets: dict[str, int] | None = None,
                 lengths: dict[str, int] | None = None, numbers: dict[str, int] | None = None) -> None:
        self.raw = raw or {}
        self.symbols = symbols or {}
        self.sizes = sizes or {}
        self.offsets = offsets or {}
        self.lengths = lengths or {}
        self.numbers = numbers or {}

    @property
    def osrelease(self) -> str | None:
        return self.raw.get("OSRELEASE")

    @property
    def page_size(self) -> int | None:
        v = self.raw.get("PAGESIZE")
        return _int(v, 10) if v is not None else None

    @property
    def build_id(self) -> str | None:
        """The kernel's GNU build-id as lowercase hex, or None (absent, malformed, or a known-bad kernel)."""
        v = self.raw.get("BUILD-ID", "").strip().lower()
        if len(v) != 40 or not _HEX.issuperset(v):
            return None
        rel = self.osrelease
        if rel is not None and build_id_is_broken(rel):
            return None
        return v

    @property
    def kernel_offset(self) -> int | None:
        v = self.raw.get("KERNELOFFSET")
        return _int(v, 16) if v is not None else None

    @property
    def crash_time(self) -> int | None:
        v = self.raw.get("CRASHTIME")
        return _int(v, 10) if v is not None else None

    def symbol(self, name: str) -> int | None:
        return self.symbols.get(name)

    def size(self, name: str) -> int | None:
        return self.sizes.get(name)

    def offset(self, name: str) -> int | None:
        return self.offsets.get(name)

    def number(self, name: str) -> int | None:
        return self.numbers.get(name)


def parse(text: bytes | str) -> VmcoreInfo:
    """Parse VMCOREINFO text.  Unknown lines are kept in ``raw``; a bad value is skipped, not fatal."""
    if isinstance(text, bytes):
        text = text[:MAX_VMCOREINFO].split(b"\0", 1)[0].decode("ascii", "replace")
    raw: dict[str, str] = {}
    tables: dict[str, dict[str, int]] = {k: {} for k in ("SYMBOL", "SIZE", "OFFSET", "LENGTH", "NUMBER")}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if not sep or not key:
            continue
        raw[key] = value
        if key[-1] != ")":
            continue
        kind, paren, name = key[:-1].partition("(")  # "SYMBOL(init_uts_ns)" -> SYMBOL, init_uts_ns
        table = tables.get(kind)
        if table is None or not paren or not name:
            continue
        # SYMBOL is %lx without 0x; NUMBER may be decimal or 0x-hex; the rest are %lu.
        n = _int(value, 16) if kind == "SYMBOL" else _int(value, 0) if kind == "NUMBER" else _int(value, 10)
        if n is None and kind == "NUMBER":
            n = _int(value, 10)  # int("010", 0) fails: leading zeros in a decimal %ld
        if n is not None:
            table[name] = n
    return VmcoreInfo(raw, symbols=tables["SYMBOL"], sizes=tables["SIZE"], offsets=tables["OFFSET"],
                      lengths=tables["LENGTH"], numbers=tables["NUMBER"])
