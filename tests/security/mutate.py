"""A Hypothesis strategy of inputs near a seed: byte flips, integer fields, cuts, splices, random bytes."""

from __future__ import annotations

import struct

from hypothesis import strategies as st

INTERESTING = (0, 1, 0x7F, 0x80, 0xFF, 0x7FFF_FFFF, 0xFFFF_FFFF, 2**63 - 1, 2**64 - 1, 4095, 4097, 1 << 40)


@st.composite
def near(draw: st.DrawFn, seeds: tuple[bytes, ...]) -> bytes:
    """A seed with a few mutations, or (sometimes) bytes of no seed at all."""
    if not seeds or draw(st.integers(0, 15)) == 0:
        return draw(st.binary(max_size=4096))
    buf = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 6))):
        if not buf:
            buf += draw(st.binary(min_size=1, max_size=64))
            continue
        # Headers matter most: half the mutations land in the first 512 bytes.
        hi = len(buf) - 1 if draw(st.booleans()) else min(len(buf) - 1, 511)
        at = draw(st.integers(0, hi))
        op = draw(st.sampled_from(("flip", "int", "cut", "insert", "delete", "dup")))
        if op == "flip":
            buf[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "int":
            width, fmt = draw(st.sampled_from(((4, "<I"), (8, "<Q"), (4, ">I"), (8, ">Q"), (2, "<H"))))
            v = draw(st.sampled_from(INTERESTING) | st.integers(0, 2**64 - 1)) % (1 << (8 * width))
            if at + width <= len(buf):
                struct.pack_into(fmt, buf, at, v)
        elif op == "cut":
            del buf[at:]
        elif op == "insert":
            buf[at:at] = draw(st.binary(min_size=1, max_size=64))
        elif op == "delete":
            del buf[at:at + draw(st.integers(1, 64))]
        else:
            n = draw(st.integers(1, 256))
            buf[at:at] = buf[at:at + n] * draw(st.integers(1, 8))
    return bytes(buf)
