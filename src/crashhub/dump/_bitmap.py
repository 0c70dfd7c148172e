"""A kdump bitmap read in place: 4 KiB chunks on demand, plus a running count of set bits.

A kdump file's two bitmaps cost one bit per page frame each: 32 KiB for a 1 GiB guest, but 128 MiB
each for a 4 TiB machine.  Reading them whole would break the memory bound, so only the rank table
(one count per 32768 pfns) is kept, built in one streaming pass, and chunks are fetched as needed.

Plain lists and dicts, not ``array``/``OrderedDict``: importing ``array`` registers it with
``collections.abc`` and pulls in ``collections``, over 1 ms of ``crashhub dump dmesg``'s start.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator

    from crashhub.dump._source import Source

CHUNK = 4096  # bytes of bitmap per rank entry: 32768 pfns
STREAM = 1 << 20  # bytes read at a time when counting


class Bitmap:
    def __init__(self, source: Source, offset: int, length: int) -> None:
        self.source = source
        self.offset = offset
        self.length = length  # bytes
        self._cache: dict[int, bytes] = {}  # insertion order is age: the oldest goes first
        self._ranks: list[int] | None = None
        self._total = 0

    def _chunk(self, c: int) -> bytes:
        data = self._cache.get(c)
        if data is None:
            start = c * CHUNK
            data = self.source.pread(self.offset + start, min(CHUNK, self.length - start))
            self._cache[c] = data
            if len(self._cache) > 64:
                del self._cache[next(iter(self._cache))]
        return data

    def bit(self, pfn: int) -> bool:
        i = pfn >> 3
        if pfn < 0 or i >= self.length:
            return False
        return bool(self._chunk(i // CHUNK)[i % CHUNK] >> (pfn & 7) & 1)

    def chunks(self) -> Iterator[tuple[int, bytes]]:
        """(chunk index, bytes) over the whole bitmap, read in large blocks."""
        for start in range(0, self.length, STREAM):
            block = self.source.pread(self.offset + start, min(STREAM, self.length - start))
            for i in range(0, len(block), CHUNK):
                yield (start + i) // CHUNK, block[i:i + CHUNK]

    def _build(self) -> list[int]:
        ranks: list[int] = []
        total = 0
        for _c, data in self.chunks():
            ranks.append(total)
            total += int.from_bytes(data, "little").bit_count()
        self._total = total
        self._ranks = ranks
        return ranks

    def rank(self, pfn: int) -> int:
        """Set bits below ``pfn``."""
        ranks = self._ranks if self._ranks is not None else self._build()
        if pfn <= 0:
            return 0
        i = pfn >> 3
        c = i // CHUNK
        if c >= len(ranks):
            return self._total
        data = self._chunk(c)
        rel = i - c * CHUNK
        n = ranks[c] + int.from_bytes(data[:rel], "little").bit_count()
        if rel < len(data):
            n += (data[rel] & ((1 << (pfn & 7)) - 1)).bit_count()
        return n

    def count(self) -> int:
        if self._ranks is None:
            self._build()
        return self._total

    def set_bits(self, lo: int, hi: int) -> Iterator[int]:
        """The set pfns in [lo, hi), in order."""
        for c, data in self.chunks():
            base = c * CHUNK * 8
            if base + len(data) * 8 <= lo or base >= hi:
                continue
            for j, byte in enumerate(data):
                if byte:
                    for b in range(8):
                        pfn = base + j * 8 + b
                        if byte >> b & 1 and lo <= pfn < hi:
                            yield pfn
